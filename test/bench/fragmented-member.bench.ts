/**
 * A fragmented disk-image file: read through its run list every time, or
 * copied to derived/ once and read from there (issue 15, "measure and
 * choose"; figures and the decision in docs/disk-images.md, "In place"). Not a
 * test: prints figures, asserts nothing about time.
 *
 *   nice -n 15 npx tsx test/bench/fragmented-member.bench.ts -- [--mib 50] [--fragments 2,16,256] [--rounds 3]
 *
 * On its own Azurite: an "image" blob holds a member of `--mib` MiB in N runs,
 * out of order, with 64 KiB of other bytes between them (as a file system
 * leaves a file written into freed holes). Measured per N:
 *  - hash read: the runs read once, in file order, by ranged reads, into a
 *    SHA-256 (what unpack does for every member, whatever is kept after);
 *  - copy: the same read through storeMember (the member store's path for a
 *    member too large to buffer: staged, copied server-side to its content
 *    name, staging deleted), i.e. the hash read plus the write to derived/;
 *  - later read, run list: one full read (a download, an export) by ranged
 *    reads of the runs, N requests;
 *  - later read, copy: one full read of the derived blob, one request.
 * Requests are the HTTP requests the process sends to storage (node:http
 * counted), bytes read those the reads returned, bytes written those uploaded.
 */
import { createHash, randomBytes } from 'node:crypto';
import http from 'node:http';
import { mkdtemp, rm } from 'node:fs/promises';
import { syncBuiltinESMExports } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { parseArgs } from 'node:util';
import { azuriteConnectionString, derivedNames, LIMITS, type BlobRef, type BlobStore } from '@exhibit/core';
import { createAzureBlobStore } from '@exhibit/storage';
import { freePorts, startAzurite } from '../../packages/host/src/azurite.process.js';
import { storeMember } from '../../packages/pipeline/src/archive/member-store.js';

const { values } = parseArgs({
  args: process.argv.slice(2).filter((a) => a !== '--'),
  options: {
    mib: { type: 'string', default: '50' },
    fragments: { type: 'string', default: '2,16,256' },
    rounds: { type: 'string', default: '3' },
  },
});
const memberBytes = Number(values.mib) * 1024 * 1024;
const fragmentCounts = values.fragments.split(',').map(Number);
const rounds = Number(values.rounds);
const GAP = 64 * 1024;

/** HTTP requests this process sent, by method. */
const requests = { GET: 0, PUT: 0, other: 0 };
const originalRequest = http.request;
(http as { request: typeof http.request }).request = function (this: unknown, ...args: Parameters<typeof http.request>) {
  const req = originalRequest.apply(this, args);
  const method = req.method as 'GET' | 'PUT';
  if (method === 'GET' || method === 'PUT') requests[method] += 1;
  else requests.other += 1;
  return req;
} as typeof http.request;
syncBuiltinESMExports();

interface Run {
  fileOffset: number;
  imageOffset: number;
  length: number;
}

/** The member in `n` runs of (nearly) equal length, laid out in the image in a shuffled order, GAP bytes apart. */
function layout(n: number): { runs: Run[]; imageBytes: number } {
  const base = Math.floor(memberBytes / n);
  const runs: Run[] = Array.from({ length: n }, (_, i) => ({ fileOffset: i * base, imageOffset: 0, length: i === n - 1 ? memberBytes - i * base : base }));
  const order = runs.map((_, i) => i);
  for (let i = order.length - 1; i > 0; i--) {
    const j = (i * 7919 + 13) % (i + 1);
    [order[i], order[j]] = [order[j]!, order[i]!];
  }
  let at = GAP;
  for (const i of order) {
    runs[i]!.imageOffset = at;
    at += runs[i]!.length + GAP;
  }
  return { runs, imageBytes: at };
}

/** The member's bytes read through its run list: one ranged read a run, in file order. */
function runListStream(blobs: BlobStore, image: BlobRef, runs: Run[], counter: { bytes: number }): Readable {
  return Readable.from(
    (async function* () {
      for (const run of runs) {
        for await (const chunk of await blobs.openRead(image, { offset: run.imageOffset, count: run.length })) {
          counter.bytes += (chunk as Buffer).length;
          yield chunk as Buffer;
        }
      }
    })(),
  );
}

async function drainHash(stream: Readable, counter?: { bytes: number }): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of stream) {
    if (counter) counter.bytes += (chunk as Buffer).length;
    hash.update(chunk as Buffer);
  }
  return hash.digest('hex');
}

interface Figure {
  ms: number;
  requests: number;
  readMiB: number;
  writtenMiB: number;
}

