import { createHash } from 'node:crypto';

export interface Digests {
  md5: string;
  sha1: string;
  sha256: string;
  size: number;
}

export function digests(bytes: Buffer): Digests {
  const hex = (algorithm: string) => createHash(algorithm).update(bytes).digest('hex');
  return { md5: hex('md5'), sha1: hex('sha1'), sha256: hex('sha256'), size: bytes.length };
}
