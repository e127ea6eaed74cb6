import { execFile } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { CustodyEvent } from '@exhibit/core';
import { pdqDistance, pdqFromImage } from '@exhibit/media';
import { createAzureBlobStore } from '@exhibit/storage';
import { HashSetStore } from '@exhibit/index';
import { runPdqBackfill } from '@exhibit/pipeline';
import { reconcile, type App } from '../src/index.js';
import { cameraPair, exiftoolVersion } from '../../media/src/preview/exiftool-camera.test-support.js';
import { drainQueues, inv, logger, openAppFixture, type AppFixture } from './app-fixture.js';

/**
 * PDQ and the edited-image hint through the whole pipeline (Azurite + PGlite,
 * the real media adapters): the hash the analyse stage stores for a photo is
 * the one `pdqFromImage` (bit-exact with Meta's reference) gives for the same
 * file, and a copy that ffmpeg resized and recompressed is found as similar; a
 * photo whose EXIF preview (written by exiftool) no longer shows it gets a
 * `preview-differs` finding, the unedited photo none.
 */

const FIXTURE = path.resolve(import.meta.dirname, '../../../test/fixtures/pdq-reference/images/B-meadow.jpg');
const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');

describe('PDQ and the edited-image hint in the analyse stage (Azurite + PGlite)', () => {
  let fixture: AppFixture;
  let dataDir: string;
  let app: App;
  const caseId = `PQ${randomBytes(3).toString('hex')}`;
  let original: Buffer;
  let copy: Buffer;

  beforeAll(async () => {
    fixture = await openAppFixture('pq');
    ({ app, dataDir } = fixture);
    original = await readFile(FIXTURE);
    // Resized to 700 px wide and recompressed at a low quality by an independent encoder.
    const copyPath = path.join(dataDir, 'copy.jpg');
    await promisify(execFile)('ffmpeg', ['-v', 'error', '-y', '-i', FIXTURE, '-vf', 'scale=700:-1', '-q:v', '12', copyPath]);
    copy = await readFile(copyPath);
  });

  afterAll(async () => {
    await fixture?.close();
  });

  const upload = (blobName: string, bytes: Buffer) => fixture.upload(blobName, bytes);

  const drain = () => drainQueues(app, { maxRounds: 60 });

  it('stores the reference-compatible hash of each photo, and the resized, recompressed copy is within 31 bits', async () => {
    await upload(`${caseId}/EV1/meadow.jpg`, original);
    await upload(`${caseId}/EV1/meadow-small.jpg`, copy);
    await reconcile(app, inv());
    await drain();

    const expected = await pdqFromImage(original);
    const stored = await app.index.getPdq(sha256(original));
    expect(stored).toEqual([{ frame: 0, hash: expected.hash, quality: expected.quality }]);
    const storedCopy = await app.index.getPdq(sha256(copy));
    expect(storedCopy).toEqual([{ frame: 0, ...(await pdqFromImage(copy)) }]);
    expect(pdqDistance(stored[0]!.hash, storedCopy[0]!.hash)).toBeLessThanOrEqual(31);

    // The hasher's version is in the record of the thumbnail it came with.
    const content = await app.index.getContent(sha256(original));
    expect(content?.thumbnailStatus).toBe('done');
    expect(content?.tools.thumbnail?.map((t) => t.name)).toContain('exhibit-pdq');

    const similar = await app.index.similarByPdq({ hash: stored[0]!.hash, caseIds: [caseId], maxDistance: 31 });
    expect(similar.items.map((i) => i.files.map((f) => f.path)).flat()).toEqual(['meadow.jpg', 'meadow-small.jpg']);
    expect(similar.items[0]!.distance).toBe(0);
  });

  it("hashes each contact-sheet frame of a video, and similar finds the video's frame from the photo", async () => {
    // The photo as a 4 s MPEG-4 video, made by ffmpeg (an independent encoder).
    const videoPath = path.join(dataDir, 'meadow.mp4');
    await promisify(execFile)('ffmpeg', ['-v', 'error', '-y', '-loop', '1', '-i', FIXTURE, '-t', '4', '-r', '10', '-c:v', 'mpeg4', '-q:v', '4', '-pix_fmt', 'yuv420p', videoPath]);
    const video = await readFile(videoPath);
    await upload(`${caseId}/EV4/meadow.mp4`, video);
    await reconcile(app, inv());
    await drain();

    const frames = await app.index.getPdq(sha256(video));
    expect(frames.length).toBeGreaterThan(1);
    expect(frames.map((f) => f.frame)).toEqual(frames.map((_, i) => i));
    for (const f of frames) expect(f.timeMs).toBeGreaterThanOrEqual(0);
    const content = await app.index.getContent(sha256(video));
    expect(content?.thumbnailSource).toBe('contact-sheet');
    expect(content?.tools.thumbnail?.map((t) => t.name)).toContain('exhibit-pdq');

    const photo = await pdqFromImage(original);
    const similar = await app.index.similarByPdq({ hash: photo.hash, caseIds: [caseId], maxDistance: 31 });
    const hits = similar.items.filter((i) => i.sha256 === sha256(video));
    // Every frame of the still video is near the photo, each with its frame number and time.
    expect(hits.map((h) => h.frame).sort((a, b) => a - b)).toEqual(frames.map((f) => f.frame));
    for (const h of hits) expect(h.timeMs).toBe(frames[h.frame]!.timeMs);
    expect(hits[0]!.files.map((f) => f.path)).toEqual(['meadow.mp4']);
  });

  it('keeps the same hashes when the same bytes arrive again (another evidence item, a redelivery)', async () => {
    const before = await app.index.getPdq(sha256(original));
    await upload(`${caseId}/EV2/again.jpg`, original);
    await reconcile(app, inv());
    await drain();
    expect(await app.index.getPdq(sha256(original))).toEqual(before);
  });

  it.skipIf(!exiftoolVersion)('flags the photo edited under its old preview, and only that one', async () => {
    const { unedited, edited, preview } = await cameraPair(original);
    await upload(`${caseId}/EV3/DCIM/unedited.jpg`, unedited);
    await upload(`${caseId}/EV3/DCIM/edited.jpg`, edited);
    await reconcile(app, inv());
    await drain();

    const clean = await app.index.getContent(sha256(unedited));
    expect(clean?.thumbnailStatus).toBe('done');
    expect(clean?.thumbnailSource).toBe('image');
    expect(clean?.findings ?? []).toEqual([]);

    const changed = await app.index.getContent(sha256(edited));
    expect(changed?.thumbnailStatus).toBe('done');
    expect(changed?.findings).toEqual([{ flag: 'preview-differs', detail: expect.stringMatching(/^the embedded EXIF preview \(160x120\) differs from the image/) }]);
    expect(changed?.tools.thumbnail?.map((t) => t.name)).toContain('exhibit-preview-compare');

    // Both pictures are kept: the embedded preview, byte for byte the one exiftool wrote, beside the thumbnail,
    // with the source's SHA-256 and the tools on the blob; the unedited photo's preview too.
    const reader = createAzureBlobStore({ connectionString: inject('storageConnectionString') });
    for (const content of [changed, clean]) {
      const ref = content?.embeddedPreview;
      expect(ref?.name).toBe(`previews/${content!.sha256.slice(0, 2)}/${content!.sha256}.exif-ifd1.jpg`);
      const chunks: Buffer[] = [];
      for await (const c of await reader.openRead(ref!)) chunks.push(c as Buffer);
      expect(Buffer.concat(chunks).equals(preview)).toBe(true);
      const props = await reader.getProperties(ref!);
      expect(props.metadata).toMatchObject({ source_sha256: content!.sha256, derived_from: 'exif-ifd1-preview', preview_sha256: sha256(preview) });
      expect(props.metadata.tools).toContain('exhibit-preview-compare');
    }

    const status = await app.index.evidenceStatus(caseId, 'EV3');
    const flagged = status?.findings.filter((f) => f.flag === 'preview-differs') ?? [];
    expect(flagged.map((f) => f.path)).toEqual(['DCIM/edited.jpg']);
    expect(flagged[0]!.detail).toBe(changed!.findings![0]!.detail);
  });

  it('backfills the PDQ hashes of contents indexed before PDQ existed, from their originals, once, with custody and PDQ-list matching', async () => {
    const photo = sha256(original);
    const video = sha256(await readFile(path.join(dataDir, 'meadow.mp4')));
    const expectedPhoto = await app.index.getPdq(photo);
    const expectedVideo = await app.index.getPdq(video);
    // As before PDQ existed: thumbnails done, no hashes.
    await app.sql.query('DELETE FROM content_pdq WHERE sha256 = ANY($1::text[])', [[photo, video]]);
    // A PDQ list of the photo, enabled meanwhile: nothing of this case matches yet (no hash to match).
    const list = path.join(dataDir, 'list.pdq');
    await writeFile(list, `${expectedPhoto[0]!.hash},100,meadow\n`);
    const sets = new HashSetStore(app.sql, { custody: app.stageDeps.custody, toolVersion: 'test' });
    await sets.import(list, { name: 'meadow-list', kind: 'notable', importedBy: 'test' });
    const photoFile = (await app.index.search({ caseId })).items.find((i) => i.file.path === 'meadow.jpg')!.file;
    expect(await app.index.knownFileMatches(photoFile.fileId)).toEqual([]);

    const entries: CustodyEvent[] = [];
    const custody = { record: async (e: CustodyEvent, o?: { abortSignal?: AbortSignal }) => { entries.push(e); await app.stageDeps.custody.record(e, o); } };
    const deps = { index: app.index, blobs: app.blobs, thumbnailer: app.stageDeps.thumbnailer, custody, pipelineVersion: 'test', logger };
    expect(await app.index.pdqBackfillPending()).toBe(2);
    // Stopped after one content, then resumed: each content is tried once.
    expect(await runPdqBackfill(deps, { maxContents: 1 })).toMatchObject({ tried: 1, hashed: 1, total: 2 });
    expect(await runPdqBackfill(deps)).toMatchObject({ tried: 1, hashed: 1, failed: 0, total: 1 });
    expect(await runPdqBackfill(deps)).toMatchObject({ tried: 0, total: 0 });

    // The same hashes the pipeline computes: from the original's full decode, not the stored thumbnail.
    expect(await app.index.getPdq(photo)).toEqual(expectedPhoto);
    expect(await app.index.getPdq(video)).toEqual(expectedVideo);
    const backfill = entries.filter((e) => e.action === 'pdq-backfill');
    // The photo is in two files (EV1 and EV2), the video in one.
    expect(backfill.map((e) => e.subject?.sha256).sort()).toEqual([photo, photo, video].sort());
    expect(backfill[0]!.details).toMatchObject({ read: 'original' });
    expect(backfill.every((e) => e.eventKey === `pdq-backfill:${e.subject?.fileId}`)).toBe(true);
    // Matched against the PDQ list as the index stage would have, with its custody entry.
    expect((await app.index.knownFileMatches(photoFile.fileId)).map((m) => [m.name, m.matchedOn, m.pdq?.distance])).toEqual([['meadow-list', 'pdq', 0]]);
    expect(entries.filter((e) => e.action === 'known-file-match').map((e) => e.subject?.fileId)).toContain(photoFile.fileId);
  });
});
