import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { derivedNames, type FileRecord, type MediaMetadata } from '@exhibit/core';
import { issueLocalToken, startHttpServer, type HttpServerHandle } from '@exhibit/api';
import { blobSource } from '@exhibit/pipeline';
import { hasTool, run } from '../../pipeline/src/disk/test-support/disk-image.builder.js';
import { reconcile, type App } from '../src/index.js';
import { drainQueues, inv, logger, openAppFixture, type AppFixture } from './app-fixture.js';

/**
 * Files of disk images downloaded through the API and read by ffmpeg, one of
 * each way their bytes are kept (issue 15): a file contiguous in a raw image is
 * a span of the evidence blob, a fragmented one (FAT clusters in two runs,
 * written by mtools into a freed hole) a copy in derived/, and a file inside a
 * compressed E01's chunks a copy. The whole app runs (Azurite, PGlite, the
 * real unpack and analyse stages, the custody log) and the API is served over
 * node:http, as the local host serves it.
 */

const TOOLS = ['mkfs.fat', 'mcopy', 'mdel', 'mmd', 'ewfacquire', 'ffmpeg', 'ffprobe'];
const missing = TOOLS.filter((t) => !hasTool(t));
const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');
const CASE = 'DISKDL-1';
const RAW = 'EV1';
const EWF = 'EV2';

/** A small H.264 MP4 from ffmpeg's test pattern; the size makes each one distinct content. */
function testMp4(dir: string, name: string, size: string, seconds: number): Buffer {
  const out = path.join(dir, name);
  execFileSync('ffmpeg', ['-v', 'error', '-y', '-f', 'lavfi', '-i', `testsrc=size=${size}:rate=10:duration=${seconds}`, '-c:v', 'libx264', '-preset', 'ultrafast', '-pix_fmt', 'yuv420p', out]);
  return readFileSync(out);
}

/** What ffprobe says of the file on its own: the oracle for the pipeline's metadata. */
function ffprobe(bytes: Buffer, dir: string): { durationSec: number; width: number; height: number } {
  const file = path.join(dir, `probe-${sha256(bytes).slice(0, 8)}.mp4`);
  writeFileSync(file, bytes);
  const out = JSON.parse(execFileSync('ffprobe', ['-v', 'error', '-show_format', '-show_streams', '-of', 'json', file]).toString()) as {
    format: { duration: string };
    streams: Array<{ codec_type: string; width?: number; height?: number }>;
  };
  const video = out.streams.find((s) => s.codec_type === 'video')!;
  return { durationSec: Number(out.format.duration), width: video.width!, height: video.height! };
}

/** Copies `bytes` onto the FAT image at `cardPath` with mcopy (one mtools session: allocation starts at the first free cluster). */
function mcopy(dir: string, image: string, cardPath: string, bytes: Buffer): void {
  const local = path.join(dir, `in-${sha256(bytes).slice(0, 8)}`);
  writeFileSync(local, bytes);
  run('mcopy', ['-i', image, local, `::/${cardPath}`]);
}

