import { randomUUID } from 'node:crypto';
import type { ExhibitConfig, Logger } from '@exhibit/core';
import type { App, FunctionDef, Invocation } from '@exhibit/runtime';
import type { ApiResponse } from '@exhibit/api';

/** A function of the table of one trigger kind. */
export type LocalDef<K extends FunctionDef['trigger']['kind']> = Extract<FunctionDef, { trigger: { kind: K } }>;

/**
 * What a local trigger gets to serve one function: the app, and where it
 * leaves what `stop` must undo. Each trigger kind has its own small file, as
 * in functions/src (the Azure side of the same table).
 */
export interface LocalServing {
  app: App;
  config: ExhibitConfig;
  logger: Logger;
  /** Message lock of the queue workers (tests shorten it). */
  lockMs: number;
  /** Undone first on stop, in order (the API server: no new requests while the rest shuts down). */
  first: Array<() => Promise<void>>;
  /** Undone on stop, all at once, after the timers are cleared and `first` is done. */
  stoppers: Array<() => Promise<void>>;
  timers: NodeJS.Timeout[];
  /** An answer for every API request while the embedded storage is down; null when it is up. */
  storageDown(): ApiResponse | null;
}

export const newInvocation = (logger: Logger): Invocation => ({ invocationId: randomUUID(), logger });
