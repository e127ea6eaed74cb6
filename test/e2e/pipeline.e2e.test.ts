import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { allocateHostEnv, removeHostEnv, startHostProcess, type HostProcess, type HostProcessEnv } from '../support/host-process.js';
import { ApiClient, readSampleManifest, SAMPLES_DIR, uploadSamples, uploadWithPlainClient, type SampleManifest } from '../support/e2e-client.js';

/**
 * The whole pipeline through the local host, as a user would run it: the
 * bundled samples are uploaded with a plain blob client, the host notices them,
 * and everything is checked through the HTTP API against what the sample
 * generator wrote (samples/expected.json).
 */
interface ExpectedFile {
  path: string;
  sha256: string;
  size: number;
  kind: string;
  mime: string | null;
  expect: {
    depth: number;
    thumbnail: 'image' | 'exif-preview' | 'contact-sheet' | 'none' | 'fail';
    failure?: string;
    extMismatch?: boolean;
    takenAtLocal?: string;
    offsetMinutes?: number | null;
    gps?: { lat: number; lon: number };
    make?: string;
    model?: string;
    durationSec?: number;
    previewDiffers?: boolean;
    nearDuplicateOf?: string;
    width?: number;
    height?: number;
    archiveModified?: { local: string; offsetMinutes: number | null };
    deleted?: boolean;
    recovered?: boolean;
    disk?: {
      format: 'ewf' | 'raw';
      fileSystem: string;
      label: string;
      entries: number;
      media: { md5: string; sha1: string; sha256: string; size: number };
      ewfHeader?: { caseNumber: string; evidenceNumber: string; description: string; examiner: string; notes: string; acquiredAt: string };
    };
  };
}

const MISMATCH_EVIDENCE = 'EX99';

