import { createHash } from 'node:crypto';
import { ExhibitError } from '@exhibit/core';

/**
 * SHA-256 Merkle root over member SHA-256 digests, in entry order, so one
 * value in the custody log commits to every extracted member and its place.
 *
 * Construction (domain-separated so a leaf can never pass for a node):
 *   leaf  = SHA-256(0x00 || digest bytes)
 *   node  = SHA-256(0x01 || left || right)
 *   a level with an odd count promotes its last node unchanged to the next level;
 *   the root of no members is SHA-256 of the empty string.
 * Result is lowercase hex.
 */
export function merkleRoot(hashes: readonly string[]): string {
  if (hashes.length === 0) return createHash('sha256').digest('hex');
  let level = hashes.map(leaf);
  while (level.length > 1) {
    const next: Buffer[] = [];
    for (let i = 0; i + 1 < level.length; i += 2) next.push(node(level[i]!, level[i + 1]!));
    if (level.length % 2 === 1) next.push(level[level.length - 1]!);
    level = next;
  }
  return level[0]!.toString('hex');
}

/**
 * The same root, computed incrementally in O(log n) memory, for archives too
 * large to hold every digest. Complete subtrees are kept as a stack of
 * (height, hash); the final right-to-left fold matches merkleRoot's promotion
 * of odd nodes (a level-by-level tree is the same as perfect subtrees of
 * decreasing size joined from the right).
 */
export class MerkleAccumulator {
  private readonly stack: Array<{ height: number; hash: Buffer }> = [];
  count = 0;

  push(sha256Hex: string): void {
    let current = { height: 0, hash: leaf(sha256Hex) };
    while (this.stack.length > 0 && this.stack[this.stack.length - 1]!.height === current.height) {
      const left = this.stack.pop()!;
      current = { height: current.height + 1, hash: node(left.hash, current.hash) };
    }
    this.stack.push(current);
    this.count += 1;
  }

  root(): string {
    if (this.stack.length === 0) return createHash('sha256').digest('hex');
    let acc = this.stack[this.stack.length - 1]!.hash;
    for (let i = this.stack.length - 2; i >= 0; i -= 1) acc = node(this.stack[i]!.hash, acc);
    return acc.toString('hex');
  }
}

function leaf(sha256Hex: string): Buffer {
  if (!/^[0-9a-f]{64}$/.test(sha256Hex)) throw new ExhibitError('invalid-argument', `not a lowercase SHA-256 hex digest: ${sha256Hex.slice(0, 80)}`);
  return createHash('sha256').update(Buffer.from([0x00])).update(Buffer.from(sha256Hex, 'hex')).digest();
}

function node(left: Buffer, right: Buffer): Buffer {
  return createHash('sha256').update(Buffer.from([0x01])).update(left).update(right).digest();
}
