import { execFileSync } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';

const require = createRequire(import.meta.url);
const PRELOAD = fileURLToPath(new URL('./azurite.preload.cjs', import.meta.url));
/** The autosave's wait as a function; the preload itself is never required here (it patches Module._load, installs signal handlers). */
const { nextAutosaveMs } = require('./azurite.autosave-wait.cjs') as { nextAutosaveMs: (saveMs: number, floorMs?: number) => number };
/** Azurite's own folder, so that `require('lokijs')` in the scripts loads the LokiJS Azurite loads. */
const AZURITE_DIR = path.dirname(require.resolve('azurite/package.json'));

/**
 * Runs a CommonJS script in a node of its own, with the preload when asked,
 * as the host runs Azurite (the preload installs signal handlers, so never in
 * this process), and parses the JSON it prints.
 */
function runScript<T>(script: string, options: { preload: boolean }): T {
  const args = [...(options.preload ? ['--require', PRELOAD] : []), '-e', script];
  return JSON.parse(execFileSync(process.execPath, args, { cwd: AZURITE_DIR, encoding: 'utf8', timeout: 60_000 })) as T;
}

/**
 * A blob collection as Azurite 3.35 makes it (LokiBlobMetadataStore: the same
 * indices), holding `thumbnails` blobs in `derived` and one upload in
 * `evidence`, and the queries Azurite makes of it: a blob's lookup (GET, PUT,
 * HEAD) and the blob watcher's listing of `evidence` (its find, before the
 * name, snapshot and commit filters and the sort), and listBlobs's prefix
 * listing, which starts with a $regex, of a blob with snapshots. Counts the
 * comparisons LokiJS makes outside an index, the work that grows with the
 * store, and prints each answer's documents ($loki) in the order LokiJS gave
 * them.
 */
const blobStoreScript = (thumbnails: number) => `
const Loki = require('lokijs');
const db = new Loki('blobs.json', { persistenceMethod: 'memory' });
const blobs = db.addCollection('$BLOBS_COLLECTION$', { indices: ['accountName', 'containerName', 'name', 'snapshot'] });
const doc = (containerName, name) => ({ accountName: 'devstoreaccount1', containerName, name, snapshot: '', isCommitted: true, properties: { contentLength: 1 } });
blobs.insert(doc('evidence', 'case-1/ev-1/disk.img'));
for (let i = 0; i < ${thumbnails}; i++) blobs.insert(doc('derived', 'thumbnails/' + String(i % 256).padStart(3, '0') + '/' + i + '.t256.jpg'));
blobs.insert(doc('derived', 'case-1/ev-1/disk.img'));
// Names LokiJS's indices hold equal (loosely, as numbers), which a lookup by the name's index must still tell apart.
for (const name of ['1', '01', '1.0']) blobs.insert(doc('derived', name));
// A blob and its snapshots, and a blob of the same name in another container (as Azurite's listBlobs sees them).
blobs.insert(doc('other', 'p/a'));
for (const snapshot of ['', '2026-01-01T00:00:01.0000000Z', '2026-01-01T00:00:02.0000000Z', '2026-01-01T00:00:03.0000000Z']) blobs.insert(Object.assign(doc('snapshots', 'p/a'), { snapshot }));
let comparisons = 0;
for (const op of ['$eq', '$regex']) {
  const original = Loki.LokiOps[op];
  Loki.LokiOps[op] = (a, b, record) => { comparisons += 1; return original(a, b, record); };
}
const counted = (run) => { comparisons = 0; const value = run(); return { value, comparisons }; };
const key = { accountName: 'devstoreaccount1', snapshot: '' };
const names = (docs) => docs.map((d) => d.containerName + '/' + d.name).sort();
const everyMatch = (query) => names(blobs.data.filter((d) => Object.keys(query).every((k) => d[k] === query[k])));
const queries = [
  { accountName: 'devstoreaccount1', containerName: 'derived', name: 'thumbnails/007/7.t256.jpg', snapshot: '' },
  { accountName: 'devstoreaccount1', containerName: 'evidence', name: 'case-1/ev-1/disk.img', snapshot: '' },
  { accountName: 'devstoreaccount1', containerName: 'derived', name: 'case-1/ev-1/disk.img', snapshot: '' },
  { accountName: 'devstoreaccount1', containerName: 'derived', name: 'thumbnails/none.jpg', snapshot: '' },
  { accountName: 'devstoreaccount1', containerName: 'derived', name: '01', snapshot: '' },
  { accountName: 'devstoreaccount1', containerName: 'derived', name: '1', snapshot: '' },
  { accountName: 'devstoreaccount1', containerName: 'evidence' },
  { accountName: 'devstoreaccount1', containerName: 'derived' },
  { accountName: 'otheraccount', containerName: 'derived' },
];
const lookup = counted(() => blobs.findOne({ accountName: 'devstoreaccount1', containerName: 'derived', name: 'thumbnails/042/42.t256.jpg', snapshot: '' }));
const listing = counted(() => blobs.chain().find({ accountName: 'devstoreaccount1', containerName: 'evidence' }).where((o) => o.name > '').data());
// listBlobs's query and its sort by name only: the snapshots of one blob keep the order LokiJS found them in.
const prefix = { name: { $regex: '^p/' }, accountName: 'devstoreaccount1', containerName: 'snapshots' };
const byName = (a, b) => (a.name === b.name ? 0 : a.name > b.name ? 1 : -1);
const prefixListing = blobs.chain().find(prefix).where((o) => o.name > '').sort(byName).data().map((d) => d.snapshot || '(base)');
const loki = (docs) => docs.map((d) => d.$loki);
process.stdout.write(JSON.stringify({
  lookup: { name: lookup.value && lookup.value.name, comparisons: lookup.comparisons },
  listing: { names: names(listing.value), comparisons: listing.comparisons },
  answers: queries.map((q) => ({ found: names(blobs.find(q)), expected: everyMatch(q), one: (blobs.findOne(q) || {}).name || null, count: blobs.count(q) })),
  prefixListing,
  order: {
    listing: loki(listing.value),
    prefix: loki(blobs.find(prefix)),
    queries: queries.map((q) => ({ find: loki(blobs.find(q)), one: (blobs.findOne(q) || {}).$loki || null, chain: loki(blobs.chain().find(q).where((o) => o.name > '').data()) })),
  },
}));
`;

