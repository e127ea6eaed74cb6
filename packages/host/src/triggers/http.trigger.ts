import { startHttpServer } from '@exhibit/api';
import { newInvocation, type LocalDef, type LocalServing } from './local-trigger.js';

/**
 * The API and the review app on one node:http server (same origin): the API under /api, answering 503
 * while the embedded storage is down; the `site` function (when the table has one) for everything else.
 */
export async function serveHttp(fn: LocalDef<'http'>, site: LocalDef<'site'> | undefined, s: LocalServing): Promise<void> {
  const { app, config, logger } = s;
  const server = await startHttpServer(
    {
      routes: app.api.routes,
      handle: async (req, opts) => s.storageDown() ?? fn.handler(app, req, { ...newInvocation(logger), ...(opts?.abortSignal ? { abortSignal: opts.abortSignal } : {}) }),
    },
    {
      host: config.api.host,
      port: config.api.port,
      logger: logger.child({ component: 'http' }),
      ...(site ? { site: (req) => site.handler(config, req, newInvocation(logger)) } : {}),
    },
  );
  s.first.push(() => server.close());
}
