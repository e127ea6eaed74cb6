import { ExhibitError } from '@exhibit/core';

/**
 * Exact PDQ search by multi-index hashing (migration 0085, docs/pdq.md): the
 * SQL condition that narrows the rows to compare, for distances where it pays.
 *
 * 16 chunks of 16 bits: a hash within `r` bits of the query has a chunk within
 * floor(r / 16) bits of the query's chunk (pigeonhole). Up to 31 bits that is
 * 1 bit: the query's 16 chunk keys and their 16 one-bit neighbours, 272 GIN
 * look-ups, about 4,000 candidates per 1,000,000 random hashes. At 2 bits per
 * chunk (32-47) it would be 2,192 look-ups and about 33,000 candidates, slower
 * than scanning (measured, docs/benchmarks.md), so larger distances scan. The
 * candidates' distances are always computed exactly; the condition only
 * leaves out rows that cannot be within the distance.
 */

/** The largest distance the index answers; beyond it the search scans (still exact). */
export const PDQ_MIH_MAX_DISTANCE = 31;

const CHUNK_BITS = 16;
/** XOR masks of the low 16 bits for chunks within 1 bit: 0, then each single bit. */
const ONE_BIT_MASKS = [0, ...Array.from({ length: CHUNK_BITS }, (_, i) => 1 << i)];

/** How a search within `maxDistance` bits finds its rows. */
export function pdqSearchMethod(maxDistance: number): 'mih' | 'scan' {
  return maxDistance <= PDQ_MIH_MAX_DISTANCE ? 'mih' : 'scan';
}

/**
 * The condition that a row's hash (`column`) may be within `maxDistance` of
 * `query` (an SQL expression of type bit(256)): with 'mih', the look-up in the
 * GIN index on pdq_mih_chunks(column); with 'scan', every row (`true`).
 * Necessary, not sufficient: the caller still tests bit_count(column # query).
 */
export function pdqCandidateCondition(method: 'mih' | 'scan', column: string, query: string, maxDistance: number): string {
  if (method === 'scan') return 'true';
  if (pdqSearchMethod(maxDistance) === 'scan') {
    throw new ExhibitError('invalid-argument', `the PDQ index answers distances up to ${PDQ_MIH_MAX_DISTANCE} bits, not ${maxDistance}`);
  }
  const masks = Math.floor(maxDistance / CHUNK_BITS) === 0 ? [0] : ONE_BIT_MASKS;
  return `pdq_mih_chunks(${column}) && pdq_mih_probe(${query}, '{${masks.join(',')}}'::integer[])`;
}
