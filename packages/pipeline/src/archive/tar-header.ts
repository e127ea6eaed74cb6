/**
 * The tar header checksum test, shared by format detection (main thread) and the tar parser thread's
 * old GNU sparse headers: a small module of its own so the parser thread does not load the readers.
 */

/** True when a 512-byte block is a tar header: its checksum (bytes 148..155 read as spaces) matches. */
export function isTarHeader(block: Uint8Array): boolean {
  if (block.length < 512) return false;
  let sum = 0;
  for (let i = 0; i < 512; i += 1) sum += i >= 148 && i < 156 ? 0x20 : block[i]!;
  const recorded = Number.parseInt(Buffer.from(block.subarray(148, 156)).toString('latin1').replace(/[\0 ]+/g, ' ').trim(), 8);
  // An all-zero block has the "empty" sum 256 and is an end marker, not a header.
  return sum !== 8 * 0x20 && recorded === sum;
}
