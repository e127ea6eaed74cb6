import { createHash } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hasTool, run } from '../../packages/pipeline/src/disk/test-support/disk-image.builder.js';
import { buildMemoryCard, CARD_HEADER, offsetInImage, tamperEwfMedia, type CardPhoto } from '../../packages/pipeline/src/disk/test-support/memory-card.builder.js';
import { allocateHostEnv, removeHostEnv, startHostProcess, type HostProcess, type HostProcessEnv } from '../support/host-process.js';
import { ApiClient, SAMPLES_DIR, uploadWithPlainClient } from '../support/e2e-client.js';

/**
 * A seized memory card as an E01 through the local host, as an examiner would
 * upload it: identify recognises it from its content, unpack lists its FAT32
 * files by ranged reads of the blob, and its photos go through analysis like any
 * archive member. Checked through the HTTP API: paths, FAT times as recorded,
 * thumbnails, the deleted photo flagged deleted and recovered, the EWF header
 * and stored-hash check; and a copy whose media was changed after acquisition
 * is reported as a mismatch.
 */
const CASE = 'DISK-2026-015';
const CARD = 'EX10';
const TAMPERED = 'EX11';
const SPLIT = 'EX12';
const TOOLS = ['mkfs.fat', 'mmd', 'mcopy', 'mdel', 'ewfacquire', 'unzip'];
const missing = TOOLS.filter((t) => !hasTool(t));
const SAMPLE_ZIP = path.join(SAMPLES_DIR, 'extraction', 'DEMO-2026-001', 'EX01', 'phone-extraction.zip');

const photo = (member: string, cardPath: string, modified: string): CardPhoto => ({ path: cardPath, bytes: run('unzip', ['-p', SAMPLE_ZIP, member]), modified: new Date(modified) });
const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');