describe.skipIf(missing.length > 0)(`disk-image members downloaded and read by ffmpeg, end to end${missing.length > 0 ? ` (missing ${missing.join(', ')})` : ''}`, () => {
  let fixture: AppFixture;
  let app: App;
  let server: HttpServerHandle;
  let dir: string;
  let rawImage: Buffer;
  let e01: Buffer;
  const clips: Record<'contiguous' | 'fragmented' | 'ewf', Buffer> = {} as never;
  let notes: Buffer;
  let hole: number;

  beforeAll(async () => {
    fixture = await openAppFixture('dmd');
    ({ app, dataDir: dir } = fixture);
    clips.contiguous = testMp4(dir, 'a.mp4', '320x240', 2);
    clips.fragmented = testMp4(dir, 'b.mp4', '256x192', 3);
    clips.ewf = testMp4(dir, 'c.mp4', '160x120', 2);

    // A FAT16 card with 512-byte clusters. filler-1, hole and filler-2 are written one after the other; hole is
    // deleted, and the second clip, larger than it, takes its clusters and then the ones after filler-2: two runs.
    const raw = path.join(dir, 'card.img');
    run('mkfs.fat', ['-C', '-F', '16', '-s', '1', '-n', 'CARD', '-i', '15150015', raw, '8192']);
    run('mmd', ['-i', raw, '::/DCIM']);
    mcopy(dir, raw, 'DCIM/CLIP0001.MP4', clips.contiguous);
    hole = 16 * 1024;
    mcopy(dir, raw, 'FILLER1.BIN', Buffer.alloc(4096, 1));
    mcopy(dir, raw, 'HOLE.BIN', Buffer.alloc(hole, 2));
    mcopy(dir, raw, 'FILLER2.BIN', Buffer.alloc(4096, 3));
    run('mdel', ['-i', raw, '::/HOLE.BIN']);
    expect(clips.fragmented.length).toBeGreaterThan(hole);
    mcopy(dir, raw, 'DCIM/CLIP0002.MP4', clips.fragmented);
    rawImage = readFileSync(raw);

    // A second card with compressible notes and the third clip, acquired into a compressed E01.
    const card2 = path.join(dir, 'card2.img');
    run('mkfs.fat', ['-C', '-F', '16', '-s', '1', '-n', 'CARD2', '-i', '15150016', card2, '8192']);
    notes = Buffer.from(Array.from({ length: 3000 }, (_, i) => `line ${i}: seen at the quay, boat ${i % 17}\n`).join(''));
    mcopy(dir, card2, 'NOTES.TXT', notes);
    mcopy(dir, card2, 'CLIP0003.MP4', clips.ewf);
    run('ewfacquire', ['-u', '-t', path.join(dir, 'card2'), '-c', 'fast', '-C', 'CASE-15', '-E', 'CARD-2', '-m', 'removable', '-d', 'sha1', card2]);
    e01 = readFileSync(path.join(dir, 'card2.E01'));

    await fixture.upload(`${CASE}/${RAW}/card.img`, rawImage);
    await fixture.upload(`${CASE}/${EWF}/card2.E01`, e01);
    await reconcile(app, inv());
    await drainQueues(app, { maxRounds: 80 });
    await app.access.assign(CASE, 'erin', { role: 'examiner', by: 'setup' });
    server = await startHttpServer(app.api, { host: '127.0.0.1', port: 0, logger });
  }, 240_000);

  afterAll(async () => {
    await server?.close();
    await fixture?.close();
  });

  async function member(evidenceId: string, suffix: string): Promise<FileRecord> {
    const hits = (await app.index.search({ caseId: CASE, evidenceId, limit: 100 })).items.map((i) => i.file);
    const found = hits.find((f) => f.path.endsWith(suffix));
    if (!found) throw new Error(`no member ending ${suffix} in ${evidenceId}: ${hits.map((f) => f.path).join(', ')}`);
    return found;
  }

  async function get(url: string, headers: Record<string, string> = {}): Promise<{ status: number; headers: Headers; bytes: Buffer }> {
    const token = (await issueLocalToken({ user: 'erin', roles: ['examiner'], ttlMs: 600_000 }, { keyDir: keyDir(app) })).token;
    const res = await fetch(url.startsWith('http') ? url : `${server.url}${url}`, { headers: url.includes('ticket=') ? headers : { authorization: `Bearer ${token}`, ...headers } });
    return { status: res.status, headers: res.headers, bytes: Buffer.from(await res.arrayBuffer()) };
  }

  /** Downloads the member through the link GET …/download gives, and as content with a Range header; checks bytes and custody. */
  async function downloadsExactly(file: FileRecord, source: Buffer, where: { container: string; blobName: string; offset: number }, imageBytes: number) {
    const issued = await get(`/cases/${CASE}/files/${file.fileId}/download`);
    expect(issued.status).toBe(200);
    const link = JSON.parse(issued.bytes.toString()) as { url: string; kind: string; size: number; sha256: string };
    expect(link).toMatchObject({ kind: 'api-ticket', size: source.length, sha256: sha256(source) });
    const fetched = await get(link.url);
    expect(fetched.status).toBe(200);
    expect(fetched.bytes.length).toBe(source.length);
    expect(sha256(fetched.bytes)).toBe(sha256(source));
    expect(fetched.headers.get('x-exhibit-sha256')).toBe(sha256(source));

    // One Range is served as that part of the file over node:http (a video player seeking), cut at the file's end:
    // it can never widen the body into the image around the file. Past the end is a 416.
    const parts: [string, number, number][] = [
      ['bytes=0-99', 0, 99],
      [`bytes=100-${source.length + 4096}`, 100, source.length - 1],
      // The whole image (a compressed E01 can be smaller than the file: then past the file's end).
      [`bytes=0-${Math.max(imageBytes, source.length)}`, 0, source.length - 1],
      ['bytes=-10', source.length - 10, source.length - 1],
    ];
    for (const [range, first, last] of parts) {
      const ranged = await get(`/cases/${CASE}/files/${file.fileId}/content`, { range });
      expect(ranged.status, range).toBe(206);
      expect(ranged.headers.get('content-range'), range).toBe(`bytes ${first}-${last}/${source.length}`);
      expect(ranged.headers.get('content-length'), range).toBe(String(last - first + 1));
      expect(ranged.bytes.equals(source.subarray(first, last + 1)), range).toBe(true);
    }
    const beyond = await get(`/cases/${CASE}/files/${file.fileId}/content`, { range: `bytes=${source.length}-` });
    expect(beyond.status).toBe(416);
    expect(beyond.headers.get('content-range')).toBe(`bytes */${source.length}`);
    const whole = await get(`/cases/${CASE}/files/${file.fileId}/content`, { range: 'bytes=0-9,20-29' });
    expect(whole.status).toBe(200);
    expect(whole.headers.get('accept-ranges')).toBe('bytes');
    expect(whole.bytes.equals(source)).toBe(true);

    // Recorded as the ZIP member's downloads are: the issue (delivery url, the ticket id), each fetch (delivery stream,
    // the ticket id, the blob and the range read: for a part, the part's bytes of the blob), all in the file's own
    // evidence item's custody log. The 416 delivered nothing and is no download.
    const entries = (await app.custody.entries({ caseId: CASE, evidenceId: file.evidenceId, fileId: file.fileId, limit: 100 })).filter((e) => e.action === 'download');
    expect(entries).toHaveLength(2 + parts.length + 1);
    expect(entries[0]).toMatchObject({ actor: 'erin', subject: { fileId: file.fileId, sha256: sha256(source) }, details: { delivery: 'url', kind: 'api-ticket', range: null, authKind: 'local' } });
    const ticketId = entries[0]!.details.issuedTicketId as string;
    expect(ticketId).toMatch(/^[0-9a-f]{16}$/);
    const range = { offset: where.offset, length: source.length };
    expect(entries[1]).toMatchObject({ actor: 'erin', details: { delivery: 'stream', authKind: 'ticket', ticketId, container: where.container, blobName: where.blobName, range, verifiedBeforeSend: true } });
    parts.forEach(([, first, last], i) => {
      expect(entries[2 + i]).toMatchObject({
        actor: 'erin',
        details: { delivery: 'stream', authKind: 'local', container: where.container, blobName: where.blobName, range: { offset: where.offset + first, length: last - first + 1 }, part: { first, last, sizeBytes: source.length } },
      });
    });
    expect(entries[2 + parts.length]).toMatchObject({ details: { delivery: 'stream', container: where.container, blobName: where.blobName, range, rangeIgnored: 'ignored' } });
  }

  it('a file contiguous in a raw image is a span of the evidence blob, and downloads as exactly its bytes', async () => {
    const file = await member(RAW, '!/DCIM/CLIP0001.MP4');
    const at = rawImage.indexOf(clips.contiguous);
    expect(at).toBeGreaterThan(0);
    expect(file.source).toEqual({ container: fixture.evidenceContainer, name: `${CASE}/${RAW}/card.img`, offset: at });
    await downloadsExactly(file, clips.contiguous, { container: fixture.evidenceContainer, blobName: `${CASE}/${RAW}/card.img`, offset: at }, rawImage.length);
  });

  it('a fragmented file in a raw image is a copy in derived/, and downloads as exactly its bytes', async () => {
    // The clip lies in two runs: its first `hole` bytes where HOLE.BIN was, the rest after FILLER2.BIN.
    expect(rawImage.indexOf(clips.fragmented)).toBe(-1);
    const first = rawImage.indexOf(clips.fragmented.subarray(0, hole));
    const rest = rawImage.indexOf(clips.fragmented.subarray(hole));
    expect(first).toBeGreaterThan(0);
    expect(rest).toBeGreaterThan(first + hole);
    const file = await member(RAW, '!/DCIM/CLIP0002.MP4');
    const copy = derivedNames.content(sha256(clips.fragmented));
    expect(file.source).toEqual({ container: app.config.containers.derived, name: copy });
    await downloadsExactly(file, clips.fragmented, { container: app.config.containers.derived, blobName: copy, offset: 0 }, rawImage.length);
  });

  it('a file in a compressed E01 is a copy in derived/, and downloads as exactly its bytes', async () => {
    // Its chunks are compressed: the notes are nowhere in the E01 as written.
    expect(e01.indexOf(notes.subarray(0, 512))).toBe(-1);
    expect(e01.length).toBeLessThan(notes.length);
    const file = await member(EWF, '!/NOTES.TXT');
    const copy = derivedNames.content(sha256(notes));
    expect(file.source).toEqual({ container: app.config.containers.derived, name: copy });
    await downloadsExactly(file, notes, { container: app.config.containers.derived, blobName: copy, offset: 0 }, e01.length);
  });

  describe('a video in a disk image: ffprobe metadata and contact sheet as for the MP4 on its own', () => {
    /** The loose file's path: the same adapters analyse uses, on the MP4 as a whole blob of its own. */
    async function asLooseFile(bytes: Buffer): Promise<{ metadata: MediaMetadata; sheet: Buffer }> {
      const ref = { container: app.config.containers.derived, name: `test-loose/${sha256(bytes)}.mp4` };
      await app.blobs.upload(ref, bytes, { contentType: 'video/mp4' });
      const loose = () => blobSource(app.blobs, ref, 'clip.mp4', bytes.length);
      const metadata = await app.stageDeps.metadata.video(loose());
      const sheet = await app.stageDeps.thumbnailer.video(loose(), {
        ...(metadata.durationSec !== undefined ? { durationSec: metadata.durationSec } : {}),
        ...(metadata.videoStream ? { videoStream: metadata.videoStream } : {}),
      });
      return { metadata, sheet: sheet.jpeg };
    }

    const withoutRaw = (m: MediaMetadata | null | undefined) => {
      const { raw: _raw, ...rest } = m ?? {};
      return rest;
    };

    for (const [kind, evidenceId, suffix, inPlace] of [
      ['contiguous', RAW, '!/DCIM/CLIP0001.MP4', true],
      ['fragmented', RAW, '!/DCIM/CLIP0002.MP4', false],
      ['ewf', EWF, '!/CLIP0003.MP4', false],
    ] as const) {
      it(`${kind}: ${inPlace ? 'read in place by ffmpeg' : 'read from its copy'}`, async () => {
        const bytes = clips[kind];
        const file = await member(evidenceId, suffix);
        expect(file.stage).toBe('indexed');
        expect(file.source?.offset !== undefined).toBe(inPlace);
        const content = (await app.index.getContent(sha256(bytes)))!;
        expect(content.kind).toBe('video');
        expect(content.metadataStatus).toBe('done');
        expect(content.thumbnailStatus).toBe('done');
        expect(content.thumbnailSource).toBe('contact-sheet');

        const probed = ffprobe(bytes, dir);
        expect(content.metadata).toMatchObject({ width: probed.width, height: probed.height });
        expect(content.metadata!.durationSec).toBeCloseTo(probed.durationSec, 2);
        // ffprobe saw exactly the member: its size, no byte of the image around it.
        expect((content.metadata!.raw as { format: { size: string } }).format.size).toBe(String(bytes.length));

        const loose = await asLooseFile(bytes);
        expect(withoutRaw(content.metadata)).toEqual(withoutRaw(loose.metadata));
        const chunks: Buffer[] = [];
        for await (const c of await app.blobs.openRead(content.thumbnail!)) chunks.push(c as Buffer);
        const sheet = Buffer.concat(chunks);
        expect(await sharp(sheet).metadata()).toMatchObject({ format: 'jpeg' });
        expect(sheet.equals(loose.sheet)).toBe(true);
      });
    }
  });
});

/** The local token key folder of the app's config. */
function keyDir(app: App): string {
  if (app.config.auth.kind !== 'local') throw new Error('the test app signs its own tokens');
  return app.config.auth.keyDir;
}
