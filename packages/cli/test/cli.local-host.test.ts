import { execFileSync, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRootLogger, loadConfig } from '@exhibit/core';
import { freePorts, startLocalHost, type LocalHost } from '@exhibit/host';
import { createPostgresAccessStore } from '@exhibit/index';
import { EXIT } from '../src/cli-error.js';
import { createCliContext } from '../src/context.js';
import { loadCommandModules } from '../src/main.js';
import { runCli } from '../src/program.js';
import { CapturedStream } from '../src/test-support.js';
import type { EvidenceStatusBody, FileDetailBody, SearchResultBody } from '../src/api/api-types.js';
import { destroyScan } from '../../../samples/lib/jpeg.damager.js';
import { closedPipe, runCliProcess } from './cli-process.js';

/**
 * The CLI against the real local stack: its own Azurite (so no other test's
 * workers consume these queues), the index, the pipeline and the HTTP API.
 * Upload → watch until processed → search → show with thumbnail.
 */
const SAMPLES = fileURLToPath(new URL('../../../samples/', import.meta.url));
/** The split-image test builds its FAT volume with dosfstools and mtools. */
const FAT_TOOLS = ['mkfs.fat', 'mcopy', 'split'].every((t) => spawnSync('sh', ['-c', `command -v ${t}`]).status === 0);

interface ManifestFile {
  path: string;
  sha256: string;
  size: number;
  expect: { make?: string; model?: string; takenAtLocal?: string; offsetMinutes?: number | null; gps?: { lat: number; lon: number } };
}