describe.skipIf(missing.length > 0)('disk images end to end on the embedded stack', () => {
  let h: HostProcessEnv;
  let host: HostProcess;
  let dir: string;
  let photos: CardPhoto[];
  let investigator: ApiClient;
  let statuses: Record<string, any>;
  const hits = new Map<string, any>();
  let segmentNames: string[] = [];
  let plainRaw = '';

  beforeAll(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'exhibit-e2e-disk-'));
    photos = [
      photo('DCIM/Camera/IMG_0001.JPG', 'DCIM/100MEDIA/IMG_0001.JPG', '2025-06-01T14:30:10Z'),
      photo('DCIM/Camera/IMG_0002.JPG', 'DCIM/100MEDIA/IMG_0002.JPG', '2025-06-07T16:45:20Z'),
      photo('DCIM/Camera/PXL_20250604_081500123.jpg', 'DCIM/100MEDIA/PXL_20250604_081500123.jpg', '2025-06-04T08:15:02Z'),
    ];
    const card = buildMemoryCard(path.join(dir), photos, ['DCIM/100MEDIA/IMG_0002.JPG']);
    const plainDir = mkdtempSync(path.join(dir, 'plain-'));
    const plain = buildMemoryCard(plainDir, photos, [], { compression: 'none' });
    const tampered = path.join(plainDir, 'tampered.E01');
    tamperEwfMedia(plain.e01, plain.raw, tampered, offsetInImage(plain.raw, photos[2]!.bytes) + 100);
    // The same card acquired into 8 MiB segments (card.E01 … card.E05), uploaded as one evidence item.
    plainRaw = plain.raw;
    const splitDir = mkdtempSync(path.join(dir, 'split-'));
    run('ewfacquire', ['-u', '-t', path.join(splitDir, 'card'), '-c', 'none', '-S', '8MiB', '-d', 'sha1', plain.raw]);
    segmentNames = readdirSync(splitDir).filter((f) => /^card\.E\d\d$/.test(f)).sort();

    h = await allocateHostEnv();
    host = await startHostProcess(h);
    const e01 = readFileSync(card.e01);
    // Named without an extension that says what it is: identification goes by the content.
    await uploadWithPlainClient(h.storageConnectionString, `${CASE}/${CARD}/sd-card.E01`, e01, { acquisition_sha256: sha256(e01) });
    const bad = readFileSync(tampered);
    await uploadWithPlainClient(h.storageConnectionString, `${CASE}/${TAMPERED}/sd-card-copy.E01`, bad, {});
    // As `exhibit upload card.E01` sends them: the later segments first, each with its own acquisition hash; the first last, with the count.
    for (const name of [...segmentNames.slice(1), segmentNames[0]!]) {
      const bytes = readFileSync(path.join(splitDir, name));
      await uploadWithPlainClient(h.storageConnectionString, `${CASE}/${SPLIT}/${name}`, bytes, {
        acquisition_sha256: sha256(bytes),
        ...(name === segmentNames[0] ? { imagesegments: String(segmentNames.length) } : {}),
      });
    }

    const admin = await ApiClient.login(h, 'e2e-admin', ['admin']);
    await admin.json('POST', `/cases/${CASE}/assignments`, { user: 'ivy', role: 'investigator' });
    investigator = await ApiClient.login(h, 'ivy', ['investigator']);
    statuses = await investigator.waitComplete(CASE, [CARD, TAMPERED, SPLIT], 240_000);
    const result = await investigator.get(`/cases/${CASE}/files?evidenceId=${CARD}&limit=500&sort=path`);
    for (const item of result.items) hits.set(item.file.path, item);
  });

  afterAll(async () => {
    await host?.stop();
    if (h) await removeHostEnv(h);
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  const shownPath = (i: number) => (i === 1 ? 'sd-card.E01!/DCIM/100MEDIA/_MG_0002.JPG' : `sd-card.E01!/${photos[i]!.path}`);

  it('completes both images and unpacks the card', () => {
    expect(statuses[CARD].complete).toBe(true);
    expect(statuses[CARD].stages.unpack).toEqual({ done: 1, failed: 0, pending: 0 });
    expect(statuses[CARD].failures).toEqual([]);
    const root = hits.get('sd-card.E01');
    expect(root.content).toMatchObject({ kind: 'archive', mime: 'application/x-ewf' });
    expect(root.file.unpack).toBe('done');
  });

  it("lists the card's photos in search at their paths, with their bytes and FAT times as recorded (local, no offset)", () => {
    for (const [i, p] of photos.entries()) {
      const hit = hits.get(shownPath(i));
      expect(hit, shownPath(i)).toBeDefined();
      expect(hit.file.sha256).toBe(sha256(p.bytes));
      expect(hit.file.size).toBe(p.bytes.length);
      expect(hit.file.depth).toBe(1);
      expect(hit.file.stage).toBe('indexed');
      expect(hit.file.archiveTimes.modified).toMatchObject({ local: p.modified.toISOString().slice(0, 19), offsetMinutes: null, utc: null });
      expect(hit.content.kind).toBe('image');
    }
    expect(hits.get('sd-card.E01!/DCIM/100MEDIA').file.entryKind).toBe('directory');
  });

  it('flags the deleted photo deleted and recovered, and only it', () => {
    for (const [i] of photos.entries()) {
      const flags: string[] = hits.get(shownPath(i)).file.flags;
      expect(flags.includes('deleted'), shownPath(i)).toBe(i === 1);
      expect(flags.includes('recovered'), shownPath(i)).toBe(i === 1);
    }
  });

  it('serves thumbnails of every photo on the card, the recovered one included', async () => {
    for (const [i] of photos.entries()) {
      const hit = hits.get(shownPath(i));
      const res = await investigator.request('GET', `/cases/${CASE}/files/${hit.file.fileId}/thumbnail`);
      expect(res.status, shownPath(i)).toBe(200);
      const meta = await sharp(Buffer.from(await res.arrayBuffer())).metadata();
      expect(meta.format).toBe('jpeg');
    }
  });

  it('records the EWF header and verifies the hashes stored in the image against the media read', () => {
    const [image] = statuses[CARD].diskImages;
    expect(image).toMatchObject({
      path: 'sd-card.E01',
      format: 'ewf',
      integrity: 'verified',
      mismatches: [],
      ewfHeader: { caseNumber: CARD_HEADER.caseNumber, evidenceNumber: CARD_HEADER.evidenceNumber, examiner: CARD_HEADER.examiner, notes: CARD_HEADER.notes },
      volumes: [{ scheme: 'none', fileSystem: 'fat32', problem: null, entries: 5 }],
    });
    expect(image.computedHashes).toMatchObject({ md5: image.storedHashes.md5, sha1: image.storedHashes.sha1 });
    expect(image.computedHashes.sha256).toMatch(/^[0-9a-f]{64}$/);
    expect(statuses[CARD].findings.filter((f: any) => f.flag === 'image-hash-mismatch')).toEqual([]);
  });

  it('reports an image whose media changed after acquisition as a mismatch, loudly, and still lists its files', async () => {
    const s = statuses[TAMPERED];
    expect(s.complete).toBe(true);
    expect(s.diskImages[0]).toMatchObject({ integrity: 'mismatch', mismatches: ['md5', 'sha1'] });
    expect(s.findings).toEqual(expect.arrayContaining([expect.objectContaining({ path: 'sd-card-copy.E01', flag: 'image-hash-mismatch' })]));
    const files = await investigator.get(`/cases/${CASE}/files?evidenceId=${TAMPERED}&limit=500&sort=path`);
    const paths = files.items.map((i: any) => i.file.path);
    expect(paths).toContain('sd-card-copy.E01!/DCIM/100MEDIA/IMG_0001.JPG');
  });

  it('a split E01 uploaded as one item (one blob per segment) is one image: its photos in search, each segment hashed and checked, the stored hashes verified over the joined media', async () => {
    const s = statuses[SPLIT];
    expect(segmentNames.length).toBeGreaterThanOrEqual(3);
    expect(s.complete).toBe(true);
    expect(s.failures).toEqual([]);
    // Every segment is hashed and checked against its own acquisition hash; each is marked unpacked, the first reads them all.
    expect(s.uploads.map((u: any) => [u.blobName.split('/').pop(), u.integrity]).sort()).toEqual(segmentNames.map((n) => [n, 'verified']));
    expect(s.stages.unpack).toEqual({ done: segmentNames.length, failed: 0, pending: 0 });
    expect(s.diskImages).toHaveLength(1);
    const media = readFileSync(plainRaw);
    expect(s.diskImages[0]).toMatchObject({
      path: 'card.E01',
      format: 'ewf',
      segmentCount: segmentNames.length,
      segments: segmentNames.map((n) => expect.objectContaining({ name: `${CASE}/${SPLIT}/${n}` })),
      mediaBytes: media.length,
      integrity: 'verified',
      computedHashes: { sha256: sha256(media) },
    });
    const files = await investigator.get(`/cases/${CASE}/files?evidenceId=${SPLIT}&limit=500&sort=path`);
    const byPath = new Map<string, any>(files.items.map((i: any) => [i.file.path, i]));
    for (const p of photos) {
      const hit = byPath.get(`card.E01!/${p.path}`);
      expect(hit, p.path).toBeDefined();
      expect(hit.file.sha256).toBe(sha256(p.bytes));
      expect(hit.file.stage).toBe('indexed');
    }
    // Nothing is listed under the later segments: they are bytes of the one image.
    expect([...byPath.keys()].filter((k) => /^card\.E0[2-9]!/.test(k))).toEqual([]);
  });

  it('records the check in a custody log that verifies', async () => {
    const admin = await ApiClient.login(h, 'e2e-admin', ['admin']);
    await admin.json('POST', `/cases/${CASE}/assignments`, { user: 'sam', role: 'supervisor' });
    const sam = await ApiClient.login(h, 'sam', ['supervisor']);
    const verified = await sam.get(`/cases/${CASE}/custody/verify`);
    expect(verified.ok).toBe(true);
    const actions = async (evidenceId: string) => {
      const report = await sam.get(`/cases/${CASE}/custody/report?evidenceId=${evidenceId}`);
      return report.items.flatMap((i: any) => i.entries ?? []).map((e: any) => e.action);
    };
    expect(await actions(CARD)).toContain('image-hash-verified');
    expect(await actions(TAMPERED)).toContain('image-hash-mismatch');
  });
});
