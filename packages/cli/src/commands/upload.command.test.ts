import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LIMITS } from '@exhibit/core';
import type { HashList } from '../upload/hash-list.js';
import type { UploadOrder } from '../upload/image-segments.plan.js';
import { manifestsOf } from './upload.command.js';

/** A split set of one-byte segments: only their names and sizes matter to the manifest. */
async function splitSet(dir: string, base: string, count: number): Promise<UploadOrder> {
  const files: string[] = [];
  for (let i = 1; i <= count; i++) {
    const file = path.join(dir, `${base}.${String(i).padStart(3, '0')}`);
    await writeFile(file, 'x');
    files.push(file);
  }
  return { files: [...files.slice(1), files[0]!], segmentCounts: new Map([[files[0]!, count]]), laterSegments: new Map([[files[0]!, files.slice(1)]]), added: [] };
}

const hashesOf = (order: UploadOrder): HashList =>
  new Map(order.files.map((f, i) => [path.basename(f), { md5: i.toString(16).padStart(32, '0'), sha1: i.toString(16).padStart(40, '0'), sha256: i.toString(16).padStart(64, '0') }]));

describe('manifestsOf', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'exhibit-manifest-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('declares the manifest of a set that fits the limits', async () => {
    const order = await splitSet(dir, 'small', 3);
    const { manifests, warnings } = await manifestsOf(order, hashesOf(order), 'E1');
    expect(warnings).toEqual([]);
    expect(manifests.get(path.join(dir, 'small.001'))?.map((s) => s.fileName)).toEqual(['small.001', 'small.002', 'small.003']);
  });

  it(`regression: a set of more than maxDeclaredImageSegments (${LIMITS.maxDeclaredImageSegments}) segments is uploaded without a manifest, with a warning, not refused whole`, async () => {
    const order = await splitSet(dir, 'many', LIMITS.maxDeclaredImageSegments + 1);
    const { manifests, warnings } = await manifestsOf(order, new Map(), 'E1');
    expect(manifests.size).toBe(0);
    expect(warnings).toEqual([expect.stringContaining('no segment manifest declared for many.001: it has more than 1,000 segments')]);
    expect(warnings[0]).not.toContain('--hash-file');
  });

  it('regression: a manifest whose registration body is over the API body limit (400 segments with MD5, SHA-1, SHA-256) is not declared; the warning says the hashes are still checked', async () => {
    const order = await splitSet(dir, 'hashed', 400);
    const { manifests, warnings } = await manifestsOf(order, hashesOf(order), 'E1');
    expect(manifests.size).toBe(0);
    expect(warnings).toEqual([expect.stringMatching(/no segment manifest declared for hashed\.001: it takes .* more than the API's request limit of 64.0 KiB.*still checked against its --hash-file hashes/)]);
  });

  it('regression upload-custody-entry-over-limit-lost: a manifest of long names whose body fits but whose custody entry would not is not declared, with a warning', async () => {
    // 240-byte names: each segment adds about 270 bytes, so some counts fall between the two limits.
    const base = 'n'.repeat(236);
    let declinedForEntry = false;
    for (let count = 225; count <= 245 && !declinedForEntry; count++) {
      const order = await splitSet(dir, `${base}${count}`.slice(-236), count);
      const { manifests, warnings } = await manifestsOf(order, new Map(), 'E1');
      if (warnings.some((w) => /request limit/.test(w))) break;
      declinedForEntry = warnings.some((w) => /its custody entry could take .* more than the 63.0 KiB the API accepts/.test(w));
      if (!declinedForEntry) expect(manifests.size).toBe(1);
      for (const f of order.files) await rm(f);
    }
    expect(declinedForEntry).toBe(true);
  });
});