describe('exhibit CLI against the local host', () => {
  let dir: string;
  let env: NodeJS.ProcessEnv;
  let host: LocalHost;
  let sample: { file: string; bytes: Buffer; manifest: ManifestFile };
  const caseId = 'CLI-E2E';

  async function cli(...argv: string[]) {
    const stdout = new CapturedStream();
    const stderr = new CapturedStream();
    const code = await runCli(argv, createCliContext({ env, stdout, stderr }), await Promise.all(loadCommandModules()));
    return { code, out: stdout.text, err: stderr.text };
  }

  beforeAll(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'exhibit-cli-e2e-'));
    const ports = await freePorts(3);
    env = {
      EXHIBIT_DATA_DIR: path.join(dir, 'data'),
      EXHIBIT_AZURITE_BLOB_PORT: String(ports[0]),
      EXHIBIT_AZURITE_QUEUE_PORT: String(ports[1]),
      EXHIBIT_API_PORT: String(ports[2]),
      EXHIBIT_POLL_INTERVAL_MS: '200',
      EXHIBIT_INGEST_SAMPLES: 'false',
      EXHIBIT_LOG_LEVEL: 'silent',
    };
    host = await startLocalHost(loadConfig(env), { logger: createRootLogger({ level: 'silent' }) });

    const manifest = JSON.parse(await readFile(path.join(SAMPLES, 'expected.json'), 'utf8')) as {
      caseId: string;
      evidence: Array<{ evidenceId: string; files: ManifestFile[] }>;
    };
    const loose = manifest.evidence.find((e) => e.evidenceId === 'EX02')!.files.find((f) => f.path === 'IMG_LOOSE_0001.jpg')!;
    const file = path.join(SAMPLES, 'extraction', manifest.caseId, 'EX02', loose.path);
    sample = { file, bytes: await readFile(file), manifest: loose };
  }, 120_000);

  afterAll(async () => {
    await host?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  it('login stores a token readable by the owner only', async () => {
    const { code, out } = await cli('login', '--user', 'ana@example.org', '--role', 'examiner', '--json');
    expect(code).toBe(EXIT.ok);
    const who = JSON.parse(out) as { user: string; roles: string[]; tokenFile: string };
    expect(who).toMatchObject({ user: 'ana@example.org', roles: ['examiner'] });
    expect((await stat(who.tokenFile)).mode & 0o777).toBe(0o600);
    // Nobody is assigned to the case: ana's upload opens it for her (see the upload test).
    expect(await createPostgresAccessStore(host.app.sql).listAssignments(caseId)).toEqual([]);
  });

  it('uploads, follows processing to completion, finds the file and shows it with its thumbnail', async () => {
    const sha256 = createHash('sha256').update(sample.bytes).digest('hex');
    expect(sha256).toBe(sample.manifest.sha256);

    const up = await cli('upload', sample.file, '--case', caseId, '--evidence', 'E1', '--examiner', 'Zoë Ørsted', '--sha256', sha256, '--block-size-mb', '0.0625', '--json');
    expect(up.err).toMatch(/^upload IMG_LOOSE_0001.jpg: 100% \(14.1 KiB of 14.1 KiB/m);
    expect(up.err).toContain(`opened new case ${caseId}: ana@example.org is assigned to it as examiner`);
    expect(await createPostgresAccessStore(host.app.sql).getAssignment(caseId, 'ana@example.org')).toMatchObject({ role: 'examiner' });
    expect(up.code).toBe(EXIT.ok);
    const uploaded = JSON.parse(up.out) as { uploaded: Array<{ blobName: string; blocks: number; hashes: { sha256: string } }> };
    expect(uploaded.uploaded[0]).toMatchObject({ blobName: `${caseId}/E1/IMG_LOOSE_0001.jpg`, hashes: { sha256 } });
    expect(uploaded.uploaded[0]!.blocks).toBe(Math.ceil(sample.bytes.length / 65536));

    await host.scanNow();
    const watched = await cli('status', `${caseId}/E1`, '--watch', '--interval-ms', '200', '--json');
    expect(watched.code).toBe(EXIT.ok);
    const status = JSON.parse(watched.out) as EvidenceStatusBody;
    expect(status.complete).toBe(true);
    expect(status.uploads[0]).toMatchObject({ integrity: 'verified', acquisition: { examiner: 'Zoë Ørsted', sha256 } });
    expect(watched.err).toMatch(/complete: hash 1\/1/);

    const human = await cli('status', `${caseId}/E1`);
    expect(human.code).toBe(EXIT.ok);
    expect(human.out).toContain(`Evidence ${caseId}/E1: complete`);
    expect(human.out).toContain('examiner Zoë Ørsted');

    const all = await cli('status', caseId);
    expect(all.code).toBe(EXIT.ok);
    expect(all.out).toContain(`Case ${caseId}: 1 evidence item, 1 complete`);

    const found = await cli('search', caseId, '--kind', 'image', '--has-gps', '--json');
    expect(found.code).toBe(EXIT.ok);
    const result = JSON.parse(found.out) as SearchResultBody;
    expect(result.total).toBe(1);
    const hit = result.items[0]!;
    expect(hit.file.sha256).toBe(sha256);
    expect(hit.content?.metadata?.make).toBe(sample.manifest.expect.make);

    // Not a terminal here: the table is 120 wide unless told otherwise; --width 0 shows every column.
    const narrow = await cli('search', caseId, '--make', sample.manifest.expect.make!);
    expect(narrow.out).toMatch(/left out to fit 120 columns: GPS, Taken from, Make\/model/);
    const table = await cli('search', caseId, '--make', sample.manifest.expect.make!, '--width', '0');
    expect(table.code).toBe(EXIT.ok);
    const row = table.out.split('\n').find((l) => l.includes('IMG_LOOSE_0001.jpg'))!;
    expect(row).toContain(`${sample.manifest.expect.make} ${sample.manifest.expect.model}`);
    expect(row).toContain(sha256.slice(0, 12));
    expect(row).toContain(sample.manifest.expect.takenAtLocal!);

    const thumb = path.join(dir, 'thumb.jpg');
    const shown = await cli('show', caseId, hit.file.fileId, '--thumbnail', thumb);
    expect(shown.code).toBe(EXIT.ok);
    expect(shown.out).toMatch(new RegExp(`^ {2}sha256 {2,}${sha256}$`, 'm'));
    expect(shown.out).toMatch(new RegExp(`^ {2}uploaded as {2,}${caseId}/E1/IMG_LOOSE_0001\\.jpg$`, 'm'));
    const jpeg = await readFile(thumb);
    expect(jpeg.subarray(0, 2).toString('hex')).toBe('ffd8');
    const again = await cli('show', caseId, hit.file.fileId, '--thumbnail', thumb);
    expect(again.err).toMatch(/already exists/);
    expect(again.code).toBe(EXIT.error);

    const detail = JSON.parse((await cli('show', caseId, hit.file.fileId, '--json')).out) as FileDetailBody;
    expect(detail.provenance.upload?.blobName).toBe(`${caseId}/E1/IMG_LOOSE_0001.jpg`);
  });

  it('first hour: an admin sees the new case and assigns an investigator, who finds the file; the examiner downloads it', async () => {
    expect((await cli('login', '--user', 'ada', '--role', 'admin')).code).toBe(EXIT.ok);
    const listed = await cli('cases');
    expect(listed.code).toBe(EXIT.ok);
    expect(listed.out).toMatch(new RegExp(`^${caseId}\\s+\\(not assigned\\)\\s+1\\s+ana@example.org\\s+1\\s+1\\s+complete$`, 'm'));
    const assigned = await cli('assign', caseId, 'ivy', '--role', 'investigator');
    expect(assigned.code).toBe(EXIT.ok);
    expect(assigned.out).toMatch(new RegExp(`^assigned ivy on ${caseId} with investigator`));

    expect((await cli('login', '--user', 'ivy', '--role', 'investigator')).code).toBe(EXIT.ok);
    expect((await cli('whoami')).out).toContain(`  cases     ${caseId}\n`);
    const found = JSON.parse((await cli('search', caseId, '--kind', 'image', '--json')).out) as SearchResultBody;
    expect(found.total).toBe(1);
    const fileId = found.items[0]!.file.fileId;
    // Investigators review; they do not take copies of the bytes.
    expect((await cli('download', caseId, fileId, '-o', path.join(dir, 'ivy.jpg'))).code).toBe(EXIT.error);

    expect((await cli('login', '--user', 'ana@example.org', '--role', 'examiner')).code).toBe(EXIT.ok);
    const out = path.join(dir, 'downloaded.jpg');
    const saved = await cli('download', caseId, fileId, '-o', out);
    expect(saved.code).toBe(EXIT.ok);
    expect(saved.out).toContain(`sha256    ${sample.manifest.sha256}  (matches the recorded SHA-256)`);
    expect((await readFile(out)).equals(sample.bytes)).toBe(true);
  });

  it('show --thumbnail on a file whose thumbnail failed says why, saves nothing, and a 12-digit --hash finds it', async () => {
    // A JPEG whose scan is noise and which has no EXIF preview to fall back to: the thumbnail stage fails.
    const jpeg = await sharp({ create: { width: 64, height: 48, channels: 3, background: '#808080' } }).jpeg().toBuffer();
    const file = path.join(dir, 'IMG_BROKEN.jpg');
    await writeFile(file, destroyScan(jpeg, 'cli-local-host'));
    expect((await cli('upload', file, '--case', caseId, '--evidence', 'E3')).code).toBe(EXIT.ok);
    await host.scanNow();
    const watched = await cli('status', `${caseId}/E3`, '--watch', '--interval-ms', '200', '--json');
    expect((JSON.parse(watched.out) as EvidenceStatusBody).failures).toMatchObject([{ path: 'IMG_BROKEN.jpg', stage: 'thumbnail' }]);

    const sha256 = createHash('sha256').update(await readFile(file)).digest('hex');
    const found = JSON.parse((await cli('search', caseId, '--hash', sha256.slice(0, 12), '--json')).out) as SearchResultBody;
    expect(found.items.map((i) => i.file.path)).toEqual(['IMG_BROKEN.jpg']);
    const fileId = found.items[0]!.file.fileId;

    const out = path.join(dir, 'broken-thumb.jpg');
    const shown = await cli('show', caseId, fileId, '--thumbnail', out);
    expect(shown.code).toBe(EXIT.error);
    expect(shown.err).toMatch(/^exhibit: no thumbnail for IMG_BROKEN\.jpg: it could not be made \(thumbnail: decode-failed: [^\n]+\)\n$/);
    expect(shown.err).not.toMatch(/not assigned/);
    // The detail is still shown, its failure once.
    expect(shown.out.match(/decode-failed/g)).toHaveLength(1);
    await expect(stat(out)).rejects.toMatchObject({ code: 'ENOENT' });
  });

  it.skipIf(!FAT_TOOLS)('upload of a split image\'s first segment sends every segment as one item, the first last; the image is read whole, its files searchable', async () => {
    // A 4 MiB FAT16 volume cut into three raw pieces (split -b), the photo inside the second.
    const img = path.join(dir, 'stick.img');
    execFileSync('mkfs.fat', ['-C', '-F', '16', '-s', '1', '-n', 'STICK', img, '4096'], { stdio: 'pipe' });
    await writeFile(path.join(dir, 'filler.bin'), Buffer.alloc(1_600_000, 7));
    execFileSync('mcopy', ['-i', img, path.join(dir, 'filler.bin'), '::/filler.bin'], { stdio: 'pipe', env: { ...process.env, MTOOLS_SKIP_CHECK: '1' } });
    execFileSync('mcopy', ['-i', img, sample.file, '::/IMG_LOOSE_0001.jpg'], { stdio: 'pipe', env: { ...process.env, MTOOLS_SKIP_CHECK: '1' } });
    const pieces = await mkdtemp(path.join(dir, 'pieces-'));
    execFileSync('split', ['-b', '1500000', '-d', '-a', '3', '--numeric-suffixes=1', img, path.join(pieces, 'stick.')], { stdio: 'pipe' });
    const up = await cli('upload', path.join(pieces, 'stick.001'), '--case', caseId, '--evidence', 'E4', '--json');
    expect(up.code).toBe(EXIT.ok);
    expect(up.err).toContain('adding');
    const uploaded = JSON.parse(up.out) as { uploaded: Array<{ blobName: string; metadata: Record<string, string> }> };
    // The later pieces first, the first last with the number of segments.
    expect(uploaded.uploaded.map((u) => u.blobName)).toEqual([`${caseId}/E4/stick.002`, `${caseId}/E4/stick.003`, `${caseId}/E4/stick.001`]);
    expect(uploaded.uploaded[2]!.metadata['imagesegments']).toBe('3');
    await host.scanNow();
    const watched = await cli('status', `${caseId}/E4`, '--watch', '--interval-ms', '200', '--json');
    const status = JSON.parse(watched.out) as EvidenceStatusBody;
    expect(status.failures).toEqual([]);
    expect(status.uploads.map((u) => u.integrity)).toEqual(['verified', 'verified', 'verified']);
    expect(status.diskImages).toHaveLength(1);
    expect(status.diskImages[0]).toMatchObject({ path: 'stick.001', format: 'split-raw', segmentCount: 3, mediaBytes: (await stat(img)).size });
    expect(status.diskImages[0]!.segments.map((s) => s.name)).toEqual(['001', '002', '003'].map((n) => `${caseId}/E4/stick.${n}`));
    // The set was declared with the first segment's registration, before any piece was sent.
    expect(status.imageSegments.declared).toEqual([expect.objectContaining({ firstSegment: 'stick.001', missing: [], segments: ['001', '002', '003'].map((n) => expect.objectContaining({ fileName: `stick.${n}`, received: true })) })]);
    const text = await cli('status', `${caseId}/E4`);
    expect(text.out).toContain('3 segments read as one image: stick.001, stick.002, stick.003');
    const found = JSON.parse((await cli('search', caseId, '--hash', sample.manifest.sha256.slice(0, 12), '--json')).out) as SearchResultBody;
    expect(found.items.map((i) => i.file.path)).toContain('stick.001!/IMG_LOOSE_0001.jpg');
  }, 120_000);

  it.skipIf(!FAT_TOOLS)('upload --hash-file (md5sum and sha256sum --tag output): each segment is checked against its hashes and they are declared in the set\'s manifest; a wrong one stops the set before its first segment', async () => {
    const img = path.join(dir, 'hashed.img');
    execFileSync('mkfs.fat', ['-C', '-F', '16', '-s', '1', '-n', 'HASHED', img, '4096'], { stdio: 'pipe' });
    execFileSync('mcopy', ['-i', img, sample.file, '::/IMG_LOOSE_0001.jpg'], { stdio: 'pipe', env: { ...process.env, MTOOLS_SKIP_CHECK: '1' } });
    const pieces = await mkdtemp(path.join(dir, 'hashed-'));
    execFileSync('split', ['-b', '1500000', '-d', '-a', '3', '--numeric-suffixes=1', img, path.join(pieces, 'disk.')], { stdio: 'pipe' });
    const names = ['disk.001', 'disk.002', 'disk.003'];
    // As an imaging tool leaves them beside the pieces: md5sum's form with ./ paths, and the BSD form.
    await writeFile(path.join(pieces, 'disk.md5'), execFileSync('md5sum', names.map((n) => `./${n}`), { cwd: pieces }));
    await writeFile(path.join(pieces, 'disk.sha256'), execFileSync('sha256sum', ['--tag', ...names], { cwd: pieces }));
    const digest = async (alg: string, n: string) => createHash(alg).update(await readFile(path.join(pieces, n))).digest('hex');

    const up = await cli('upload', path.join(pieces, 'disk.001'), '--hash-file', path.join(pieces, 'disk.md5'), '--hash-file', path.join(pieces, 'disk.sha256'), '--case', caseId, '--evidence', 'E5', '--json');
    expect(up.code, up.err).toBe(EXIT.ok);
    const manifest = await host.app.stageDeps.index.getSegmentManifest(`${caseId}/E5/disk.001`);
    expect(manifest.map((e) => ({ fileName: e.fileName, md5: e.md5, sha256: e.sha256, sha1: e.sha1 }))).toEqual(
      await Promise.all(names.map(async (n) => ({ fileName: n, md5: await digest('md5', n), sha256: await digest('sha256', n), sha1: undefined }))),
    );
    await host.scanNow();
    const status = JSON.parse((await cli('status', `${caseId}/E5`, '--watch', '--interval-ms', '200', '--json')).out) as EvidenceStatusBody;
    expect(status.failures).toEqual([]);
    expect(status.uploads.map((u) => [u.fileName, u.integrity, u.acquisition.md5])).toEqual(await Promise.all(names.map(async (n) => [n, 'verified', await digest('md5', n)])));
    expect(status.diskImages[0]).toMatchObject({ path: 'disk.001', format: 'split-raw', segmentCount: 3 });

    // A wrong MD5 for the third piece: refused before it is committed (exit 3), and the first piece is not sent.
    const wrong = (await readFile(path.join(pieces, 'disk.md5'), 'utf8')).replace(await digest('md5', 'disk.003'), '0'.repeat(32));
    await writeFile(path.join(pieces, 'wrong.md5'), wrong);
    const refused = await cli('upload', path.join(pieces, 'disk.001'), '--hash-file', path.join(pieces, 'wrong.md5'), '--case', caseId, '--evidence', 'E6', '--json');
    expect(refused.code).toBe(EXIT.integrity);
    const result = JSON.parse(refused.out) as { uploaded: Array<{ blobName: string }>; failed: Array<{ file: string; message: string }> };
    expect(result.uploaded.map((u) => u.blobName)).toEqual([`${caseId}/E6/disk.002`]);
    expect(result.failed.map((f) => path.basename(f.file))).toEqual(['disk.003', 'disk.001']);
    // A malformed list is a usage error before anything is sent.
    await writeFile(path.join(pieces, 'bad.md5'), 'not a hash line\n');
    expect((await cli('upload', path.join(pieces, 'disk.001'), '--hash-file', path.join(pieces, 'bad.md5'), '--case', caseId, '--evidence', 'E7')).code).toBe(EXIT.usage);
  }, 120_000);

  it('`status … | head`: a closed pipe ends the command quietly', async () => {
    const pipe = await closedPipe();
    try {
      const res = await runCliProcess(['status', caseId], { stdout: pipe.end }, { ...env, EXHIBIT_API_URL: `http://127.0.0.1:${env.EXHIBIT_API_PORT}/api` });
      expect(res.err).toBe('');
      expect(res.signal).toBeNull();
      // The command's own verdict (E3 holds a failed file, so not every item is clean: 0 or 3), never a crash.
      expect([EXIT.ok, EXIT.integrity]).toContain(res.code);
    } finally {
      pipe.close();
    }
  }, 60_000);

  it('refuses to upload the same evidence twice (exit 1) and a wrong acquisition hash (exit 3)', async () => {
    const twice = await cli('upload', sample.file, '--case', caseId, '--evidence', 'E1');
    expect(twice.err).toMatch(/already exists/);
    expect(twice.code).toBe(EXIT.error);
    const wrong = await cli('upload', sample.file, '--case', caseId, '--evidence', 'E2', '--md5', '0'.repeat(32));
    expect(wrong.err).toMatch(/does not match the acquisition hash; nothing was committed/);
    expect(wrong.code).toBe(EXIT.integrity);
  });

  it('a user not assigned to the case gets not-found; without a token, a hint to log in', async () => {
    expect((await cli('login', '--user', 'bob', '--role', 'investigator')).code).toBe(EXIT.ok);
    const bob = await cli('status', `${caseId}/E1`);
    expect(bob.err).toMatch(/not found.*not assigned/);
    expect(bob.code).toBe(EXIT.error);

    await rm(path.join(env.EXHIBIT_DATA_DIR!, 'cli-token'));
    const anon = await cli('search', caseId);
    expect(anon.err).toContain('run `npm run exhibit -- login --user NAME --role ROLE`');
    expect(anon.code).toBe(EXIT.error);
  });
});
