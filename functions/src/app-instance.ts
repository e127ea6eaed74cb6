import { loadConfig, type ExhibitConfig, type Logger } from '@exhibit/core';
import { createApp, type App } from '@exhibit/runtime';
import { createFunctionsLogger } from './invocation-log.js';

/** What every trigger adapter needs: the app (built on first use), the configuration and the root logger. */
export interface FunctionsHost {
  getApp(): Promise<App>;
  /** The configuration alone, for what needs no app (the review app's files): no database on the way to a page. */
  getConfig(): ExhibitConfig;
  logger: Logger;
}

/**
 * Builds the app once per worker process, on the first invocation, so a cold
 * start that cannot reach PostgreSQL yet fails that invocation (retried by the
 * trigger) instead of the whole worker; a failed build is retried next time.
 */
export function lazyHost(logger: Logger, build: () => Promise<App>, config: () => ExhibitConfig): FunctionsHost {
  let pending: Promise<App> | undefined;
  return {
    logger,
    getConfig: config,
    getApp() {
      if (!pending) {
        pending = build().catch((err: unknown) => {
          pending = undefined;
          throw err;
        });
      }
      return pending;
    },
  };
}

/**
 * The production host: configuration from app settings (loadConfig), logs
 * through the invocation. Invalid settings do not stop registration: every
 * invocation then fails with the configuration error, where operators look.
 */
export function defaultHost(): FunctionsHost {
  let config: ExhibitConfig | undefined;
  let configError: unknown;
  try {
    config = loadConfig();
  } catch (err) {
    configError = err;
  }
  const logger = createFunctionsLogger(config?.logLevel ?? 'info');
  if (!config) logger.error({ err: configError }, 'invalid configuration: every invocation fails until the app settings are fixed');
  const settings = (): ExhibitConfig => {
    if (!config) throw configError;
    return config;
  };
  return lazyHost(logger, async () => createApp(settings(), { logger }), settings);
}