interface BlobStoreRun {
  lookup: { name: string | null; comparisons: number };
  listing: { names: string[]; comparisons: number };
  answers: Array<{ found: string[]; expected: string[]; one: string | null; count: number }>;
  prefixListing: string[];
  /** Each answer's documents by $loki, unsorted: the order LokiJS gave them in. */
  order: unknown;
}

describe('Azurite preload: LokiJS queries', () => {
  // Azurite's blob lookup is findOne({ accountName, containerName, name, snapshot }), and LokiJS used the
  // index of the first property only: every blob of the account (~20,000 thumbnails at 4 GiB) was copied
  // and compared on each GET, PUT and HEAD, and on each of the blob watcher's listings of `evidence`.
  it('blob-lookup-scans-every-blob-in-the-account', () => {
    const thumbnails = 3000;
    const run = runScript<BlobStoreRun>(blobStoreScript(thumbnails), { preload: true });
    expect(run.lookup.name).toBe('thumbnails/042/42.t256.jpg');
    // The name's index finds the one blob; the other three properties are compared on it alone.
    expect(run.lookup.comparisons).toBeLessThanOrEqual(3);
    // The watcher's listing of `evidence` no longer touches the thumbnails in `derived`.
    expect(run.listing.names).toEqual(['evidence/case-1/ev-1/disk.img']);
    expect(run.listing.comparisons).toBeLessThanOrEqual(1);
  });

  it('answers every query as LokiJS does without the preload', () => {
    const withPreload = runScript<BlobStoreRun>(blobStoreScript(500), { preload: true });
    const without = runScript<BlobStoreRun>(blobStoreScript(500), { preload: false });
    for (const run of [withPreload, without]) {
      for (const answer of run.answers) {
        expect(answer.found).toEqual(answer.expected);
        expect(answer.count).toBe(answer.expected.length);
        if (answer.expected.length <= 1) expect(answer.one === null ? [] : [answer.one]).toEqual(answer.expected.map((n) => n.slice(n.indexOf('/') + 1)));
      }
    }
    expect(withPreload.answers.map((a) => a.expected.length)).toEqual([1, 1, 1, 0, 1, 1, 1, 504, 0]);
    // Not only the same documents: the same documents in the same order (Azurite sorts some answers by name
    // only, so the order of equal names, a blob's snapshots, is what LokiJS gave).
    expect(withPreload.order).toEqual(without.order);
    // Without the preload the same lookup compares the other properties on every blob of the account.
    expect(without.lookup.comparisons).toBeGreaterThan(500);
  });

  // listBlobs's query starts with the name's $regex; moving containerName's equality in front of it changed
  // the order in which a blob's snapshots came back, and the listing sorts by name only.
  it('prefix-listing-reorders-a-blobs-snapshots', () => {
    const withPreload = runScript<BlobStoreRun>(blobStoreScript(50), { preload: true });
    const without = runScript<BlobStoreRun>(blobStoreScript(50), { preload: false });
    // Whatever order LokiJS gives them in (its sort is by name only), the same with the preload as without.
    expect([...without.prefixListing].sort()).toEqual(['(base)', '2026-01-01T00:00:01.0000000Z', '2026-01-01T00:00:02.0000000Z', '2026-01-01T00:00:03.0000000Z']);
    expect(withPreload.prefixListing).toEqual(without.prefixListing);
  });
});