async function measure(run: () => Promise<{ read: number; written: number }>): Promise<Figure> {
  const before = requests.GET + requests.PUT + requests.other;
  const t0 = performance.now();
  const { read, written } = await run();
  return { ms: performance.now() - t0, requests: requests.GET + requests.PUT + requests.other - before, readMiB: read / 2 ** 20, writtenMiB: written / 2 ** 20 };
}

const median = (xs: Figure[]): Figure => {
  const s = [...xs].sort((a, b) => a.ms - b.ms);
  return s[s.length >> 1]!;
};
const show = (f: Figure) => `${f.ms.toFixed(0).padStart(6)} ms ${String(f.requests).padStart(5)} req  read ${f.readMiB.toFixed(1).padStart(5)} MiB  written ${f.writtenMiB.toFixed(1).padStart(5)} MiB`;

async function main(): Promise<void> {
  const location = await mkdtemp(path.join(os.tmpdir(), 'exhibit-fragment-bench-'));
  const [blobPort, queuePort, tablePort] = (await freePorts(3)) as [number, number, number];
  const azurite = await startAzurite({ location, blobPort, queuePort, tablePort });
  try {
    const blobs = createAzureBlobStore({ connectionString: azuriteConnectionString('127.0.0.1', blobPort, queuePort) });
    await blobs.ensureContainer('evidence');
    await blobs.ensureContainer('derived');
    const member = randomBytes(memberBytes);
    const expected = createHash('sha256').update(member).digest('hex');
    console.log(`member ${values.mib} MiB; ${rounds} rounds a figure, median shown; load ${os.loadavg().map((l) => l.toFixed(1)).join(' ')}`);
    for (const n of fragmentCounts) {
      const { runs, imageBytes } = layout(n);
      const image = Buffer.alloc(imageBytes, 0x5a);
      for (const r of runs) member.copy(image, r.imageOffset, r.fileOffset, r.fileOffset + r.length);
      const imageRef = { container: 'evidence', name: `image-${n}.dd` };
      await blobs.upload(imageRef, image);
      const figures: Record<'hashRead' | 'copy' | 'readRuns' | 'readCopy', Figure[]> = { hashRead: [], copy: [], readRuns: [], readCopy: [] };
      const copyRef = { container: 'derived', name: derivedNames.content(expected) };
      for (let round = 0; round < rounds; round++) {
        figures.hashRead.push(
          await measure(async () => {
            const c = { bytes: 0 };
            if ((await drainHash(runListStream(blobs, imageRef, runs, c))) !== expected) throw new Error('hash read: wrong bytes');
            return { read: c.bytes, written: 0 };
          }),
        );
        await blobs.delete(copyRef).catch(() => undefined);
        figures.copy.push(
          await measure(async () => {
            const c = { bytes: 0 };
            const stored = await storeMember(blobs, runListStream(blobs, imageRef, runs, c), {
              container: 'derived',
              stagingName: `staging/bench-${n}-${round}`,
              compressedSize: null,
              limits: LIMITS,
              budget: { expandedBytes: 0, maxExpandedBytes: Number.MAX_SAFE_INTEGER },
              label: `member in ${n} runs`,
            });
            await stored.uploaded;
            if (stored.hashes.sha256 !== expected || stored.blob.name !== copyRef.name) throw new Error('copy: wrong bytes');
            return { read: c.bytes, written: stored.size };
          }),
        );
        figures.readRuns.push(
          await measure(async () => {
            const c = { bytes: 0 };
            if ((await drainHash(runListStream(blobs, imageRef, runs, c))) !== expected) throw new Error('run-list read: wrong bytes');
            return { read: c.bytes, written: 0 };
          }),
        );
        figures.readCopy.push(
          await measure(async () => {
            const c = { bytes: 0 };
            if ((await drainHash(await blobs.openRead(copyRef), c)) !== expected) throw new Error('copy read: wrong bytes');
            return { read: c.bytes, written: 0 };
          }),
        );
      }
      console.log(`\nN = ${n} runs (image ${(imageBytes / 2 ** 20).toFixed(1)} MiB)`);
      console.log(`  hash read (both ways)      ${show(median(figures.hashRead))}`);
      console.log(`  copy (hash read + write)   ${show(median(figures.copy))}`);
      console.log(`  later read, run list       ${show(median(figures.readRuns))}`);
      console.log(`  later read, derived copy   ${show(median(figures.readCopy))}`);
      await blobs.delete(imageRef);
      await blobs.delete(copyRef);
    }
  } finally {
    await azurite.stop();
    await rm(location, { recursive: true, force: true });
  }
}

await main();
