import os from 'node:os';
import { MEDIA_LIMITS } from '../media-limits.js';
import { ToolSlots } from '../tools/tool-slots.js';

/**
 * Images decoded at once on a machine with `cores` cores: one per core, at
 * most MEDIA_LIMITS.maxConcurrentImageDecodes, at least one. A decode is CPU
 * work (libvips on the libuv pool, the PDQ hasher on the event loop), so one
 * beyond the core count only waits for a core while its pixels are held.
 */
export function imageDecodeSlotsFor(cores: number): number {
  if (!Number.isFinite(cores) || cores < 1) return 1;
  return Math.min(MEDIA_LIMITS.maxConcurrentImageDecodes, Math.floor(cores));
}

/** Process-wide, like the memory it bounds: every thumbnailer in the process shares these slots. */
export const imageDecodeSlots = new ToolSlots(imageDecodeSlotsFor(os.availableParallelism()));