describe('Azurite preload: autosave', () => {
  const dirs: string[] = [];
  afterEach(async () => {
    for (const dir of dirs.splice(0)) await rm(dir, { recursive: true, force: true });
  });

  /**
   * A database whose adapter takes `saveMs` per save (a timer: at least that
   * long, however loaded the machine); prints the wait the autosave set after
   * its first save, and LokiJS's interval.
   */
  const autosaveScript = (saveMs: number) => `
const Loki = require('lokijs');
let saves = 0;
const adapter = { mode: 'reference', loadDatabase: (name, cb) => cb(null), saveDatabase: (name, db, cb) => { saves += 1; setTimeout(() => cb(null), ${saveMs}); } };
const db = new Loki('probe.json', { adapter, autosave: true, autosaveInterval: 5000 });
db.addCollection('c').insert({ a: 1 });
const before = db.autosaveDelayMs;
const report = () => {
  process.stdout.write(JSON.stringify({ interval: db.autosaveInterval, before, after: db.autosaveDelayMs, saves }));
  db.close();
  process.exit(0);
};
// Without the adaptive wait there is nothing to wait for: report what there is.
const giveUp = setTimeout(report, 10000);
const poll = setInterval(() => {
  if (saves === 0 || (db.autosaveDelayMs === before && ${saveMs} * 10 > 1000)) return;
  clearInterval(poll);
  clearTimeout(giveUp);
  // Give the save's callback its turn, then report.
  setTimeout(report, ${saveMs} + 50);
}, 20);
`;

  // A save serialises the whole database; at 20,000 thumbnails that is ~24 MB of JSON and a few hundred ms,
  // and every second it was most of Azurite's CPU. The wait after a save now grows with what the save took.
  it('autosave-serialises-whole-store-every-second-however-long-it-takes', () => {
    const run = runScript<{ interval: number; before: number; after: number | undefined; saves: number }>(autosaveScript(400), { preload: true });
    expect(run.before).toBe(1000);
    expect(run.saves).toBe(1);
    // At least 10 × the save's 400 ms, and never longer than Azurite's own 5 s.
    expect(run.after).toBeGreaterThanOrEqual(4000);
    expect(run.after).toBeLessThanOrEqual(5000);
  });

  // The wait comes from the wall time a save took, so a loaded machine lengthens it: the wait's values are
  // checked on the function, and the running database only within bounds no load can break.
  it('keeps the one-second autosave while saves are quick', () => {
    const run = runScript<{ interval: number; before: number; after: number }>(autosaveScript(0), { preload: true });
    expect(run.interval).toBe(1000);
    expect(run.before).toBe(1000);
    expect(run.after).toBeGreaterThanOrEqual(1000);
    expect(run.after).toBeLessThanOrEqual(5000);
  });

  it('waits 10 × what the last save took, from 1 s to 5 s', () => {
    expect(nextAutosaveMs(0)).toBe(1000);
    expect(nextAutosaveMs(60)).toBe(1000);
    expect(nextAutosaveMs(100)).toBe(1000);
    expect(nextAutosaveMs(150)).toBe(1500);
    expect(nextAutosaveMs(123.44)).toBe(1234);
    expect(nextAutosaveMs(400)).toBe(4000);
    expect(nextAutosaveMs(500)).toBe(5000);
    expect(nextAutosaveMs(2406)).toBe(5000);
    // The floor is LokiJS's interval when that is shorter than a second.
    expect(nextAutosaveMs(0, 250)).toBe(250);
    expect(nextAutosaveMs(60, 250)).toBe(600);
  });

  // The preload changes when LokiJS saves, not what: a data folder it wrote is read by a LokiJS without it
  // (an older host, Azurite run by hand), and the other way round.
  it('writes the database files LokiJS reads without the preload', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'exhibit-loki-'));
    dirs.push(dir);
    const file = JSON.stringify(path.join(dir, 'db.json'));
    const write = (name: string) => `
const Loki = require('lokijs');
const db = new Loki(${file}, { autosave: true, autosaveInterval: 5000, autoload: true, autoloadCallback: () => {
  const c = db.getCollection('blobs') || db.addCollection('blobs', { indices: ['accountName', 'containerName', 'name'] });
  c.insert({ accountName: 'devstoreaccount1', containerName: 'derived', name: ${JSON.stringify(name)} });
  db.close(() => {
    const again = new Loki(${file}, { autoload: true, autoloadCallback: () => {
      const names = again.getCollection('blobs').find({ accountName: 'devstoreaccount1', containerName: 'derived' }).map((d) => d.name).sort();
      process.stdout.write(JSON.stringify(names));
    } });
  });
} });
`;
    expect(runScript<string[]>(write('a.jpg'), { preload: true })).toEqual(['a.jpg']);
    expect(runScript<string[]>(write('b.jpg'), { preload: false })).toEqual(['a.jpg', 'b.jpg']);
    expect(runScript<string[]>(write('c.jpg'), { preload: true })).toEqual(['a.jpg', 'b.jpg', 'c.jpg']);
  });
});