describe('evidence pipeline end to end on the embedded stack', () => {
  let h: HostProcessEnv;
  let host: HostProcess;
  let manifest: SampleManifest;
  let investigator: ApiClient;
  let caseId: string;
  let statuses: Record<string, any>;
  const hits = new Map<string, any>();

  beforeAll(async () => {
    manifest = await readSampleManifest();
    caseId = manifest.caseId;
    h = await allocateHostEnv();
    host = await startHostProcess(h);
    await uploadSamples(h.storageConnectionString, manifest);
    // An upload whose declared hash does not match its bytes: a loud finding, processing goes on.
    await uploadWithPlainClient(h.storageConnectionString, `${caseId}/${MISMATCH_EVIDENCE}/statement.txt`, Buffer.from('witness statement v2\n'), {
      acquisition_sha256: createHash('sha256').update('witness statement v1\n').digest('hex'),
    });

    const admin = await ApiClient.login(h, 'e2e-admin', ['admin']);
    await admin.json('POST', `/cases/${caseId}/assignments`, { user: 'ivy', role: 'investigator' });
    investigator = await ApiClient.login(h, 'ivy', ['investigator']);
    statuses = await investigator.waitComplete(caseId, [...manifest.evidence.map((e) => e.evidenceId), MISMATCH_EVIDENCE], 240_000);

    for (const ev of manifest.evidence) {
      const result = await investigator.get(`/cases/${caseId}/files?evidenceId=${ev.evidenceId}&limit=500&sort=path`);
      for (const item of result.items) hits.set(item.file.path, item);
    }
  });

  afterAll(async () => {
    await host?.stop();
    if (h) await removeHostEnv(h);
  });

  it('completes every evidence item', () => {
    for (const s of Object.values(statuses)) expect(s.complete).toBe(true);
  });

  it('hashes uploads from storage and verifies them against independently computed hashes', async () => {
    for (const ev of manifest.evidence) {
      for (const up of ev.uploads) {
        const bytes = await readFile(path.join(SAMPLES_DIR, 'extraction', caseId, ev.evidenceId, up.fileName));
        const recorded = statuses[ev.evidenceId].uploads.find((u: any) => u.fileName === up.fileName);
        expect(recorded.integrity).toBe('verified');
        expect(recorded.hashes).toEqual({
          md5: createHash('md5').update(bytes).digest('hex'),
          sha1: createHash('sha1').update(bytes).digest('hex'),
          sha256: createHash('sha256').update(bytes).digest('hex'),
        });
      }
    }
  });

  it('flags an acquisition hash mismatch loudly and still processes the file', () => {
    const s = statuses[MISMATCH_EVIDENCE];
    expect(s.uploads[0].integrity).toBe('mismatch');
    expect(s.uploads[0].mismatches).toEqual(['sha256']);
    expect(s.findings.some((f: any) => f.flag === 'hash-mismatch')).toBe(true);
    expect(s.files.byStage.indexed).toBe(1);
  });

  it('finds every generated file exactly once, at its path, with the generator’s SHA-256', () => {
    for (const ev of manifest.evidence) {
      const expected = ev.files as ExpectedFile[];
      for (const f of expected) {
        const hit = hits.get(f.path);
        expect(hit, f.path).toBeDefined();
        expect(hit.file.sha256, f.path).toBe(f.sha256);
        expect(hit.file.size, f.path).toBe(f.size);
        expect(hit.file.depth, f.path).toBe(f.expect.depth);
      }
      const contentPaths = [...hits.values()].filter((h) => h.file.evidenceId === ev.evidenceId && h.file.entryKind === 'file').map((h) => h.file.path);
      expect(new Set(contentPaths).size).toBe(contentPaths.length);
      expect(contentPaths.sort()).toEqual(expected.map((f) => f.path).sort());
    }
  });

  it('identifies types from content and flags misleading extensions', () => {
    for (const ev of manifest.evidence) {
      for (const f of ev.files as ExpectedFile[]) {
        const hit = hits.get(f.path);
        expect(hit.content?.mime ?? null, f.path).toBe(f.mime);
        expect(hit.content?.kind, f.path).toBe(f.kind);
        expect(hit.file.flags.includes('ext-mismatch'), f.path).toBe(f.expect.extMismatch ?? false);
      }
    }
  });

  it('reads timestamps as recorded and GPS as signed decimal degrees', () => {
    let checked = 0;
    for (const ev of manifest.evidence) {
      for (const f of ev.files as ExpectedFile[]) {
        const md = hits.get(f.path).content?.metadata;
        if (f.expect.takenAtLocal) {
          expect(md?.takenAt?.local, f.path).toBe(f.expect.takenAtLocal);
          expect(md?.takenAt?.offsetMinutes ?? null, f.path).toBe(f.expect.offsetMinutes ?? null);
          checked += 1;
        }
        if (f.expect.gps) {
          expect(md?.gps?.lat, f.path).toBeCloseTo(f.expect.gps.lat, 4);
          expect(md?.gps?.lon, f.path).toBeCloseTo(f.expect.gps.lon, 4);
        }
        if (f.expect.make) expect(md?.make, f.path).toBe(f.expect.make);
        if (f.expect.model) expect(md?.model, f.path).toBe(f.expect.model);
        if (f.expect.durationSec !== undefined) expect(md?.durationSec, f.path).toBeCloseTo(f.expect.durationSec, 0);
        // The real pixel size, from the image's own header (EXIF-less WhatsApp images included).
        if (f.kind === 'image' && f.expect.width !== undefined) expect([md?.width, md?.height], f.path).toEqual([f.expect.width, f.expect.height]);
        // Capture times say which tag they came from.
        if (f.kind === 'image' && md?.takenAt) expect(md.takenAt.source, f.path).toMatch(/^(EXIF|XMP):/);
      }
    }
    expect(checked).toBeGreaterThan(5);
  });

  it('serves thumbnails that decode, from the image, the EXIF preview or a video contact sheet', async () => {
    for (const ev of manifest.evidence) {
      for (const f of ev.files as ExpectedFile[]) {
        const hit = hits.get(f.path);
        const res = await investigator.request('GET', `/cases/${caseId}/files/${hit.file.fileId}/thumbnail`);
        if (f.expect.thumbnail === 'none' || f.expect.thumbnail === 'fail') {
          expect(res.status, f.path).toBe(404);
          await res.body?.cancel();
          continue;
        }
        expect(res.status, f.path).toBe(200);
        expect(res.headers.get('content-type')).toBe('image/jpeg');
        const meta = await sharp(Buffer.from(await res.arrayBuffer())).metadata();
        expect(meta.format, f.path).toBe('jpeg');
        expect(Math.max(meta.width ?? 0, meta.height ?? 0), f.path).toBeGreaterThan(0);
        expect(hit.content.thumbnailSource, f.path).toBe(f.expect.thumbnail);
      }
    }
  });

  it('records the corrupt file as a failure with its reason and completes everything else', () => {
    const expectedFailures = manifest.evidence.flatMap((ev) => (ev.files as ExpectedFile[]).filter((f) => f.expect.thumbnail === 'fail'));
    expect(expectedFailures.length).toBeGreaterThan(0);
    for (const f of expectedFailures) {
      const hit = hits.get(f.path);
      expect(hit.file.stage, f.path).toBe('failed');
      expect(hit.file.failure.code, f.path).toBe(f.expect.failure);
      expect(hit.file.failure.detail.length, f.path).toBeGreaterThan(0);
    }
    const failedPaths = Object.values(statuses).flatMap((s: any) => s.failures.map((x: any) => x.path));
    expect(failedPaths.sort()).toEqual(expectedFailures.map((f) => f.path).sort());
    for (const hit of hits.values()) {
      if (!expectedFailures.some((f) => f.path === hit.file.path)) expect(hit.file.stage, hit.file.path).toBe('indexed');
    }
  });

  it('analyses identical content once and indexes every occurrence', () => {
    const bySha = new Map<string, any[]>();
    for (const hit of hits.values()) if (hit.file.sha256) bySha.set(hit.file.sha256, [...(bySha.get(hit.file.sha256) ?? []), hit]);
    const dupes = [...bySha.values()].filter((list) => list.length > 1);
    expect(dupes.length).toBeGreaterThan(0);
    for (const list of dupes) {
      const thumbs = new Set(list.map((h) => h.content.thumbnail?.name));
      expect(thumbs.size).toBe(1);
      expect(list.every((h) => h.file.stage === 'indexed')).toBe(true);
    }
  });

  it('finds the messaging-app copy with `similar` from its original, within the default distance (issue 14)', async () => {
    const copies = ManifestFiles(manifest).filter((f) => (f as ExpectedFile).expect.nearDuplicateOf) as ExpectedFile[];
    expect(copies.map((f) => f.path)).toEqual(['IMG-20250610-WA0003.jpg']);
    for (const copy of copies) {
      const original = hits.get(copy.expect.nearDuplicateOf!);
      const body = await investigator.get(`/cases/${caseId}/files/${original.file.fileId}/similar`);
      expect(body.maxDistance).toBe(31);
      expect(body.hash).toMatch(/^[0-9a-f]{64}$/);
      const found = body.items.find((i: any) => i.sha256 === copy.sha256);
      expect(found, copy.path).toBeDefined();
      expect(found.files.map((f: any) => f.path)).toEqual([copy.path]);
      // Different bytes, the same picture: a few bits apart (4 when generated), far inside the default 31.
      expect(found.distance).toBeGreaterThan(0);
      expect(found.distance).toBeLessThanOrEqual(10);
      // Nothing else in the case is as close: the pair stands out from the other photos.
      const others = body.items.filter((i: any) => i.sha256 !== copy.sha256 && i.sha256 !== original.file.sha256);
      for (const other of others) expect(other.distance, other.files[0]?.path).toBeGreaterThan(found.distance);
      // And the other way round: the copy finds its original.
      const back = await investigator.get(`/cases/${caseId}/files/${hits.get(copy.path).file.fileId}/similar`);
      expect(back.items.find((i: any) => i.sha256 === original.file.sha256)?.distance).toBe(found.distance);
    }
  });

  it('finds the edited photo (preview-differs) and not the untouched photos (issue 14)', () => {
    const flagged = [...hits.values()].filter((h) => (h.content?.findings ?? []).some((f: any) => f.flag === 'preview-differs')).map((h) => h.file.path);
    const edited = (ManifestFiles(manifest) as ExpectedFile[]).filter((f) => f.expect.previewDiffers === true).map((f) => f.path);
    expect(edited).toEqual(['IMG_LOOSE_0003.jpg']);
    expect(flagged.sort()).toEqual(edited);
    const finding = hits.get(edited[0]!).content.findings.find((f: any) => f.flag === 'preview-differs');
    expect(finding.detail).toMatch(/^the embedded EXIF preview \(160x120\) differs from the image/);
    // The untouched camera photo has a preview too: it was compared, and matched.
    const untouched = (ManifestFiles(manifest) as ExpectedFile[]).filter((f) => f.expect.previewDiffers === false);
    expect(untouched.length).toBe(1);
    for (const f of untouched) {
      const hit = hits.get(f.path);
      expect(hit.content.thumbnailSource, f.path).toBe('image');
      expect(JSON.stringify(hit.content.tools), f.path).toContain('exhibit-preview-compare');
    }
  });

  it("serves the embedded EXIF preview beside the thumbnail, as the file stores it, to the roles that may copy evidence bytes: the edited photo's differs from its picture (issue 14)", async () => {
    const admin = await ApiClient.login(h, 'e2e-admin', ['admin']);
    await admin.json('POST', `/cases/${caseId}/assignments`, { user: 'eve', role: 'examiner' });
    const examiner = await ApiClient.login(h, 'eve', ['examiner']);
    /** The served preview and thumbnail, and their mean difference (0–255) at 32x24 pixels. */
    const both = async (name: string) => {
      const hit = hits.get(name);
      // The preview is bytes of the evidence file: an investigator sees the thumbnail and the finding, not the copy.
      const refused = await investigator.request('GET', `/cases/${caseId}/files/${hit.file.fileId}/embedded-preview`);
      expect(refused.status, name).toBe(403);
      await refused.body?.cancel();
      const res = await examiner.request('GET', `/cases/${caseId}/files/${hit.file.fileId}/embedded-preview`);
      expect(res.status, name).toBe(200);
      expect(res.headers.get('content-type')).toBe('image/jpeg');
      const preview = Buffer.from(await res.arrayBuffer());
      const thumbRes = await investigator.request('GET', `/cases/${caseId}/files/${hit.file.fileId}/thumbnail`);
      expect(thumbRes.status, name).toBe(200);
      const thumbnail = Buffer.from(await thumbRes.arrayBuffer());
      const meta = await sharp(preview).metadata();
      expect([meta.format, meta.width, meta.height], name).toEqual(['jpeg', 160, 120]);
      const pixels = (b: Buffer) => sharp(b).resize(32, 24, { fit: 'fill' }).removeAlpha().raw().toBuffer();
      const [a, b] = [await pixels(preview), await pixels(thumbnail)];
      let sum = 0;
      for (let i = 0; i < a.length; i++) sum += Math.abs(a[i]! - b[i]!);
      return { preview, hit, meanDifference: sum / a.length };
    };
    const files = ManifestFiles(manifest) as ExpectedFile[];
    const edited = files.find((f) => f.expect.previewDiffers === true)!;
    const untouched = files.find((f) => f.expect.previewDiffers === false)!;
    expect(edited.path).toBe('IMG_LOOSE_0003.jpg');
    const e = await both(edited.path);
    const u = await both(untouched.path);
    // Byte for byte the preview the file stores (a copy out of it, not a rendering).
    const evidenceId = manifest.evidence.find((ev) => (ev.files as ExpectedFile[]).some((f) => f.path === edited.path))!.evidenceId;
    const original = await readFile(path.join(SAMPLES_DIR, 'extraction', caseId, evidenceId, edited.path));
    expect(original.indexOf(e.preview)).toBeGreaterThan(0);
    // The edited photo's preview shows another picture than its thumbnail; the untouched one's the same.
    expect(e.meanDifference).toBeGreaterThan(3 * u.meanDifference);
    expect(e.hit.content.embeddedPreview?.name).toMatch(/\.exif-ifd1\.jpg$/);
    // A file without a preview (a video, a document) has none to serve.
    const other = [...hits.values()].find((h) => h.content?.kind === 'video');
    if (other) {
      const res = await examiner.request('GET', `/cases/${caseId}/files/${other.file.fileId}/embedded-preview`);
      expect(res.status).toBe(404);
      await res.body?.cancel();
    }
  });

  /** The sample disk images (issue 15): each upload with `expect.disk`, its evidence item and its members. */
  const diskImages = () =>
    manifest.evidence.flatMap((ev) =>
      (ev.files as ExpectedFile[])
        .filter((f) => f.expect.disk)
        .map((image) => ({
          evidenceId: ev.evidenceId,
          image,
          members: (ev.files as ExpectedFile[]).filter((f) => f.path.startsWith(`${image.path}!/`)),
          directories: (ev as unknown as { directories: Array<{ path: string; archiveModified: { local: string; offsetMinutes: number | null } }> }).directories.filter((d) =>
            d.path.startsWith(`${image.path}!/`),
          ),
        })),
    );

  it("lists the sample disk images' files in search at their paths, with the file system's times as recorded", () => {
    const disks = diskImages();
    expect(disks.map((d) => [d.image.path, d.image.expect.disk!.fileSystem])).toEqual([
      ['sd-card.E01', 'fat32'],
      ['usb-stick.dd', 'ext4'],
    ]);
    for (const { image, members, directories } of disks) {
      expect(hits.get(image.path).file.unpack, image.path).toBe('done');
      const photos = members.filter((m) => m.kind === 'image');
      expect(photos.length, image.path).toBeGreaterThanOrEqual(2);
      for (const m of members) {
        const hit = hits.get(m.path);
        expect(hit.file.stage, m.path).toBe('indexed');
        // FAT: the camera's wall clock, no zone, never shifted; ext4: UTC seconds.
        const recorded = m.expect.archiveModified!;
        // ext4 records nanoseconds, so its times carry a fraction (here .000); FAT's have none.
        expect(hit.file.archiveTimes.modified, m.path).toMatchObject({
          local: recorded.offsetMinutes === null ? recorded.local : expect.stringMatching(new RegExp(`^${recorded.local}(\\.0+)?$`)),
          offsetMinutes: recorded.offsetMinutes,
          utc: recorded.offsetMinutes === null ? null : expect.stringMatching(new RegExp(`^${recorded.local}(\\.0+)?Z$`)),
        });
      }
      for (const d of directories) {
        expect(hits.get(d.path)?.file.entryKind, d.path).toBe('directory');
        expect(hits.get(d.path).file.archiveTimes.modified.local, d.path).toMatch(new RegExp(`^${d.archiveModified.local}(\\.0+)?$`));
      }
    }
  });

  it('flags the photo deleted from the card deleted and recovered, and only it, with its thumbnail', async () => {
    const flagged = [...hits.values()].filter((h) => h.file.flags.includes('deleted')).map((h) => h.file.path);
    const expected = diskImages().flatMap((d) => d.members.filter((m) => m.expect.deleted));
    expect(expected.map((m) => m.path)).toEqual(['sd-card.E01!/DCIM/100CANON/_MG_0103.JPG']);
    expect(flagged).toEqual(expected.map((m) => m.path));
    const hit = hits.get(expected[0]!.path);
    expect(hit.file.flags).toContain('recovered');
    expect(hit.file.sha256).toBe(expected[0]!.sha256);
    expect(hit.content.metadata.takenAt.local).toBe(expected[0]!.expect.takenAtLocal);
    const res = await investigator.request('GET', `/cases/${caseId}/files/${hit.file.fileId}/thumbnail`);
    expect(res.status).toBe(200);
    expect((await sharp(Buffer.from(await res.arrayBuffer())).metadata()).format).toBe('jpeg');
  });

  it('verifies the hashes stored in the sample E01 against the card read through it, and records its header', () => {
    for (const { evidenceId, image } of diskImages()) {
      const disk = image.expect.disk!;
      const [recorded] = statuses[evidenceId].diskImages;
      expect(recorded, image.path).toMatchObject({
        path: image.path,
        format: disk.format,
        volumes: [{ scheme: 'none', fileSystem: disk.fileSystem, problem: null, entries: disk.entries }],
      });
      if (disk.format !== 'ewf') {
        // A raw image stores no hash of itself: only the upload's acquisition hashes check it.
        expect(recorded.integrity, image.path).toBe('no-reference');
        continue;
      }
      // Computed from the card read through the E01, equal to the generator's hashes of the card.
      expect(recorded.computedHashes, image.path).toEqual({ md5: disk.media.md5, sha1: disk.media.sha1, sha256: disk.media.sha256 });
      const h = disk.ewfHeader!;
      expect(recorded).toMatchObject({
        integrity: 'verified',
        mismatches: [],
        storedHashes: { md5: disk.media.md5, sha1: disk.media.sha1 },
        ewfHeader: { caseNumber: h.caseNumber, evidenceNumber: h.evidenceNumber, examiner: h.examiner, notes: h.notes, description: h.description },
      });
      expect(statuses[evidenceId].findings.filter((f: any) => f.flag === 'image-hash-mismatch')).toEqual([]);
    }
  });

  it('searches by device, GPS box, time range, hash and mismatch flag', async () => {
    const q = (s: string) => investigator.get(`/cases/${caseId}/files?${s}`);
    const all = (ManifestFiles(manifest) as ExpectedFile[]);
    const withGps = all.filter((f) => f.expect.gps);
    expect((await q('hasGps=true&limit=500')).total).toBe(withGps.length);
    const south = withGps.filter((f) => f.expect.gps!.lat < 0);
    expect((await q('bbox=-180,-90,180,0&limit=500')).total).toBe(south.length);
    const one = all.find((f) => f.expect.make)!;
    const byMake = await q(`make=${encodeURIComponent(one.expect.make!)}&limit=500`);
    expect(byMake.total).toBe(all.filter((f) => f.expect.make?.toLowerCase() === one.expect.make!.toLowerCase()).length);
    expect((await q('extMismatch=true&limit=500')).total).toBe(all.filter((f) => f.expect.extMismatch).length);
    const byHash = await q(`hash=${one.sha256}`);
    expect(byHash.items.map((i: any) => i.file.sha256)).toContain(one.sha256);
    const utc = all.filter((f) => f.expect.takenAtLocal && f.expect.offsetMinutes !== null && f.expect.offsetMinutes !== undefined);
    if (utc.length > 0) {
      const page = await q('takenFrom=2000-01-01T00:00:00Z&takenTo=2100-01-01T00:00:00Z&limit=500&sort=takenAt');
      expect(page.total).toBeGreaterThanOrEqual(utc.length);
    }
  });

  it('writes a custody log that verifies: signatures, links, index copy and re-hashed evidence', async () => {
    const admin = await ApiClient.login(h, 'e2e-admin', ['admin']);
    await admin.json('POST', `/cases/${caseId}/assignments`, { user: 'sam', role: 'supervisor' });
    const sam = await ApiClient.login(h, 'sam', ['supervisor']);
    const result = await sam.get(`/cases/${caseId}/custody/verify`);
    expect(result.ok).toBe(true);
    const items = new Map<string, any>(result.items.map((i: any) => [i.evidenceId, i]));
    for (const ev of manifest.evidence) {
      const item = items.get(ev.evidenceId);
      expect(item?.ok, ev.evidenceId).toBe(true);
      expect(item.verifiedEntries, ev.evidenceId).toBeGreaterThanOrEqual(3);
      expect(item.evidence.length, ev.evidenceId).toBe(ev.uploads.length);
      expect(item.evidence.every((e: any) => e.ok)).toBe(true);
    }
    // Investigators cannot run the supervisor's verification.
    expect((await investigator.request('GET', `/cases/${caseId}/custody/verify`)).status).toBe(403);
  });

  it('keeps a user who is not assigned out of the case without revealing it exists', async () => {
    const outsider = await ApiClient.login(h, 'mallory', ['investigator']);
    const res = await outsider.request('GET', `/cases/${caseId}/files`);
    expect(res.status).toBe(404);
    const missing = await outsider.request('GET', `/cases/NO-SUCH-CASE/files`);
    const body = (await res.json()) as { error: { code: string; message: string } };
    const missingBody = (await missing.json()) as { error: { code: string; message: string } };
    expect(body.error.code).toBe(missingBody.error.code);
    expect(body.error.message.replaceAll(caseId, '?')).toBe(missingBody.error.message.replaceAll('NO-SUCH-CASE', '?'));
    const anonymous = await fetch(`${h.apiUrl}/cases/${caseId}/files`);
    expect(anonymous.status).toBe(401);
  });
});

function ManifestFiles(manifest: SampleManifest): unknown[] {
  return manifest.evidence.flatMap((e) => e.files);
}
