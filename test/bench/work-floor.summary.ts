/**
 * The work floor's arithmetic (work-floor.reference.ts measures the costs):
 * the CPU the work no implementation can skip takes, from the measured CPU
 * per MB hashed and per photo thumbnailed, and the least wall time that CPU
 * could take on this machine's cores. Pure, for unit tests.
 */

/** What the work costs on this machine, measured in the same run. */
export interface WorkCosts {
  /** CPU ms to hash one MB (10^6 bytes) with MD5, SHA-1 and SHA-256 together. */
  hashCpuMsPerMB: number;
  /** Mean CPU ms (all threads) of one photo's thumbnail with the product's thumbnailer. */
  thumbnailCpuMsPerPhoto: number;
  photosSampled: number;
}

/** The work itself: every byte hashed (the evidence, then each file in it) and every photo thumbnailed. */
export interface FloorWork {
  hashedBytes: number;
  photos: number;
}

export function workFloorCpuMs(costs: WorkCosts, work: FloorWork): number {
  for (const [name, v] of Object.entries({ ...costs, ...work })) {
    if (!(v >= 0) || !Number.isFinite(v)) throw new Error(`work floor: ${name} must be a finite number ≥ 0, got ${v}`);
  }
  return costs.hashCpuMsPerMB * (work.hashedBytes / 1e6) + costs.thumbnailCpuMsPerPhoto * work.photos;
}

/** The least wall time `cpuMs` of perfectly parallel work could take on `cores` cores. */
export function floorWallMs(cpuMs: number, cores: number): number {
  if (!Number.isInteger(cores) || cores < 1) throw new Error(`cores must be a whole number ≥ 1, got ${cores}`);
  return cpuMs / cores;
}
