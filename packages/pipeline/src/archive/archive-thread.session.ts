import type { Readable } from 'node:stream';
import { ExhibitError } from '@exhibit/core';
import type { DeadlineWorkerPool, ServeResult } from '@exhibit/core/deadline-pool';
import { memberChunkStream, ParserThreadSession, type SessionEvent as ThreadSessionEvent } from '../parser-thread.session.js';
import { fromWireError, type ArchiveRequest } from './archive.tasks.js';

type ServedRequest = Extract<ArchiveRequest, { t: 'read' | 'feed' }>;
/** What the thread hands over (entries, member state, chunks); reads and feeds are served directly. */
export type HandedRequest = Exclude<ArchiveRequest, ServedRequest>;
export type SessionEvent = ThreadSessionEvent<HandedRequest>;

export interface SessionOptions {
  label: string;
  /** The step budget: renewed by every entry or chunk handed over. */
  timeoutMs: number;
  abortSignal?: AbortSignal;
  /** Serves the thread's byte requests ('read', 'feed'); never renews the budget. */
  serveBytes(request: ServedRequest): Promise<ServeResult>;
}

/** One listing task's conversation with its archive parser thread (parser-thread.session.ts). */
export class ArchiveThreadSession extends ParserThreadSession<ArchiveRequest, ServedRequest> {
  constructor(pool: DeadlineWorkerPool, kind: string, input: unknown, options: SessionOptions) {
    super(pool, kind, input, {
      label: options.label,
      timeoutMs: options.timeoutMs,
      ...(options.abortSignal ? { abortSignal: options.abortSignal } : {}),
      served: ['read', 'feed'],
      serve: options.serveBytes,
    });
  }
}

/**
 * An opened member's bytes as the thread sends them, a chunk at a time.
 * Errors keep their type: the member's 'data-error' (corrupt-file with its
 * reason, ...), or the task's failure ('parse-timeout', 'parse-crashed', a
 * storage fault, 'aborted').
 */
export function memberStream(session: ArchiveThreadSession, label: string): Readable {
  return memberChunkStream(session, {
    failure: (event) => {
      if (event.t === 'data-error') return fromWireError(event.error);
      if (event.t === 'failed') return event.error;
      return new ExhibitError('corrupt-file', `${label}: the archive parser thread ended the member before its last byte`);
    },
  });
}

/** Why a member could not be opened: its own typed error, or the task's end. */
export function openFailure(event: SessionEvent, label: string): Error {
  if (event.t === 'data-error') return fromWireError(event.error);
  if (event.t === 'failed') return event.error;
  return new ExhibitError('corrupt-file', `${label}: the archive parser thread sent no data for this member`);
}
