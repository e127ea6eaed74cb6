import { execFileSync, spawnSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { copyFileSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EXIT } from '../cli-error.js';
import { createCliContext } from '../context.js';
import { loadCommandModules } from '../main.js';
import { runCli } from '../program.js';
import { CapturedStream } from '../test-support.js';
import { tamperEwfMedia } from '../../../pipeline/src/disk/test-support/memory-card.builder.js';
import { fls, icatMd5, mbrSector } from '../../../pipeline/src/disk/test-support/disk-image.builder.js';
import type { ImageFileSystemRow } from './image.command.js';

const tools = ['mkfs.fat', 'mcopy', 'mdel', 'ewfacquire'];
const missing = tools.filter((t) => spawnSync('sh', ['-c', `command -v ${t}`]).status !== 0);

async function run(...argv: string[]) {
  const stdout = new CapturedStream();
  const stderr = new CapturedStream();
  // A local command: nothing may reach storage or the API.
  const ctx = createCliContext({ env: { EXHIBIT_API_URL: 'http://127.0.0.1:9/api', EXHIBIT_DATA_DIR: '/nonexistent' }, stdout, stderr });
  const code = await runCli(argv, ctx, await Promise.all(loadCommandModules()));
  return { code, out: stdout.text, err: stderr.text };
}

describe.skipIf(missing.length > 0)('exhibit image ls', { timeout: 60_000 }, () => {
  let dir = '';
  const photo = Buffer.from('not really a jpeg, but bytes with a known hash\n'.repeat(200));
  const md5 = (b: Buffer) => createHash('md5').update(b).digest('hex');
  const filler = createHash('sha512').update('filler').digest().toString('hex').repeat(20_000).slice(0, 2_500_000);
  beforeAll(() => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'exhibit-image-ls-'));
    const img = path.join(dir, 'card.img');
    const sh = (cmd: string, args: string[]) => execFileSync(cmd, args, { env: { ...process.env, MTOOLS_SKIP_CHECK: '1' }, stdio: 'pipe' });
    sh('mkfs.fat', ['-C', '-F', '16', '-s', '1', '-n', 'CARD', img, '4096']);
    writeFileSync(path.join(dir, 'photo'), photo);
    sh('mcopy', ['-i', img, path.join(dir, 'photo'), '::/Holiday photo.jpg']);
    sh('mcopy', ['-i', img, path.join(dir, 'photo'), '::/removed.jpg']);
    sh('mdel', ['-i', img, '::/removed.jpg']);
    sh('ewfacquire', ['-u', '-t', path.join(dir, 'card'), '-c', 'fast', '-C', 'CASE-9', '-e', 'J. Smith', '-d', 'sha1', img]);
    sh('split', ['-b', '1500000', '-d', '-a', '3', '--numeric-suffixes=1', img, path.join(dir, 'card.raw.')]);
    // A 4 MiB card in 1 MiB stored segments: the photo in segment 1, 2.5 MB of incompressible filler through segments 1-3.
    const big = path.join(dir, 'big.img');
    sh('mkfs.fat', ['-C', '-F', '16', '-s', '1', '-n', 'BIG', big, '4096']);
    sh('mcopy', ['-i', big, path.join(dir, 'photo'), '::/early.jpg']);
    writeFileSync(path.join(dir, 'filler'), filler);
    sh('mcopy', ['-i', big, path.join(dir, 'filler'), '::/filler.bin']);
    sh('ewfacquire', ['-u', '-t', path.join(dir, 'big'), '-c', 'none', '-S', '1MiB', big]);
  }, 30_000);
  afterAll(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('--json --md5 prints one object per file system with its files, allocated and deleted, and their MD5s', async () => {
    const { code, out } = await run('image', 'ls', path.join(dir, 'card.img'), '--json', '--md5');
    expect(code).toBe(EXIT.ok);
    const rows = JSON.parse(out) as ImageFileSystemRow[];
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({ image: { format: 'raw', scheme: 'none' }, fileSystem: 'fat16', label: 'CARD' });
    expect(rows[0]!.files.map((f) => ({ path: f.path, allocated: f.allocated, recovered: f.recovered, size: f.size, md5: f.md5 }))).toEqual([
      { path: 'Holiday photo.jpg', allocated: true, recovered: false, size: photo.length, md5: md5(photo) },
      { path: '_emoved.jpg', allocated: false, recovered: true, size: photo.length, md5: md5(photo) },
    ]);
    // FAT times are the camera's wall clock: printed without a zone.
    expect(rows[0]!.files[0]!.modified).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d$/);
  });

  it('on an E01 prints the acquisition header and, with --verify, checks the stored hashes', async () => {
    const { code, out } = await run('image', 'ls', path.join(dir, 'card.E01'), '--verify');
    expect(code).toBe(EXIT.ok);
    expect(out).toContain('case number: CASE-9');
    expect(out).toContain('examiner: J. Smith');
    expect(out).toMatch(/media MD5 [0-9a-f]{32} \(matches\), SHA-1 [0-9a-f]{40} \(matches\)/);
    expect(out).toContain('Holiday photo.jpg');
  });

  it('split raw given in any order is read in the order of its numbers; a missing piece is refused with its reason', async () => {
    const piece = (n: number) => path.join(dir, `card.raw.00${n}`);
    const whole = await run('image', 'ls', path.join(dir, 'card.img'), '--json', '--md5');
    const shuffled = await run('image', 'ls', piece(3), piece(1), piece(2), '--json', '--md5');
    expect(shuffled.code).toBe(EXIT.ok);
    const rows = JSON.parse(shuffled.out) as ImageFileSystemRow[];
    expect(rows[0]!.image).toMatchObject({ format: 'split-raw', segments: 3 });
    expect(rows[0]!.files).toEqual((JSON.parse(whole.out) as ImageFileSystemRow[])[0]!.files);
    // Exactly three pieces: the whole image, no fourth left behind.
    expect(readdirSync(dir).filter((f) => f.startsWith('card.raw.'))).toHaveLength(3);
    const gap = await run('image', 'ls', piece(1), piece(3));
    expect(gap.code).toBe(EXIT.error);
    expect(gap.err).toMatch(/segment 2 of .*card\.raw\.001 was not given \[segment-missing\]/);
  });

  it('regression: split-raw-short-middle-segment-read-shifted — a split raw set whose middle piece is cut short is never listed with shifted data: its lost tail is named, every file reads as from the whole set, exit with the integrity code', async () => {
    // The pieces after the short one were read early by its missing length: files listed with wrong MD5s, exit 0.
    // (It was then refused as segment-truncated; now the lost range is read as lost: split-raw-short-middle-segment-refused.)
    // Pieces of 1000000 (at least two full pieces before the last attest the size; with three pieces only the first
    // would: split-raw-three-pieces-short-middle-read-at-guessed-offset); piece 3 keeps 500000 of its 1000000.
    const piece = (n: number) => path.join(dir, `card.raw.00${n}`);
    const short = (n: number) => path.join(dir, `short.raw.00${n}`);
    execFileSync('split', ['-b', '1000000', '-d', '-a', '3', '--numeric-suffixes=1', path.join(dir, 'card.img'), path.join(dir, 'short.raw.')]);
    const shorts = readdirSync(dir).filter((f) => f.startsWith('short.raw.')).sort().map((f) => path.join(dir, f));
    expect(shorts.length).toBeGreaterThanOrEqual(4);
    writeFileSync(short(3), readFileSync(short(3)).subarray(0, 500_000));
    const { code, out } = await run('image', 'ls', ...shorts, '--md5', '--json');
    expect(code).toBe(EXIT.integrity);
    const rows = JSON.parse(out) as ImageFileSystemRow[];
    expect(rows[0]!.incomplete).toEqual([
      { reason: 'segment-truncated', message: expect.stringMatching(/^segment 3 of .*short\.raw\.001 \(.*short\.raw\.003\) holds 500000 bytes, the first and every other before the last 1000000: its last 500000 bytes are lost \(media bytes 2500000 to 3000000\)/) },
    ]);
    // No file of the card lies in the lost range: every one equal to the whole image's, none shifted.
    expect(rows[0]!.image.mediaBytes).toBe(readFileSync(path.join(dir, 'card.img')).length);
    expect(rows[0]!.files).toEqual((JSON.parse((await run('image', 'ls', path.join(dir, 'card.img'), '--json', '--md5')).out) as ImageFileSystemRow[])[0]!.files);
    // Three pieces, the middle one short: only the first attests the piece size, so which offset piece 3 starts at is a
    // guess: refused (split-raw-three-pieces-short-middle-read-at-guessed-offset).
    const three = (n: number) => path.join(dir, `three.raw.00${n}`);
    copyFileSync(piece(1), three(1));
    writeFileSync(three(2), readFileSync(piece(2)).subarray(0, 1_000_000));
    copyFileSync(piece(3), three(3));
    const guessed = await run('image', 'ls', three(1), three(2), three(3));
    expect(guessed.err).toMatch(/segment 2 of .*three\.raw\.001 \(.*three\.raw\.002\) holds 1000000 bytes, the first holds 1500000: only the last may be shorter.*\[segment-truncated\]/);
    expect(guessed.code).toBe(EXIT.error);
    expect(guessed.out).toBe('');
    // A last piece longer than the others is no splitter's either.
    const long3 = (n: number) => path.join(dir, `long.raw.00${n}`);
    copyFileSync(piece(1), long3(1));
    copyFileSync(piece(2), long3(2));
    writeFileSync(long3(3), Buffer.concat([readFileSync(piece(3)), Buffer.alloc(1_500_001 - readFileSync(piece(3)).length)]));
    const long = await run('image', 'ls', long3(1), long3(2), long3(3));
    expect(long.err).toMatch(/the last segment of .*long\.raw\.001 \(.*long\.raw\.003\) holds 1500001 bytes; a split image's last segment holds 1 to 1500000 \[segment-truncated\]/);
    expect(long.code).toBe(EXIT.error);
    // Not one lost tail (two pieces short, or the first short: the piece size unknown): refused.
    execFileSync('split', ['-b', '1000000', '-d', '-a', '3', '--numeric-suffixes=1', path.join(dir, 'card.img'), path.join(dir, 'five.raw.')]);
    const five = (n: number) => path.join(dir, `five.raw.00${n}`);
    const all = [1, 2, 3, 4, 5].map(five);
    writeFileSync(five(2), readFileSync(five(2)).subarray(0, 600_000));
    writeFileSync(five(3), readFileSync(five(3)).subarray(0, 600_000));
    const two = await run('image', 'ls', ...all);
    expect(two.err).toMatch(/segment 2 of .*five\.raw\.001 \(.*five\.raw\.002\) holds 600000 bytes, the first holds 1000000: only the last may be shorter, or one other piece whose tail was lost \(2 pieces before the last differ from the first\) \[segment-truncated\]/);
    expect(two.code).toBe(EXIT.error);
    expect(two.out).toBe('');
    execFileSync('split', ['-b', '1000000', '-d', '-a', '3', '--numeric-suffixes=1', path.join(dir, 'card.img'), path.join(dir, 'five.raw.')]);
    writeFileSync(five(1), readFileSync(five(1)).subarray(0, 600_000));
    const firstShort = await run('image', 'ls', ...all);
    expect(firstShort.err).toMatch(/segment 2 of .*five\.raw\.001 \(.*five\.raw\.002\) holds 1000000 bytes, the first holds 600000: only the last may be shorter.*\[segment-truncated\]/);
    expect(firstShort.code).toBe(EXIT.error);
  });

  it('regression: split-raw-short-middle-segment-refused — a split raw set whose middle piece lost its tail lists every file; those needing the lost range fail typed, the rest equal icat over the whole image; exit with the integrity code', async () => {
    // big.img: early.jpg near the start, 2.5 MB of filler.bin from there on. Piece 3 (750000 bytes each, so at least two
    // full pieces before the last attest the size) keeps 400000 bytes: media bytes 1900000 to 2250000 are lost, inside filler.bin.
    const whole = path.join(dir, 'big.img');
    execFileSync('split', ['-b', '750000', '-d', '-a', '3', '--numeric-suffixes=1', whole, path.join(dir, 'bigcut.raw.')]);
    const piece = (n: number) => path.join(dir, `bigcut.raw.00${n}`);
    const pieces = readdirSync(dir).filter((f) => f.startsWith('bigcut.raw.')).sort().map((f) => path.join(dir, f));
    expect(pieces.length).toBeGreaterThanOrEqual(4);
    writeFileSync(piece(3), readFileSync(piece(3)).subarray(0, 400_000));
    const { code, out } = await run('image', 'ls', ...pieces, '--md5');
    // Before: refused, nothing listed ("segment 3 … only the last may be shorter [segment-truncated]", exit 1).
    expect(code).toBe(EXIT.integrity);
    expect(out).toMatch(/media incomplete: the media is incomplete \(segment 3 of .*bigcut\.raw\.001 .* \(media bytes 1900000 to 2250000\).*\[segment-truncated\]\)/);
    expect(out).not.toMatch(/stored hashes/);
    const json = JSON.parse((await run('image', 'ls', ...pieces, '--md5', '--json')).out) as ImageFileSystemRow[];
    const files = json[0]!.files;
    const tsk = fls([whole]).filter((e) => e.type === 'r/r');
    let read = 0;
    for (const entry of tsk) {
      const f = files.find((x) => x.entryId === entry.entryId)!;
      expect(f, entry.path).toBeDefined();
      if (f.md5 === null) expect(f.problem, entry.path).toMatch(/^corrupt-file: media bytes \d+ to \d+ are not in the segments given: .*\[segment-truncated\]$/);
      else {
        expect(f.md5, entry.path).toBe(icatMd5([whole], entry.entryId));
        read += 1;
      }
    }
    expect(files.find((f) => f.path === 'filler.bin')).toMatchObject({ md5: null, problem: expect.stringMatching(/media bytes 1900000 to /) });
    expect(files.find((f) => f.path === 'early.jpg')).toMatchObject({ md5: md5(photo), problem: null });
    expect(read).toBeGreaterThanOrEqual(1);
  });

  it('regression: ewf-damaged-chunk-verify-lists-nothing — --verify on an E01 whose chunk fails its Adler-32 lists every file, reports the check failed naming the chunk, and exits with the integrity code', async () => {
    // The card with random bytes in free space at 3 MiB (no file there), acquired uncompressed, then one byte of that
    // chunk flipped with its Adler-32 left as acquired: bit rot or a hand edit. ewfverify says FAILURE for it.
    const marked = path.join(dir, 'marked.img');
    const at = 3 * 1024 * 1024;
    const media = readFileSync(path.join(dir, 'card.img'));
    randomBytes(32 * 1024).copy(media, at);
    writeFileSync(marked, media);
    execFileSync('ewfacquire', ['-u', '-t', path.join(dir, 'marked'), '-c', 'none', '-d', 'sha1', marked], { stdio: 'pipe' });
    const damaged = path.join(dir, 'damaged.E01');
    tamperEwfMedia(path.join(dir, 'marked.E01'), marked, damaged, at + 100, undefined, { checksum: 'left-broken' });
    const chunk = `EWF chunk ${at / (32 * 1024)}: Adler-32 mismatch`;

    const text = await run('image', 'ls', damaged, '--md5', '--verify');
    expect(text.out).toContain(`stored hashes NOT VERIFIED: the media could not be read whole (corrupt-file: ${chunk})`);
    expect(text.out).toContain(`${md5(photo)}\tHoliday photo.jpg`);
    expect(text.code).toBe(EXIT.integrity);

    const json = await run('image', 'ls', damaged, '--md5', '--verify', '--json');
    expect(json.code).toBe(EXIT.integrity);
    const rows = JSON.parse(json.out) as ImageFileSystemRow[];
    expect(rows[0]!.ewf!.verification).toEqual({
      result: 'failed',
      stored: { md5: md5(media), sha1: createHash('sha1').update(media).digest('hex') },
      computed: null,
      md5Matches: null,
      sha1Matches: null,
      problem: `corrupt-file: ${chunk}`,
    });
    expect(rows[0]!.files.find((f) => f.path === 'Holiday photo.jpg')).toMatchObject({ md5: md5(photo), problem: null });

    // Not asked to verify, nothing is claimed: the files list as before (the chunk holds none).
    expect((await run('image', 'ls', damaged, '--md5')).code).toBe(EXIT.ok);
    // The same image with that chunk's checksum recomputed reads cleanly and is a plain mismatch.
    tamperEwfMedia(path.join(dir, 'marked.E01'), marked, path.join(dir, 'changed.E01'), at + 100);
    const changed = await run('image', 'ls', path.join(dir, 'changed.E01'), '--verify', '--json');
    expect(changed.code).toBe(EXIT.integrity);
    expect((JSON.parse(changed.out) as ImageFileSystemRow[])[0]!.ewf!.verification).toMatchObject({ result: 'mismatch', md5Matches: false, sha1Matches: false });
  });

  it('ewf-truncated-segment-refuses-whole-image: a set with a segment cut or missing lists its files, fails those in the lost part typed, reports the stored hashes uncheckable, exit with the integrity code', async () => {
    const segments = readdirSync(dir).filter((f) => /^big\.E\d\d$/.test(f)).sort().map((f) => path.join(dir, f));
    expect(segments.length).toBeGreaterThanOrEqual(4);
    const cut = path.join(dir, 'cut', 'big.E02');
    execFileSync('mkdir', ['-p', path.dirname(cut)]);
    writeFileSync(cut, readFileSync(segments[1]!).subarray(0, 400_000));
    for (const [given, reason] of [
      [[segments[0]!, cut, ...segments.slice(2)], 'segment-truncated'],
      [[segments[0]!, ...segments.slice(2)], 'segment-missing'],
    ] as const) {
      const { code, out } = await run('image', 'ls', ...given, '--md5', '--verify');
      expect(code).toBe(EXIT.integrity);
      expect(out).toMatch(new RegExp(`media incomplete: the stored hashes cannot be checked: the media is incomplete \\(EWF segment 2.*\\[${reason}\\]\\)`));
      expect(out).not.toMatch(/media MD5/);
      expect(out).toMatch(new RegExp(`\\t${md5(photo)}\\tearly\\.jpg\\n`));
      expect(out).toMatch(new RegExp(`\\t-\\tfiller\\.bin\\t\\[corrupt-file: EWF chunk \\d+ .*\\[${reason}\\]\\]`));
    }
  });

  it('regression: single-segment-e01-cut-in-sectors-section-loses-every-chunk — an E01 in one segment cut inside its one sectors section lists the files in the chunks before the cut with their MD5s, reports the media incomplete, exit with the integrity code', async () => {
    // card.E01 (compressed, one segment): its sectors section is located only by the table after it. Cut 200 bytes
    // before that table, the section loses its last chunk(s) (empty space of the card) and its table; the walk of the
    // section places the rest by their own checksums. Before the walk: "EWF chunk 0 … [segment-truncated]", exit 1.
    const whole = readFileSync(path.join(dir, 'card.E01'));
    let table = 13;
    while (whole.subarray(table, table + 16).toString('latin1').replace(/\0.*$/s, '') !== 'table') table = Number(whole.readBigUInt64LE(table + 16));
    const cut = path.join(dir, 'cut', 'card.E01');
    execFileSync('mkdir', ['-p', path.dirname(cut)]);
    writeFileSync(cut, whole.subarray(0, table - 200));
    const { code, out } = await run('image', 'ls', cut, '--md5', '--verify');
    expect(code).toBe(EXIT.integrity);
    // The hash and digest sections come after the table: lost with it, so no stored hash is named, none checked.
    expect(out).toMatch(/media incomplete: the media is incomplete \(EWF segment 1: section 'sectors' .* runs past the segment end .*\[segment-truncated\]\)/);
    expect(out).not.toMatch(/media MD5/);
    expect(out).toMatch(new RegExp(`\\t${md5(photo)}\\tHoliday photo\\.jpg\\n`));
    const json = JSON.parse((await run('image', 'ls', cut, '--md5', '--json')).out) as ImageFileSystemRow[];
    expect(json[0]!.files).toEqual((JSON.parse((await run('image', 'ls', path.join(dir, 'card.E01'), '--json', '--md5')).out) as ImageFileSystemRow[])[0]!.files);
  });

  it('regression: file-system-read-past-partition-entry-unrecorded — a FAT16 read on past its MBR entry into another entry prints a volume note naming that partition, in text and --json; the note alone exits 0', async () => {
    const fsImg = path.join(dir, 'past-entry-fs.img');
    execFileSync('mkfs.fat', ['-C', '-F', '16', '-s', '4', fsImg, '20480'], { stdio: 'pipe' });
    execFileSync('mcopy', ['-i', fsImg, path.join(dir, 'photo'), '::/photo.jpg'], { env: { ...process.env, MTOOLS_SKIP_CHECK: '1' }, stdio: 'pipe' });
    const fsBytes = readFileSync(fsImg);
    const disk = path.join(dir, 'past-entry.img');
    // Entry 0 holds 12 of the file system's 20 MiB; entry 1 lies in the 8 MiB the file system is read on over.
    writeFileSync(disk, Buffer.concat([mbrSector([{ type: 0x06, startSector: 2048, sectors: 24576 }, { type: 0x83, startSector: 30720, sectors: 4096 }]), Buffer.alloc(1024 * 1024 - 512), fsBytes]));
    const text = await run('image', 'ls', disk, '--md5');
    // Before: exit 0 with no word of it; volume 0 read 8 MiB past its entry, over volume 1's.
    expect(text.out).toMatch(/volume note \(mbr 0\): read-past-entry: volume 0: its fat file system declares 20971520 bytes, its partition entry 12582912: read on 8388608 bytes past the entry .* overlap the partition entry of volume 1 \(mbr 1, /);
    expect(text.out).toContain(`${md5(photo)}\tphoto.jpg`);
    // Volume 1 holds no file system: that is its own problem (exit 1), not the note's.
    expect(text.code).toBe(EXIT.error);
    const json = JSON.parse((await run('image', 'ls', disk, '--json')).out) as ImageFileSystemRow[];
    expect(json[0]!.image.volumeProblems).toEqual([expect.objectContaining({ where: 'mbr 0', code: 'read-past-entry' })]);
    expect(json[0]!.problem).toBeNull();
    // The same file system alone in its short entry: the note, and nothing failed.
    writeFileSync(disk, Buffer.concat([mbrSector([{ type: 0x06, startSector: 2048, sectors: 24576 }]), Buffer.alloc(1024 * 1024 - 512), fsBytes]));
    const alone = await run('image', 'ls', disk);
    expect(alone.out).toMatch(/volume note \(mbr 0\): read-past-entry: .*no other partition entry covers those bytes/);
    expect(alone.code).toBe(EXIT.ok);
  });

  it('an unreadable image is a typed error with exit 1, not a crash', async () => {
    const bad = path.join(dir, 'bad.E01');
    writeFileSync(bad, Buffer.concat([Buffer.from([0x45, 0x56, 0x46, 0x09, 0x0d, 0x0a, 0xff, 0x00, 0x01, 0x01, 0, 0, 0]), Buffer.alloc(200)]));
    const { code, err } = await run('image', 'ls', bad);
    expect(code).toBe(EXIT.error);
    expect(err).toMatch(/corrupt-file/);
  });
});
