import { createHash, type Hash } from 'node:crypto';
import { Transform, type TransformCallback } from 'node:stream';
import type { Hashes } from '@exhibit/core';

/** MD5, SHA-1 and SHA-256 over one pass of the bytes. */
export class MultiHasher {
  private readonly md5: Hash = createHash('md5');
  private readonly sha1: Hash = createHash('sha1');
  private readonly sha256: Hash = createHash('sha256');
  bytes = 0;

  update(chunk: Buffer): void {
    this.md5.update(chunk);
    this.sha1.update(chunk);
    this.sha256.update(chunk);
    this.bytes += chunk.length;
  }

  digest(): Hashes {
    return { md5: this.md5.digest('hex'), sha1: this.sha1.digest('hex'), sha256: this.sha256.digest('hex') };
  }
}

/** A pass-through stream that hashes what flows through it. */
export class HashingTransform extends Transform {
  readonly hasher = new MultiHasher();

  override _transform(chunk: Buffer, _enc: BufferEncoding, callback: TransformCallback): void {
    this.hasher.update(chunk);
    callback(null, chunk);
  }
}
