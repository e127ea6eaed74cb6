import { ExhibitError } from '@exhibit/core';

/** Azure allows 50,000 blocks per blob; block ids are at most 64 bytes before base64. */
export const MAX_BLOCKS_PER_BLOB = 50_000;
const INDEX_DIGITS = 6;
const DIGEST_HEX_CHARS = 48;

/**
 * Deterministic block id from the block's index and the SHA-256 of its bytes.
 * The index keeps ids ordered and unique; the digest means a block left
 * behind by an earlier interrupted upload is reused only if it holds exactly
 * these bytes, never because a different file once had the same name.
 * Every id has the same length, as Azure requires within one blob.
 */
export function blockId(index: number, blockSha256Hex: string): string {
  if (!Number.isInteger(index) || index < 0 || index >= MAX_BLOCKS_PER_BLOB) {
    throw new ExhibitError('invalid-argument', `block index out of range: ${index}`);
  }
  if (!/^[0-9a-f]{64}$/.test(blockSha256Hex)) throw new ExhibitError('invalid-argument', 'block digest must be SHA-256 hex');
  const raw = `${String(index).padStart(INDEX_DIGITS, '0')}-${blockSha256Hex.slice(0, DIGEST_HEX_CHARS)}`;
  return Buffer.from(raw, 'ascii').toString('base64');
}

/** The index encoded in one of our block ids, or null for ids we did not write. */
export function blockIndexOf(id: string): number | null {
  const raw = Buffer.from(id, 'base64').toString('ascii');
  const m = /^(\d{6})-[0-9a-f]{48}$/.exec(raw);
  return m ? Number(m[1]) : null;
}
