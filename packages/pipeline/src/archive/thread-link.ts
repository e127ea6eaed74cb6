import type { TaskContext } from '@exhibit/core/worker-runtime';
import type { ArchiveAnswer, ArchiveRequest } from './archive.tasks.js';

/**
 * An archive parser thread's line to the main thread. Byte requests and
 * hand-overs may be in flight together (tar-stream reads ahead while an
 * entry waits for the unpack stage): a hand-over must never wait behind a
 * read of stalled storage. The pool keeps the task's clock stopped until the
 * last request in flight is answered.
 */
export class ThreadLink {
  constructor(private readonly context: TaskContext) {}

  /** ZIP: `length` bytes of the archive from `offset` (fewer only at its end). */
  async read(offset: number, length: number): Promise<Buffer> {
    return Buffer.from((await this.context.request({ t: 'read', offset, length } satisfies ArchiveRequest)) as ArrayBuffer);
  }

  /** TAR: the next piece of the archive's byte stream; null at its end. */
  async feed(): Promise<Buffer | null> {
    const bytes = (await this.context.request({ t: 'feed' } satisfies ArchiveRequest)) as ArrayBuffer | null;
    return bytes === null ? null : Buffer.from(bytes);
  }

  /** Hands over an entry, a member's state or a chunk (moved, not copied), and waits for what to do next. */
  ask(request: Exclude<ArchiveRequest, { t: 'read' | 'feed' }>): Promise<ArchiveAnswer> {
    return this.context.request(request, request.t === 'chunk' ? [request.bytes] : []) as Promise<ArchiveAnswer>;
  }
}
