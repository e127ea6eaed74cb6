import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { contentDisposition, ExactLengthStream, VerifyingStream } from './file-delivery.js';

const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');

/** Runs chunks through a VerifyingStream: what came out before it ended, and the error it ended with. */
async function run(chunks: Buffer[], expected: { length: number; sha256: string }) {
  const out: Buffer[] = [];
  const stream = Readable.from(chunks).pipe(new VerifyingStream(expected));
  try {
    for await (const c of stream) out.push(c as Buffer);
    return { out: Buffer.concat(out), error: null as Error | null };
  } catch (err) {
    return { out: Buffer.concat(out), error: err as Error };
  }
}

describe('VerifyingStream', () => {
  const chunks = [Buffer.from('first chunk '), Buffer.from('second chunk '), Buffer.from('last chunk')];
  const whole = Buffer.concat(chunks);

  it('passes every byte through when length and SHA-256 match', async () => {
    const { out, error } = await run(chunks, { length: whole.length, sha256: sha256(whole) });
    expect(error).toBeNull();
    expect(out.equals(whole)).toBe(true);
  });

  it('withholds the last chunk and fails when the SHA-256 differs: what came out is never the whole file', async () => {
    const { out, error } = await run(chunks, { length: whole.length, sha256: sha256(Buffer.from('other')) });
    expect(error).toMatchObject({ code: 'hash-mismatch' });
    expect(out.length).toBeLessThan(whole.length);
    expect(out.equals(whole.subarray(0, out.length))).toBe(true);
  });

  it('fails on the first byte beyond the recorded length, and on a short read', async () => {
    const long = await run(chunks, { length: whole.length - 1, sha256: sha256(whole) });
    expect(long.error).toMatchObject({ code: 'hash-mismatch', details: { expectedBytes: whole.length - 1 } });
    expect(long.out.length).toBeLessThan(whole.length - 1);
    const short = await run(chunks, { length: whole.length + 1, sha256: sha256(whole) });
    expect(short.error).toMatchObject({ code: 'hash-mismatch', details: { seenBytes: whole.length } });
  });

  it('accepts an empty file with the empty hash', async () => {
    const { out, error } = await run([], { length: 0, sha256: sha256(Buffer.alloc(0)) });
    expect(error).toBeNull();
    expect(out.length).toBe(0);
  });
});

describe('contentDisposition', () => {
  it('keeps a plain name, and makes any other name safe in both forms', () => {
    expect(contentDisposition('IMG_0001.JPG')).toBe(`attachment; filename="IMG_0001.JPG"; filename*=UTF-8''IMG_0001.JPG`);
    const header = contentDisposition('Zoë "x";\r\n/..\\évil.jpg');
    expect(header).not.toMatch(/[\r\n]/);
    expect(header).toBe(`attachment; filename="Zo_ _x_____..__vil.jpg"; filename*=UTF-8''Zo%C3%AB%20%22x%22%3B___.._%C3%A9vil.jpg`);
  });

  it('names no file inline: a browser saving an unplayable response would use the evidence name (page.html)', () => {
    expect(contentDisposition('page.html', 'inline')).toBe('inline');
  });
});

describe('ExactLengthStream', () => {
  async function drain(chunks: Buffer[], length: number): Promise<{ out: Buffer; error: Error | null }> {
    const out: Buffer[] = [];
    try {
      for await (const c of Readable.from(chunks).pipe(new ExactLengthStream(length))) out.push(c as Buffer);
      return { out: Buffer.concat(out), error: null };
    } catch (err) {
      return { out: Buffer.concat(out), error: err as Error };
    }
  }

  it('passes a part of exactly the length asked for, and fails one a byte short or a byte long', async () => {
    const part = [Buffer.from('abc'), Buffer.from('def')];
    expect(await drain(part, 6)).toEqual({ out: Buffer.from('abcdef'), error: null });
    const short = await drain(part, 7);
    expect(short.error).toMatchObject({ code: 'hash-mismatch', details: { expectedBytes: 7, seenBytes: 6 } });
    const long = await drain(part, 5);
    expect(long.error).toMatchObject({ code: 'hash-mismatch', details: { expectedBytes: 5, seenBytes: 6 } });
    expect(long.out.length).toBeLessThanOrEqual(5);
  });
});
