import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { Worker } from 'node:worker_threads';
import { FUNCTIONS } from '@exhibit/runtime';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BLOB_EVENTS_QUEUE, SERVICE_BUS_CONNECTION } from '../src/settings.js';

const run = promisify(execFile);
const appRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

/**
 * The deployment artifact itself: build dist/main.js, load it the way the
 * Node.js worker does, and read what it registers. The worker is not
 * available here, so a stand-in for its `@azure/functions-core` module
 * records each registration; everything else (main.ts, app.setup, the
 * library's conversion of our options into binding metadata) is the real code.
 */
const WORKER_STAND_IN = `
const fs = require('node:fs');
const registered = [];
module.exports = {
  setProgrammingModel() {},
  getProgrammingModel() { return undefined; },
  registerHook() { return { dispose() {} }; },
  log() {},
  registerFunction(metadata) { registered.push(metadata); return { dispose() {} }; },
};
process.on('exit', () => fs.writeFileSync(process.env.REGISTRATIONS_OUT, JSON.stringify(registered)));
`;

interface Binding {
  type: string;
  direction: string;
  queueName?: string;
  connection?: string;
  route?: string;
  methods?: string[];
  authLevel?: string;
  schedule?: string;
}

describe('the built Functions bundle', () => {
  let tmp: string;
  let registrations: Array<{ name: string; bindings: Record<string, Binding> }>;

  beforeAll(async () => {
    await run(process.execPath, [path.join(appRoot, 'scripts/build.mjs')], { cwd: appRoot });
    tmp = await mkdtemp(path.join(os.tmpdir(), 'exhibit-bundle-'));
    const core = path.join(tmp, 'modules/@azure/functions-core');
    await mkdir(core, { recursive: true });
    await writeFile(path.join(core, 'package.json'), JSON.stringify({ name: '@azure/functions-core', main: 'index.js' }));
    await writeFile(path.join(core, 'index.js'), WORKER_STAND_IN);
    const out = path.join(tmp, 'registrations.json');
    const entry = pathToFileURL(path.join(appRoot, 'dist/main.js')).href;
    await run(process.execPath, ['--input-type=module', '-e', `await import(${JSON.stringify(entry)});`], {
      cwd: tmp,
      env: { PATH: process.env.PATH, NODE_PATH: path.join(tmp, 'modules'), REGISTRATIONS_OUT: out, EXHIBIT_DATA_DIR: path.join(tmp, 'data') },
    });
    registrations = JSON.parse(await readFile(out, 'utf8')) as typeof registrations;
  }, 180_000);

  afterAll(async () => {
    if (tmp) await rm(tmp, { recursive: true, force: true });
  });

  const trigger = (name: string): Binding => {
    const r = registrations.find((x) => x.name === name);
    if (!r) throw new Error(`${name} not registered`);
    return Object.values(r.bindings).find((b) => b.direction === 'in' && b.type.endsWith('Trigger'))!;
  };

  it('registers every function of the table from main.ts', () => {
    expect(registrations.map((r) => r.name).sort()).toEqual(FUNCTIONS.map((f) => f.name).sort());
  });

  it('binds stage, dead-letter and upload functions to Service Bus queues through the identity-based connection', () => {
    for (const def of FUNCTIONS) {
      const binding = trigger(def.name);
      if (def.trigger.kind === 'queue') expect(binding).toMatchObject({ type: 'serviceBusTrigger', queueName: def.trigger.queue });
      if (def.trigger.kind === 'dead-letter') expect(binding).toMatchObject({ type: 'serviceBusTrigger', queueName: `${def.trigger.queue}/$deadletterqueue` });
      if (def.trigger.kind === 'blob-created') expect(binding).toMatchObject({ type: 'serviceBusTrigger', queueName: BLOB_EVENTS_QUEUE });
      if (binding.type === 'serviceBusTrigger') expect(binding.connection).toBe(SERVICE_BUS_CONNECTION);
    }
  });

  it('serves the API on one anonymous catch-all route and runs the timer on its schedule', () => {
    const api = FUNCTIONS.find((f) => f.trigger.kind === 'http')!;
    expect(trigger(api.name)).toMatchObject({ type: 'httpTrigger', route: 'api/{*path}', authLevel: 'anonymous' });
    expect(trigger(api.name).methods?.map((m) => m.toUpperCase()).sort()).toEqual(['DELETE', 'GET', 'PATCH', 'POST', 'PUT']);
    const timer = FUNCTIONS.find((f) => f.trigger.kind === 'timer')!;
    expect(trigger(timer.name)).toMatchObject({ type: 'timerTrigger', schedule: (timer.trigger as { schedule: string }).schedule });
  });

  it('ships the files the bundled code reads', async () => {
    const migrations = path.join(appRoot, 'assets/packages/index/migrations');
    const original = path.resolve(appRoot, '../packages/index/migrations');
    expect((await readdir(migrations)).sort()).toEqual((await readdir(original)).sort());
    const version = JSON.parse(await readFile(path.join(appRoot, 'assets/package.json'), 'utf8')) as { version: string };
    expect(version.version).toMatch(/^\d+\.\d+\.\d+/);
    expect(JSON.parse(await readFile(path.join(appRoot, 'host.json'), 'utf8'))).toEqual(
      JSON.parse(await readFile(path.resolve(appRoot, '../host.json'), 'utf8')),
    );
  });

  it('serves the review app on the catch-all route and ships its build, every asset index.html names', async () => {
    expect(trigger('site')).toMatchObject({ type: 'httpTrigger', route: '{*path}', authLevel: 'anonymous' });
    expect(trigger('site').methods?.map((m) => m.toUpperCase()).sort()).toEqual(['GET', 'HEAD', 'POST']);
    const web = path.join(appRoot, 'assets/packages/web/dist');
    const html = await readFile(path.join(web, 'index.html'), 'utf8');
    const named = [...html.matchAll(/(?:src|href)="(\/assets\/[^"]+)"/g)].map((m) => m[1]!);
    expect(named.length).toBeGreaterThan(1);
    for (const asset of named) expect((await readFile(path.join(web, asset))).length, asset).toBeGreaterThan(0);
    // The bundled runtime reads that copy, not the workspace's packages/web/dist.
    expect(await readFile(path.join(appRoot, 'dist/main.js'), 'utf8')).toContain('assets/packages/web/dist/');
  });

  it('ships the parser threads\' module, which runs exifr and file-type on its own', async () => {
    // What packages/media/src/sandbox/parse.pool.ts starts beside main.js when bundled.
    const worker = new Worker(path.join(appRoot, 'dist/parse.worker.js'), { execArgv: [] });
    try {
      const replies: unknown[] = [];
      const done = new Promise<unknown>((resolve, reject) => {
        worker.on('error', reject);
        worker.on('message', (m: { op: string }) => {
          replies.push(m);
          if (m.op === 'ready') worker.postMessage({ op: 'run', id: 1, kind: 'file-type', input: { head: new Uint8Array([0xff, 0xd8, 0xff, 0xe0]).buffer } });
          else resolve(m);
        });
      });
      expect(await done).toEqual({ op: 'done', id: 1, value: { mime: 'image/jpeg', ext: 'jpg' } });
      expect(replies[0]).toEqual({ op: 'ready' });
    } finally {
      await worker.terminate();
    }
  });

  it('ships the disk parser threads\' module, which reads a disk image over bytes the main thread serves', async () => {
    // What packages/pipeline/src/disk/disk-image.pool.ts starts beside main.js when bundled.
    const worker = new Worker(path.join(appRoot, 'dist/disk-image.worker.js'), { execArgv: [] });
    const image = new Uint8Array(64 * 1024);
    try {
      const done = new Promise<unknown>((resolve, reject) => {
        worker.on('error', reject);
        worker.on('message', (m: { op: string; id: number; seq: number; request: { offset: number; length: number } }) => {
          if (m.op === 'ready') worker.postMessage({ op: 'run', id: 1, kind: 'disk-open', input: { blobSize: image.length, offset: 0, size: image.length } });
          else if (m.op === 'request') worker.postMessage({ op: 'response', id: 1, seq: m.seq, value: image.slice(m.request.offset, m.request.offset + m.request.length).buffer });
          else resolve(m);
        });
      });
      expect(await done).toMatchObject({ op: 'done', id: 1, value: { format: 'raw', mediaBytes: image.length, segmentCount: 1 } });
    } finally {
      await worker.terminate();
    }
  });

  it('ships the archive parser threads\' module, which opens a ZIP over bytes the main thread serves', async () => {
    // What packages/pipeline/src/archive/archive.pool.ts starts beside main.js when bundled. An empty ZIP: its end record only.
    const worker = new Worker(path.join(appRoot, 'dist/archive.worker.js'), { execArgv: [] });
    const zip = Buffer.from([0x50, 0x4b, 0x05, 0x06, ...new Array<number>(18).fill(0)]);
    try {
      const done = new Promise<unknown>((resolve, reject) => {
        worker.on('error', reject);
        worker.on('message', (m: { op: string; id: number; seq: number; request: { offset: number; length: number } }) => {
          if (m.op === 'ready') worker.postMessage({ op: 'run', id: 1, kind: 'zip-open', input: { size: zip.length, maxEntries: 10 } });
          else if (m.op === 'request') worker.postMessage({ op: 'response', id: 1, seq: m.seq, value: Uint8Array.from(zip.subarray(m.request.offset, m.request.offset + m.request.length)).buffer });
          else resolve(m);
        });
      });
      expect(await done).toEqual({ op: 'done', id: 1, value: { prefix: 0, size: zip.length, findings: [], declared: 0, commentLengthAt: null, commentCut: false } });
    } finally {
      await worker.terminate();
    }
  });

  it('ships the HEIC decoder threads\' module, which decodes a HEIC with the heic-decode it is pointed at', async () => {
    // What packages/media/src/thumbnail/heic.pool.ts starts beside main.js when bundled (heic-decode stays external).
    const heicDecodePath = createRequire(import.meta.url).resolve('heic-decode');
    const worker = new Worker(path.join(appRoot, 'dist/heic.worker.js'), { execArgv: [], workerData: { heicDecodePath } });
    const heic = await readFile(path.resolve(appRoot, '../packages/media/src/thumbnail/two-tone-4032x3024.fixture.heic'));
    try {
      const done = new Promise<{ op: string; value?: { width: number; height: number; pixels: ArrayBuffer } }>((resolve, reject) => {
        worker.on('error', reject);
        worker.on('message', (m: { op: string }) => {
          if (m.op === 'ready') worker.postMessage({ op: 'run', id: 1, kind: 'heic-decode', input: { bytes: Uint8Array.from(heic).buffer, maxPixels: 268_402_689 } });
          else resolve(m);
        });
      });
      const reply = await done;
      expect(reply).toMatchObject({ op: 'done', value: { width: 4032, height: 3024 } });
      expect(reply.value?.pixels.byteLength).toBe(4032 * 3024 * 4);
    } finally {
      await worker.terminate();
    }
  });
});
