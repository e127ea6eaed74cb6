import { startHttpServer } from '@exhibit/api';
import { createReviewAppSite } from '../review-app.site.js';
import { newInvocation, type LocalDef, type LocalServing } from './local-trigger.js';

/** The API and the review app (same origin): node:http on config.api, answering 503 while the embedded storage is down. */
export async function serveHttp(fn: LocalDef<'http'>, s: LocalServing): Promise<void> {
  const { app, config, logger } = s;
  const server = await startHttpServer(
    {
      routes: app.api.routes,
      handle: async (req, opts) => s.storageDown() ?? fn.handler(app, req, { ...newInvocation(logger), ...(opts?.abortSignal ? { abortSignal: opts.abortSignal } : {}) }),
    },
    { host: config.api.host, port: config.api.port, logger: logger.child({ component: 'http' }), site: createReviewAppSite(config) },
  );
  s.first.push(() => server.close());
}
