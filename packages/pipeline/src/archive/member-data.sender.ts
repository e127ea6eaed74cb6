import type { Readable } from 'node:stream';
import { asArchiveError } from './archive-reader.js';
import { ARCHIVE_CHUNK_BYTES, toWireError } from './archive.tasks.js';
import type { ThreadLink } from './thread-link.js';

/**
 * In an archive parser thread: hands a member's bytes to the main thread in
 * chunks of about ARCHIVE_CHUNK_BYTES, each once the main thread asked for
 * more; the member stream is read only as far as that, so inflating or
 * reading ahead stops while the main thread is busy. A stream error (bad
 * CRC, bad deflate data, a member cut short) is sent as the member's
 * 'data-error', typed. Returns false when told to end the whole task.
 */
export async function sendMemberData(link: ThreadLink, member: Readable, label: string): Promise<boolean> {
  const iterator = member[Symbol.asyncIterator]() as AsyncIterator<Buffer>;
  const parts: Buffer[] = [];
  let held = 0;
  try {
    for (;;) {
      let last = false;
      try {
        const next = await iterator.next();
        if (next.done) last = true;
        else {
          parts.push(next.value);
          held += next.value.length;
        }
      } catch (err) {
        return (await link.ask({ t: 'data-error', error: toWireError(asArchiveError(err, label)) })).op !== 'end';
      }
      if (!last && held < ARCHIVE_CHUNK_BYTES) continue;
      const joined = Buffer.concat(parts, held);
      // A fresh buffer of its own, moved to the main thread rather than copied.
      const bytes = joined.buffer.slice(joined.byteOffset, joined.byteOffset + joined.byteLength) as ArrayBuffer;
      parts.length = 0;
      held = 0;
      const answer = await link.ask({ t: 'chunk', bytes, last });
      if (answer.op === 'end') return false;
      if (last || answer.op !== 'more') return true;
    }
  } finally {
    if (!member.destroyed) member.destroy();
  }
}
