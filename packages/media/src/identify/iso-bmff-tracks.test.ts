import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it, type TestContext } from 'vitest';
import type { Identification } from '@exhibit/core';
import { BufferSource } from '../test-support/buffer.source.js';
import { makeWithFfmpeg, testTools } from '../test-support/fixtures.js';
import { FileTypeIdentifier } from './file-type.identifier.js';
import { MEDIA_LIMITS } from '../media-limits.js';
import { holdsVideoTrack, MOTION_VIDEO, trackHandlers, typeByTracks } from './iso-bmff-tracks.js';

/**
 * Audio-only MP4, 3GPP and QuickTime files (voice memos, WhatsApp and
 * recorder audio) by their tracks' handler types, not their brands, with
 * exiftool (`-MIMEType`) and libmagic (`file --mime-type`) asked about the
 * same bytes where installed.
 */

const identifier = new FileTypeIdentifier();
const identify = (bytes: Buffer, name = 'evidence.bin') => identifier.identify(new BufferSource(bytes, name));

const exiftoolAvailable = spawnSync('exiftool', ['-ver']).status === 0;
const libmagicAvailable = spawnSync('file', ['--version']).status === 0;

function oracles(ctx: TestContext, bytes: Buffer): { exiftool: string | null; libmagic: string | null } {
  let exiftool: string | null = null;
  if (exiftoolAvailable) {
    const dir = mkdtempSync(join(tmpdir(), 'exhibit-tracks-'));
    try {
      writeFileSync(join(dir, 'evidence'), bytes);
      exiftool = spawnSync('exiftool', ['-s3', '-MIMEType', join(dir, 'evidence')], { encoding: 'utf8' }).stdout.trim() || null;
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  } else void ctx.annotate('exiftool oracle not asked: exiftool is not installed', 'notice');
  let libmagic: string | null = null;
  if (libmagicAvailable) libmagic = spawnSync('file', ['--mime-type', '-b', '-'], { input: bytes, encoding: 'utf8' }).stdout.trim() || null;
  else void ctx.annotate('libmagic oracle not asked: `file` is not installed', 'notice');
  return { exiftool, libmagic };
}

const sine = (seconds: number) => ['-f', 'lavfi', '-i', `sine=d=${seconds}`];
const pattern = ['-f', 'lavfi', '-i', 'testsrc=d=1:s=64x48:r=10', '-c:v', 'mpeg4'];

/** An ISO-BMFF box. */
function box(type: string, ...payload: Buffer[]): Buffer {
  const body = Buffer.concat(payload);
  const header = Buffer.alloc(8);
  header.writeUInt32BE(8 + body.length, 0);
  header.write(type, 4, 'latin1');
  return Buffer.concat([header, body]);
}
const ftyp = (major: string, ...compatible: string[]) => box('ftyp', Buffer.from(major, 'latin1'), Buffer.alloc(4), ...compatible.map((b) => Buffer.from(b, 'latin1')));
/** A track whose `mdia/hdlr` names `handler` (FullBox header, pre_defined, handler type, reserved, empty name). */
const trak = (handler: string) => box('trak', box('mdia', box('hdlr', Buffer.alloc(8), Buffer.from(handler, 'latin1'), Buffer.alloc(13))));

describe('audio-only ISO-BMFF by its tracks (ffmpeg-made, oracles asked)', () => {
  it('isom-voice-note-identified-as-video: an AAC recording in an isom MP4 is audio/mp4', async (ctx) => {
    // Android's recorders (and `ffmpeg -c:a aac x.mp4`): brand isom, one 'soun' track, moov after mdat.
    const mp4 = await makeWithFfmpeg([...sine(2), '-c:a', 'aac', '-f', 'mp4'], 'mp4');
    expect(mp4.indexOf('moov')).toBeGreaterThan(mp4.indexOf('mdat'));
    expect(await identify(mp4, 'Voice 001.m4a')).toEqual({ mime: 'audio/mp4', detectedExt: 'm4a', kind: 'audio', findings: [] });
    const oracle = oracles(ctx, mp4);
    if (oracle.exiftool) expect(oracle.exiftool).toBe('audio/mp4');
    // An MP4 container holding audio is no mismatch under either name.
    const id = await identify(mp4);
    expect(identifier.extensionMismatch('Voice 001.m4a', id)).toBe(false);
    expect(identifier.extensionMismatch('clip.mp4', id)).toBe(false);
    expect(identifier.extensionMismatch('Voice 001.jpg', id)).toBe(true);
  });

  it('keeps the M4A brand answer for an iPhone-style voice memo (ftyp M4A, moov at the front)', async (ctx) => {
    const m4a = await makeWithFfmpeg([...sine(2), '-c:a', 'aac', '-movflags', '+faststart'], 'm4a');
    expect(m4a.indexOf('moov')).toBeLessThan(m4a.indexOf('mdat'));
    expect(await identify(m4a, 'New Recording.m4a')).toMatchObject({ detectedExt: 'm4a', kind: 'audio' });
    const oracle = oracles(ctx, m4a);
    if (oracle.exiftool) expect(oracle.exiftool).toBe('audio/mp4');
    if (oracle.libmagic) expect(oracle.libmagic).toBe('audio/x-m4a');
  });

  it('3gp-audio-identified-as-video: a 3GP with only an AAC track is audio/3gpp (RFC 3839)', async (ctx) => {
    // This ffmpeg has no AMR encoder; AAC in 3GP is what WhatsApp and recorders also write.
    const gp = await makeWithFfmpeg([...sine(2), '-c:a', 'aac', '-f', '3gp'], '3gp');
    const id = await identify(gp, 'Recording.3gp');
    expect(id).toEqual({ mime: 'audio/3gpp', detectedExt: '3gp', kind: 'audio', findings: [] });
    expect(identifier.extensionMismatch('Recording.3ga', id)).toBe(false);
    // exiftool and libmagic name every 3GP by its brand (video/3gpp); RFC 3839 registers audio/3gpp for one with no video.
    const oracle = oracles(ctx, gp);
    if (oracle.exiftool) expect(oracle.exiftool).toBe('video/3gpp');
    // A 3GP with a video track stays video.
    const video = await makeWithFfmpeg([...pattern, '-f', '3gp'], '3gp');
    expect(await identify(video)).toMatchObject({ mime: 'video/3gpp', kind: 'video' });
  });

  it('mov-audio-only-kind-video: a QuickTime movie of sound alone keeps video/quicktime (as exiftool and libmagic say) with the kind audio', async (ctx) => {
    const mov = await makeWithFfmpeg([...sine(2), '-c:a', 'aac', '-f', 'mov'], 'mov');
    const id = await identify(mov, 'memo.mov');
    expect(id).toEqual({ mime: 'video/quicktime', detectedExt: 'mov', kind: 'audio', findings: [] });
    expect(identifier.extensionMismatch('memo.mov', id)).toBe(false);
    const oracle = oracles(ctx, mov);
    if (oracle.exiftool) expect(oracle.exiftool).toBe('video/quicktime');
    if (oracle.libmagic) expect(oracle.libmagic).toBe('video/quicktime');
  });

  it('video with sound stays video/mp4; a video-only MP4 stays video', async (ctx) => {
    const both = await makeWithFfmpeg([...pattern, ...sine(1), '-c:a', 'aac', '-f', 'mp4'], 'mp4');
    const id = await identify(both, 'Voice 002.m4a');
    expect(id).toMatchObject({ mime: 'video/mp4', detectedExt: 'mp4', kind: 'video' });
    // mp4 fits .m4a by type alone (stale-content-m4a-false-ext-mismatch below says why); its tracks flag it
    // (extensionContradicted: m4a-holding-video-not-flagged-ext-mismatch).
    expect(identifier.extensionMismatch('Voice 002.m4a', id)).toBe(false);
    expect(identifier.extensionMismatch('clip.mp4', id)).toBe(false);
    const oracle = oracles(ctx, both);
    if (oracle.exiftool) expect(oracle.exiftool).toBe('video/mp4');
    const videoOnly = await makeWithFfmpeg([...pattern, '-f', 'mp4'], 'mp4');
    expect(await identify(videoOnly, 'clip.mp4')).toEqual({ mime: 'video/mp4', detectedExt: 'mp4', kind: 'video', findings: [] });
  });

  it('stale-content-m4a-false-ext-mismatch: a content stored as mp4 before tracks were read is no mismatch under .m4a', () => {
    // Identify runs once per SHA-256 across cases: an Android voice note stored as mp4/video by an earlier
    // version keeps that answer, and the identify step re-checks only the name against it (identify.step.ts).
    const stored = { mime: 'video/mp4', detectedExt: 'mp4', kind: 'video' as const };
    expect(identifier.extensionMismatch('Voice 001.m4a', stored)).toBe(false);
    expect(identifier.extensionMismatch('Voice 001.mp3', stored)).toBe(true);
  });

  it('m4a-holding-video-not-flagged-ext-mismatch: an MP4 with a video track under .m4a is contradicted by its tracks; a stored voice note or a cut one is not', async () => {
    const contradicted = (name: string, bytes: Buffer, id: Identification) =>
      identifier.extensionContradicted(name, id, new BufferSource(bytes, name));
    const both = await makeWithFfmpeg([...pattern, ...sine(1), '-c:a', 'aac', '-f', 'mp4'], 'mp4');
    const bothId = await identify(both, 'Voice 002.m4a');
    expect(await contradicted('Voice 002.m4a', both, bothId)).toBe(true);
    expect(await contradicted('VOICE 002.M4A', both, bothId)).toBe(true);
    const videoOnly = await makeWithFfmpeg([...pattern, '-f', 'mp4'], 'mp4');
    expect(await contradicted('clip.m4a', videoOnly, await identify(videoOnly, 'clip.m4a'))).toBe(true);
    // Its own names, or a name the type does not fit at all (extensionMismatch's), are not asked.
    for (const name of ['clip.mp4', 'clip.m4v', 'clip', 'clip.mp3']) expect({ name, c: await contradicted(name, both, bothId) }).toEqual({ name, c: false });
    // stale-content-m4a-false-ext-mismatch: a voice note stored as mp4/video before tracks were read is read again
    // from its bytes: sound alone, no flag.
    const memo = await makeWithFfmpeg([...sine(2), '-c:a', 'aac', '-f', 'mp4'], 'mp4');
    expect(await contradicted('Voice 001.m4a', memo, { mime: 'video/mp4', detectedExt: 'mp4', kind: 'video' })).toBe(false);
    // truncated-m4a-false-ext-mismatch: no moov, no verdict, no flag.
    const cut = memo.subarray(0, memo.indexOf('moov') - 4);
    expect(await contradicted('Voice 003.m4a', cut, await identify(cut, 'Voice 003.m4a'))).toBe(false);
    // An audio brand over video alone (identified mp4 by its tracks) is contradicted too; beside sound it is m4a, not asked.
    const mdat = box('mdat', Buffer.alloc(100));
    const m4aVideo = Buffer.concat([ftyp('M4A ', 'M4A ', 'isom'), mdat, box('moov', trak('vide'))]);
    expect(await contradicted('Voice 004.m4a', m4aVideo, await identify(m4aVideo, 'Voice 004.m4a'))).toBe(true);
    // Hostile: a moov of more tracks than the walk reads gives no verdict.
    const many = Buffer.concat([ftyp('isom', 'isom'), mdat, box('moov', ...Array.from({ length: 600 }, () => trak('soun')), trak('vide'))]);
    expect(await contradicted('x.m4a', many, { mime: 'video/mp4', detectedExt: 'mp4', kind: 'video' })).toBe(false);
  });

  it('reads a moov at the end of a recording longer than the head, in a few reads', async () => {
    const long = await makeWithFfmpeg([...sine(60), '-c:a', 'aac', '-f', 'mp4'], 'mp4');
    expect(long.length).toBeGreaterThan(4 * 64 * 1024);
    const source = new BufferSource(long, 'long.m4a');
    expect(await identifier.identify(source)).toMatchObject({ mime: 'audio/mp4', kind: 'audio' });
    // The head, the mdat's header, the moov whole, the tail: the mdat's audio is never read.
    expect(source.reads.length).toBeLessThanOrEqual(6);
    expect(source.bytesRead).toBeLessThan(long.length / 2);
  });
});

describe('a moov that is missing, malformed or hostile keeps the brand answer (no guess)', () => {
  it('truncated-recording-moov-missing-keeps-brand-answer: a recording cut before its moov is what its brand says', async () => {
    const mp4 = await makeWithFfmpeg([...sine(2), '-c:a', 'aac', '-f', 'mp4'], 'mp4');
    const cut = mp4.subarray(0, mp4.indexOf('moov') - 4);
    expect(await identify(cut)).toEqual({ mime: 'video/mp4', detectedExt: 'mp4', kind: 'video', findings: [] });
    // truncated-m4a-false-ext-mismatch: the brand's mp4 under its own name .m4a is no mismatch.
    expect(identifier.extensionMismatch('Voice 003.m4a', await identify(cut, 'Voice 003.m4a'))).toBe(false);
    const gp = await makeWithFfmpeg([...sine(2), '-c:a', 'aac', '-f', '3gp'], '3gp');
    expect(await identify(gp.subarray(0, gp.indexOf('moov') - 4))).toMatchObject({ mime: 'video/3gpp', kind: 'video' });
  });

  it('crafted: sound only, a video track, no track at all', async () => {
    const mdat = box('mdat', Buffer.alloc(100));
    expect(await identify(Buffer.concat([ftyp('isom', 'isom', 'mp42'), mdat, box('moov', box('mvhd', Buffer.alloc(100)), trak('soun'))]))).toMatchObject({ mime: 'audio/mp4', kind: 'audio' });
    expect(await identify(Buffer.concat([ftyp('isom', 'isom'), mdat, box('moov', trak('soun'), trak('vide'))]))).toMatchObject({ mime: 'video/mp4', kind: 'video' });
    // A timed-text or metadata track alone, or no track: no sound, nothing to change.
    expect(await identify(Buffer.concat([ftyp('isom', 'isom'), mdat, box('moov', trak('text'))]))).toMatchObject({ mime: 'video/mp4', kind: 'video' });
    expect(await identify(Buffer.concat([ftyp('isom', 'isom'), mdat, box('moov', box('mvhd', Buffer.alloc(100)))]))).toMatchObject({ mime: 'video/mp4', kind: 'video' });
  });

  it('unreadable-or-visual-handler-beside-sound-guessed-audio: a track whose handler is unread, or is a picture other than vide, keeps the brand answer', async () => {
    // The reviewer's crafted moovs: QuickTime MPEG-1 muxed ('MPEG') and sprite ('sprt') tracks, ISO auxiliary
    // video ('auxv', an alpha or depth plane), a trak with no mdia, a hdlr shorter than its handler type.
    const mdat = box('mdat', Buffer.alloc(100));
    const qt = (...traks: Buffer[]) => Buffer.concat([ftyp('qt  ', 'qt  '), mdat, box('moov', ...traks)]);
    const iso = (...traks: Buffer[]) => Buffer.concat([ftyp('isom', 'isom'), mdat, box('moov', ...traks)]);
    const cases: Array<[string, Buffer, string]> = [
      ['qt MPEG + soun', qt(trak('MPEG'), trak('soun')), 'video/quicktime'],
      ['qt sprt + soun', qt(trak('sprt'), trak('soun')), 'video/quicktime'],
      ['isom pict + soun', iso(trak('pict'), trak('soun')), 'video/mp4'],
      ['isom auxv + soun', iso(trak('auxv'), trak('soun')), 'video/mp4'],
      ['isom trak without mdia + soun', iso(box('trak', box('tkhd', Buffer.alloc(84)), box('mdiX', Buffer.alloc(40))), trak('soun')), 'video/mp4'],
      ['isom trak with only a tkhd + soun', iso(box('trak', box('tkhd', Buffer.alloc(84))), trak('soun')), 'video/mp4'],
      ['isom short hdlr + soun', iso(box('trak', box('mdia', box('hdlr', Buffer.alloc(4)))), trak('soun')), 'video/mp4'],
    ];
    for (const [name, bytes, mime] of cases) expect({ name, ...(await identify(bytes)) }).toMatchObject({ name, mime, kind: 'video' });
    // Sound beside tracks that are never pictures (timed text, timecode, metadata, hint, chapters) is audio.
    for (const other of ['text', 'sbtl', 'subt', 'tmcd', 'meta', 'hint', 'clcp']) {
      expect({ other, ...(await identify(iso(trak('soun'), trak(other)))) }).toMatchObject({ other, mime: 'audio/mp4', kind: 'audio' });
    }
    // Without sound they stay the brand's answer.
    expect(await identify(iso(trak('hint'), trak('text'), trak('meta'), trak('tmcd')))).toMatchObject({ mime: 'video/mp4', kind: 'video' });
  });

  it('m4a-brand-over-video-only-identified-as-audio: an audio brand over a video track and no sound is video', async () => {
    const mdat = box('mdat', Buffer.alloc(100));
    const videoOnly = Buffer.concat([ftyp('M4A ', 'M4A ', 'isom'), mdat, box('moov', trak('vide'))]);
    const id = await identify(videoOnly, 'Voice 003.m4a');
    expect(id).toMatchObject({ mime: 'video/mp4', detectedExt: 'mp4', kind: 'video' });
    // mp4 fits .m4a by type alone (a stored content's mp4 may be a voice note: stale-content-m4a-false-ext-mismatch);
    // its tracks flag it (extensionContradicted, m4a-holding-video-not-flagged-ext-mismatch).
    expect(identifier.extensionMismatch('Voice 003.m4a', id)).toBe(false);
    // Beside sound, a 'vide' whose sample description cannot be read is no evidence of motion video: the brand's
    // answer stands (audio-brand-cover-track-identified-as-video).
    expect(await identify(Buffer.concat([ftyp('M4B ', 'M4B ', 'isom'), mdat, box('moov', trak('soun'), trak('vide'), trak('text'))]))).toMatchObject({ mime: 'audio/mp4', detectedExt: 'm4b', kind: 'audio' });
    // No moov: the brand's answer.
    expect(await identify(Buffer.concat([ftyp('M4A ', 'M4A ', 'isom'), mdat]))).toMatchObject({ detectedExt: 'm4a', kind: 'audio' });
  });

  it('hostile-trak-count-unbounded: thousands of tracks are read only up to the box budget, then the brand answer stands', async () => {
    // 20,000 empty 'trak' boxes, then a sound track: a walk without a budget would read them all.
    const many = Buffer.concat([ftyp('isom', 'isom'), box('mdat', Buffer.alloc(16)), box('moov', ...Array.from({ length: 20_000 }, () => box('trak')), trak('soun'))]);
    const source = new BufferSource(many);
    expect(await trackHandlers(source)).toBeNull();
    expect(await identify(many)).toMatchObject({ mime: 'video/mp4', detectedExt: 'mp4', kind: 'video' });
    // As many top-level boxes before the moov: the same budget.
    const spread = Buffer.concat([ftyp('isom', 'isom'), ...Array.from({ length: 20_000 }, () => box('free')), box('moov', trak('soun'))]);
    const spreadSource = new BufferSource(spread);
    expect(await identifier.identify(spreadSource)).toMatchObject({ mime: 'video/mp4', kind: 'video' });
    expect(spreadSource.reads.length).toBeLessThan(600);
  });

  it('track-walk-size-zero-moov-read-to-file-end: a moov of size 0 (the last box of a recording still being written) is read to the end of the file', async () => {
    // A top-level box of size 0 runs to the end of the file (ISO/IEC 14496-12, 4.2): the track walk's
    // sizeZero 'to-parent-end'. Read as exiftool does ('ends-level'), the moov and its track would go unseen.
    const mdat = box('mdat', Buffer.alloc(100));
    const moov = box('moov', trak('vide'));
    moov.writeUInt32BE(0, 0);
    const file = Buffer.concat([ftyp('isom', 'isom'), mdat, moov]);
    expect(await trackHandlers(new BufferSource(file))).toEqual(new Set(['vide']));
    expect(await identify(file)).toMatchObject({ mime: 'video/mp4', kind: 'video' });
    // Under an audio brand the video track is what makes it video: unread, the brand's answer would be audio.
    const m4a = Buffer.concat([ftyp('M4A ', 'M4A ', 'isom'), mdat, moov]);
    expect(await identify(m4a, 'Voice 005.m4a')).toMatchObject({ mime: 'video/mp4', detectedExt: 'mp4', kind: 'video' });
  });

  it('hostile-trak-size: a trak or hdlr that claims more than its parent holds is malformed, not read past', async () => {
    const lying = trak('soun');
    lying.writeUInt32BE(0x7fffffff, 0);
    expect(await identify(Buffer.concat([ftyp('isom', 'isom'), box('mdat', Buffer.alloc(16)), box('moov', lying)]))).toMatchObject({ mime: 'video/mp4', kind: 'video' });
    const moov = box('moov', trak('soun'));
    moov.writeUInt32BE(moov.length + 1_000_000, 0);
    expect(await identify(Buffer.concat([ftyp('isom', 'isom'), box('mdat', Buffer.alloc(16)), moov]))).toMatchObject({ mime: 'video/mp4', kind: 'video' });
    // A 64-bit size past the file.
    const large = Buffer.alloc(16);
    large.writeUInt32BE(1, 0);
    large.write('moov', 4, 'latin1');
    large.writeBigUInt64BE(1n << 60n, 8);
    expect(await identify(Buffer.concat([ftyp('isom', 'isom'), large, trak('soun')]))).toMatchObject({ mime: 'video/mp4', kind: 'video' });
  });
});

/** ffprobe's view of each stream (codec type, sample-entry tag, attached picture), asked about the same bytes. */
async function probeStreams(bytes: Buffer): Promise<Array<{ type: string; tag: string; attachedPic: boolean }>> {
  const ffprobe = await testTools().resolve('ffprobe');
  const dir = mkdtempSync(join(tmpdir(), 'exhibit-tracks-'));
  try {
    writeFileSync(join(dir, 'evidence'), bytes);
    const run = spawnSync(ffprobe.path, ['-v', 'error', '-show_streams', '-of', 'json', join(dir, 'evidence')], { encoding: 'utf8' });
    const streams = (JSON.parse(run.stdout) as { streams: Array<{ codec_type: string; codec_tag_string: string; disposition: { attached_pic: number } }> }).streams;
    return streams.map((s) => ({ type: s.codec_type, tag: s.codec_tag_string, attachedPic: s.disposition.attached_pic === 1 }));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

interface BoxNode {
  type: string;
  children?: BoxNode[];
  payload?: Buffer;
}
const CONTAINERS = new Set(['moov', 'trak', 'tref', 'mdia']);
function parseBoxes(bytes: Buffer): BoxNode[] {
  const out: BoxNode[] = [];
  for (let at = 0; at + 8 <= bytes.length; ) {
    const size = bytes.readUInt32BE(at);
    const type = bytes.toString('latin1', at + 4, at + 8);
    const body = bytes.subarray(at + 8, at + size);
    out.push(CONTAINERS.has(type) ? { type, children: parseBoxes(body) } : { type, payload: body });
    at += size;
  }
  return out;
}
const serialise = (nodes: BoxNode[]): Buffer => Buffer.concat(nodes.map((n) => box(n.type, n.children ? serialise(n.children) : n.payload!)));
const handlerOf = (trakNode: BoxNode) => trakNode.children!.find((c) => c.type === 'mdia')!.children!.find((c) => c.type === 'hdlr')!.payload!.toString('latin1', 8, 12);
const u32s = (...values: number[]) => Buffer.concat(values.map((v) => { const b = Buffer.alloc(4); b.writeUInt32BE(v, 0); return b; }));

/**
 * The file with its sound track's `tref/chap` naming `chapterIds` and no other track's `tref` (as Apple's
 * audiobooks and podcasts are described to have it, not copied from an Apple specimen: ffmpeg writes a `chap` in
 * every track, naming only its text chapters). The moov follows the mdat (no -movflags +faststart), so no sample offset moves.
 */
function withChapterRefs(file: Buffer, chapterIds: number[]): Buffer {
  const top = parseBoxes(file);
  const moov = top.find((n) => n.type === 'moov')!;
  expect(file.indexOf('moov')).toBeGreaterThan(file.indexOf('mdat'));
  for (const t of moov.children!.filter((n) => n.type === 'trak')) {
    t.children = t.children!.filter((c) => c.type !== 'tref');
    if (handlerOf(t) === 'soun') t.children.splice(1, 0, { type: 'tref', children: [{ type: 'chap', payload: u32s(...chapterIds) }] });
  }
  return serialise(top);
}

/** Two chapters (ffmetadata) for ffmpeg's -map_chapters, written once and removed after the tests. */
const chaptersDir = mkdtempSync(join(tmpdir(), 'exhibit-chapters-'));
const chaptersFile = join(chaptersDir, 'chapters.txt');
writeFileSync(chaptersFile, ';FFMETADATA1\ntitle=Book\n[CHAPTER]\nTIMEBASE=1/1000\nSTART=0\nEND=1000\ntitle=One\n[CHAPTER]\nTIMEBASE=1/1000\nSTART=1000\nEND=2000\ntitle=Two\n');
afterAll(() => rmSync(chaptersDir, { recursive: true, force: true }));

/**
 * An audiobook laid out as Apple's are described (built from ffmpeg output rewritten; no Apple specimen): sound (track 1), chapter pictures as a Photo-JPEG ('jpeg') `vide` track
 * (track 2, one picture per chapter), QuickTime text chapters (track 3), under `brand`. ffmpeg's mov muxer writes
 * the 'jpeg' entry (its mp4 muxer writes JPEG as 'mp4v'); `chapterIds` are what the sound track's `tref/chap` names.
 */
const audiobook = async (brand: string, chapterIds: number[]) =>
  withChapterRefs(
    await makeWithFfmpeg(
      [...sine(2), '-f', 'lavfi', '-i', 'testsrc=d=2:s=64x48:r=1', '-i', chaptersFile, '-map', '0', '-map', '1', '-map_metadata', '2', '-map_chapters', '2', '-c:a', 'aac', '-c:v', 'mjpeg', '-brand', brand, '-f', 'mov'],
      'm4b',
    ),
    chapterIds,
  );

const full = (...parts: Buffer[]) => Buffer.concat([Buffer.alloc(4), ...parts]);
const tkhd = (id: number, version = 0) =>
  box('tkhd', Buffer.from([version, 0, 0, 7]), version === 1 ? Buffer.alloc(16) : Buffer.alloc(8), u32s(id), Buffer.alloc(version === 1 ? 80 : 68));
/** An `esds` whose ES_Descriptor's DecoderConfigDescriptor gives `objectType` (0x20 MPEG-4 Visual, 0x6C JPEG). */
const esds = (objectType: number) =>
  box('esds', full(Buffer.from([0x03, 0x15, 0, 1, 0, 0x04, 0x0d, objectType, 0x11, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x06, 0x01, 0x02])));
interface CraftedTrack {
  entries?: string[];
  /** Sample entries as given (in place of `entries`). */
  entryBoxes?: Buffer[];
  /** `esds` object type of each 'mp4v' entry. */
  objectType?: number;
  samples?: number;
  /** Bytes of a chunk-offset table (`stco`) after the `stsz`: a long video's sample tables. */
  stblPad?: number;
  chap?: number[];
  mdhd?: boolean;
  before?: Buffer[];
  after?: Buffer[];
}
/** A crafted track: tkhd, tref/chap, mdia (hdlr, minf/stbl with stsd and, given `samples`, stsz), then `after`. */
function track(id: number, handler: string, options: CraftedTrack = {}): Buffer {
  const entries = options.entryBoxes ?? (options.entries ?? [handler === 'vide' ? 'jpeg' : 'mp4a']).map((e) => box(e, Buffer.alloc(78), ...(e === 'mp4v' ? [esds(options.objectType ?? 0x20)] : [])));
  const stbl = box('stbl', box('stsd', full(u32s(entries.length), ...entries)), ...(options.samples !== undefined ? [box('stsz', full(u32s(0, options.samples)))] : []), ...(options.stblPad ? [box('stco', Buffer.alloc(options.stblPad))] : []));
  return box(
    'trak',
    tkhd(id),
    ...(options.before ?? []),
    ...(options.chap ? [box('tref', box('chap', u32s(...options.chap)))] : []),
    box('mdia', ...(options.mdhd ? [box('mdhd', Buffer.alloc(24))] : []), box('hdlr', Buffer.alloc(8), Buffer.from(handler, 'latin1'), Buffer.alloc(13)), box('minf', stbl)),
    ...(options.after ?? []),
  );
}
const movie = (brand: string, ...traks: Buffer[]) => Buffer.concat([ftyp(brand, brand, 'isom'), box('mdat', Buffer.alloc(100)), box('moov', box('mvhd', Buffer.alloc(100)), ...traks)]);

describe('a video track under an audio brand needs evidence of motion video; chapter references change nothing', () => {
  it('m4a-branded-video-identified-as-audio: a video with sound under an M4A/M4B brand is video/mp4, and contradicts .m4a', async (ctx) => {
    for (const brand of ['M4A ', 'M4B ']) {
      // Sound first: `pattern`'s -c:v is then an output option (before another -i it would be that input's).
      const file = await makeWithFfmpeg([...sine(2), ...pattern, '-c:a', 'aac', '-brand', brand, '-f', 'mp4'], 'm4a');
      expect(file.toString('latin1', 8, 12)).toBe(brand);
      const id = await identify(file, 'Voice 005.m4a');
      expect({ brand, ...id }).toEqual({ brand, mime: 'video/mp4', detectedExt: 'mp4', kind: 'video', findings: [] });
      expect(await identifier.extensionContradicted('Voice 005.m4a', id, new BufferSource(file, 'Voice 005.m4a'))).toBe(true);
      // ffprobe reads a video stream that is no attached picture; exiftool and libmagic name the file by its brand alone.
      expect(await probeStreams(file)).toEqual([{ type: 'video', tag: 'mp4v', attachedPic: false }, { type: 'audio', tag: 'mp4a', attachedPic: false }]);
      const oracle = oracles(ctx, file);
      if (oracle.exiftool) expect(oracle.exiftool).toBe('audio/mp4');
    }
  });


  it('audiobook-chapter-pictures-identified-as-video: sound with a JPEG picture track its tref/chap names stays audio under an audio brand (no evidence of motion video)', async (ctx) => {
    const book = await audiobook('M4B ', [3, 2]);
    expect(await identify(book, 'Book.m4b')).toEqual({ mime: 'audio/mp4', detectedExt: 'm4b', kind: 'audio', findings: [] });
    expect(await probeStreams(book)).toEqual([
      { type: 'audio', tag: 'mp4a', attachedPic: false },
      { type: 'video', tag: 'jpeg', attachedPic: true },
      { type: 'data', tag: 'text', attachedPic: false },
    ]);
    const oracle = oracles(ctx, book);
    if (oracle.exiftool) expect(oracle.exiftool).toBe('audio/mp4');
    if (oracle.libmagic) expect(oracle.libmagic).toBe('audio/mp4');
    expect(await identify(await audiobook('M4A ', [3, 2]), 'Podcast.m4a')).toMatchObject({ mime: 'audio/x-m4a', detectedExt: 'm4a', kind: 'audio' });
    // Under a movie brand (a podcast remuxed as isom) a picture track beside sound is the brand's video, chapter
    // reference or not, as exiftool and libmagic say; under .m4a its tracks flag it.
    const isom = await audiobook('isom', [2, 3]);
    expect(await identify(isom, 'Podcast.mp4')).toEqual({ mime: 'video/mp4', detectedExt: 'mp4', kind: 'video', findings: [] });
    const isomOracle = oracles(ctx, isom);
    if (isomOracle.exiftool) expect(isomOracle.exiftool).toBe('video/mp4');
    if (isomOracle.libmagic) expect(isomOracle.libmagic).toBe('video/mp4');
    expect(await identifier.extensionContradicted('Podcast.m4a', { mime: 'video/mp4', detectedExt: 'mp4', kind: 'video' }, new BufferSource(isom, 'Podcast.m4a'))).toBe(true);
    // A song's cover art is no track at all: ffmpeg writes an attached picture as `covr` in the tags (ffprobe
    // shows it as a video stream, an attached picture); the file stays audio.
    const song = await makeWithFfmpeg([...sine(2), '-f', 'lavfi', '-i', 'testsrc=d=1:s=64x48:r=1', '-map', '0', '-map', '1', '-c:a', 'aac', '-c:v', 'mjpeg', '-frames:v', '1', '-disposition:v', 'attached_pic'], 'm4a');
    expect(song.includes('covr')).toBe(true);
    expect(await probeStreams(song)).toEqual([{ type: 'audio', tag: 'mp4a', attachedPic: false }, { type: 'video', tag: '[0][0][0][0]', attachedPic: true }]);
    expect(await identify(song, 'Song.m4a')).toMatchObject({ detectedExt: 'm4a', kind: 'audio' });
  });

  it('audio-brand-cover-track-identified-as-video: a song or audiobook whose cover is a one-picture track (no attached_pic disposition) stays audio', async (ctx) => {
    // ffmpeg without `-disposition:v attached_pic` writes the cover as a video track of one sample, under its mp4
    // muxer as 'mp4v' with MPEG-4 object type 0x6C (JPEG) or 0x6D (PNG). exiftool says audio, as main did.
    const cover = join(chaptersDir, 'cover.jpg');
    writeFileSync(cover, await makeWithFfmpeg(['-f', 'lavfi', '-i', 'testsrc=d=1:s=64x48', '-frames:v', '1', '-c:v', 'mjpeg', '-f', 'image2'], 'jpg'));
    const png = join(chaptersDir, 'cover.png');
    writeFileSync(png, await makeWithFfmpeg(['-f', 'lavfi', '-i', 'testsrc=d=1:s=64x48', '-frames:v', '1', '-c:v', 'png', '-f', 'image2'], 'png'));
    const withCover = (picture: string, brand: string, chapters: boolean) =>
      makeWithFfmpeg(
        [...sine(3), '-i', picture, ...(chapters ? ['-i', chaptersFile, '-map_chapters', '2'] : []), '-map', '0', '-map', '1', '-c:a', 'aac', '-c:v', 'copy', '-brand', brand, '-f', 'mp4'],
        'm4b',
      );
    const cases: Array<[string, Buffer, string, string]> = [
      ['M4B JPEG cover track', await withCover(cover, 'M4B ', false), 'audio/mp4', 'm4b'],
      ['M4B JPEG cover track, chapters (chap names the text track only)', await withCover(cover, 'M4B ', true), 'audio/mp4', 'm4b'],
      ['M4A PNG cover track', await withCover(png, 'M4A ', false), 'audio/x-m4a', 'm4a'],
    ];
    expect(cases[1]![1].includes('chap')).toBe(true);
    for (const [name, file, mime, ext] of cases) {
      const streams = await probeStreams(file);
      expect({ name, streams: streams.slice(0, 2) }).toEqual({ name, streams: [{ type: 'audio', tag: 'mp4a', attachedPic: false }, { type: 'video', tag: 'mp4v', attachedPic: false }] });
      const id = await identify(file, `Book.${ext}`);
      expect({ name, ...id }).toEqual({ name, mime, detectedExt: ext, kind: 'audio', findings: [] });
      expect(identifier.extensionMismatch(`Book.${ext}`, id)).toBe(false);
      const oracle = oracles(ctx, file);
      if (oracle.exiftool) expect({ name, exiftool: oracle.exiftool }).toEqual({ name, exiftool: 'audio/mp4' });
    }
    // Crafted under M4A: a video track beside sound is video only with a motion-video sample description and more
    // than one sample.
    const kindOf = async (vide: Buffer) => (await identify(movie('M4A ', track(1, 'soun'), vide))).kind;
    expect(await kindOf(track(2, 'vide', { entries: ['avc1'], samples: 30 }))).toBe('video');
    expect(await kindOf(track(2, 'vide', { entries: ['mp4v'], objectType: 0x20, samples: 30 }))).toBe('video');
    expect(await kindOf(track(2, 'vide', { entries: ['avc1'], samples: 1 }))).toBe('audio');
    expect(await kindOf(track(2, 'vide', { entries: ['avc1'] }))).toBe('audio');
    expect(await kindOf(track(2, 'vide', { entries: ['mp4v'], objectType: 0x6c, samples: 30 }))).toBe('audio');
    expect(await kindOf(track(2, 'vide', { entries: ['mp4v'], objectType: 0x6d, samples: 30 }))).toBe('audio');
    expect(await kindOf(track(2, 'vide', { entries: ['jpeg'], samples: 30 }))).toBe('audio');
    expect(await kindOf(track(2, 'vide', { entries: ['xxxx'], samples: 30 }))).toBe('audio');
  });


  it('a picture track beside sound: under isom the brand answer (video) stands, under M4B the brand answer (audio)', async () => {
    const book = await audiobook('isom', [3]);
    expect((await probeStreams(book))[1]).toEqual({ type: 'video', tag: 'jpeg', attachedPic: false });
    expect(await identify(book, 'Book.mp4')).toMatchObject({ mime: 'video/mp4', detectedExt: 'mp4', kind: 'video' });
    // Under an audio brand a 'jpeg' track is no evidence of motion video (audio-brand-cover-track-identified-as-video).
    expect(await identify(await audiobook('M4B ', [3]), 'Book.m4b')).toMatchObject({ mime: 'audio/mp4', detectedExt: 'm4b', kind: 'audio' });
  });

  it('chapter-ref-hides-video: a tref/chap naming the motion video track of an M4A-branded file changes nothing: video', async () => {
    // A suspect's edit: the M4A-branded video's sound track names its mpeg4 ('mp4v') video track (ffmpeg's
    // track 1: without -map it writes video first) as chapters; ffprobe then calls it an attached picture.
    const file = withChapterRefs(await makeWithFfmpeg([...sine(2), ...pattern, '-c:a', 'aac', '-brand', 'M4A ', '-f', 'mp4'], 'm4a'), [1]);
    expect((await probeStreams(file))[0]).toEqual({ type: 'video', tag: 'mp4v', attachedPic: true });
    expect(await identify(file, 'Voice 006.m4a')).toMatchObject({ mime: 'video/mp4', detectedExt: 'mp4', kind: 'video' });
  });

  it('chapter-ref-demotes-photo-jpeg-video-to-audio: under a movie brand a tref/chap edit leaves a Photo-JPEG or PNG video with sound a video', async () => {
    // A real QuickTime video (10 frames a second) whose sound track is edited to name it as chapters (20 bytes).
    for (const [codec, tag] of [['mjpeg', 'jpeg'], ['png', 'png ']]) {
      const made = await makeWithFfmpeg([...sine(2), '-f', 'lavfi', '-i', 'testsrc=d=2:s=64x48:r=10', '-map', '0', '-map', '1', '-c:a', 'aac', '-c:v', codec!, '-f', 'mov'], 'mov');
      const mov = withChapterRefs(made, [2]);
      expect({ codec, streams: (await probeStreams(mov)).map((s) => s.type) }).toEqual({ codec, streams: ['audio', 'video'] });
      expect({ codec, ...(await identify(mov, 'clip.mov')) }).toEqual({ codec, mime: 'video/quicktime', detectedExt: 'mov', kind: 'video', findings: [] });
      // Crafted under isom, the sound track before or after the picture track it names.
      const kindOf = async (...traks: Buffer[]) => (await identify(movie('isom', ...traks))).kind;
      expect(await kindOf(track(1, 'soun', { chap: [2] }), track(2, 'vide', { entries: [tag!], samples: 20 }))).toBe('video');
      expect(await kindOf(track(2, 'vide', { entries: [tag!], samples: 20 }), track(1, 'soun', { chap: [2] }))).toBe('video');
    }
  });

  it('chap-list-oversized-hides-video: a sound track with a long tref/chap list is read on, and a real video after or before it is found', async () => {
    const ids = Array.from({ length: 100 }, (_, i) => i + 10);
    for (const traks of [
      [track(1, 'soun', { chap: ids }), track(2, 'vide', { entries: ['avc1'], samples: 30 })],
      [track(2, 'vide', { entries: ['avc1'], samples: 30 }), track(1, 'soun', { chap: ids })],
    ]) {
      const order = traks.map((t) => t.toString('latin1').includes('soun') ? 'soun' : 'vide').join(',');
      expect({ order, ...(await identify(movie('M4A ', ...traks), 'Voice.m4a')) }).toMatchObject({ order, mime: 'video/mp4', kind: 'video' });
    }
  });

  it('chapter-art-second-sample-entry-motion: under an audio brand a later sample description in a motion format is evidence of motion video', async () => {
    const twoEntries = (brand: string) => movie(brand, track(1, 'soun', { chap: [2] }), track(2, 'vide', { entries: ['jpeg', 'avc1'], samples: 30 }));
    expect(await trackHandlers(new BufferSource(twoEntries('M4A ')), { motionEvidence: true })).toEqual(new Set(['soun', 'vide', MOTION_VIDEO]));
    expect(await identify(twoEntries('M4A '))).toMatchObject({ mime: 'video/mp4', kind: 'video' });
    expect(await identify(twoEntries('isom'))).toMatchObject({ mime: 'video/mp4', kind: 'video' });
    // A motion entry after the sample descriptions read (maxTrackSampleEntries) is not seen: the brand's answer.
    const late = movie('M4A ', track(1, 'soun'), track(2, 'vide', { entries: [...Array.from({ length: MEDIA_LIMITS.maxTrackSampleEntries }, () => 'jpeg'), 'avc1'], samples: 30 }));
    expect(await identify(late)).toMatchObject({ detectedExt: 'm4a', kind: 'audio' });
    // A sample entry whose size runs past its stsd: malformed, the brand's answer.
    const overlong = box('avc1', Buffer.alloc(78));
    overlong.writeUInt32BE(1000, 0);
    const lying = movie('M4A ', track(1, 'soun'), track(2, 'vide', { entryBoxes: [overlong], samples: 30 }));
    expect(await trackHandlers(new BufferSource(lying), { motionEvidence: true })).toBeNull();
    expect(await identify(lying)).toMatchObject({ detectedExt: 'm4a', kind: 'audio' });
  });

  it('classic-quicktime-corrupt-later-track-unidentified: a movie without ftyp whose first track is video is video/quicktime, whatever a later track holds', async () => {
    // An ffmpeg Motion-JPEG camera movie (video track first, then sound) with its ftyp renamed `skip` (a classic
    // QuickTime movie) and the sound track's tkhd size run past its trak: the walk ends at the first video track, as main's did.
    const made = await makeWithFfmpeg(['-f', 'lavfi', '-i', 'testsrc=d=1:s=64x48:r=10', ...sine(1), '-map', '0', '-map', '1', '-c:v', 'mjpeg', '-c:a', 'pcm_s16le', '-f', 'mov'], 'mov');
    const bytes = Buffer.from(made);
    expect(bytes.toString('latin1', 4, 8)).toBe('ftyp');
    bytes.write('skip', 4, 'latin1');
    const firstTrak = bytes.indexOf('trak', bytes.indexOf('moov')) - 4;
    const secondTrak = firstTrak + bytes.readUInt32BE(firstTrak);
    expect(bytes.toString('latin1', secondTrak + 4, secondTrak + 8)).toBe('trak');
    bytes.writeUInt32BE(0x7fffffff, bytes.indexOf('tkhd', secondTrak) - 4);
    expect(await identify(bytes, 'MVI_0001.MOV')).toEqual({ mime: 'video/quicktime', detectedExt: 'mov', kind: 'video', findings: [] });
    // The same under an M4A brand: the video track is no evidence of motion (Motion-JPEG), so the walk reads on
    // into the corrupt track: malformed, the brand's answer.
    const m4a = Buffer.from(bytes);
    m4a.write('ftyp', 4, 'latin1');
    m4a.write('M4A ', 8, 'latin1');
    expect(await identify(m4a, 'x.m4a')).toMatchObject({ detectedExt: 'm4a', kind: 'audio' });
  });

  it('movie-brand-track-walk-reads-sample-tables: a movie brand reads no sample descriptions; an audio brand reads them for a video track only', async () => {
    // A moov after the head and larger than moovWholeReadBytes (walked by ranged reads): a video track with a large
    // chunk table, then sound.
    const tracks = [track(1, 'vide', { entries: ['avc1'], samples: 3000, stblPad: MEDIA_LIMITS.moovWholeReadBytes }), track(2, 'soun', { mdhd: true })];
    const movie = (brand: string, ...traks: Buffer[]) => Buffer.concat([ftyp(brand, brand, 'isom'), box('mdat', Buffer.alloc(8192)), box('moov', box('mvhd', Buffer.alloc(100)), ...traks)]);
    const readsOf = async (bytes: Buffer, walk: (s: BufferSource) => Promise<unknown>) => {
      const source = new BufferSource(bytes);
      await walk(source);
      return source.reads.length;
    };
    for (const brand of ['isom', 'mp42', 'qt  ']) {
      const file = movie(brand, ...tracks);
      const found = brand === 'qt  ' ? { ext: 'mov', mime: 'video/quicktime' } : { ext: 'mp4', mime: 'video/mp4' };
      // main's counts (the track handlers alone, up to the first 'vide'), measured on main with the same bytes.
      expect({ brand, reads: await readsOf(file, (s) => typeByTracks(s, file.subarray(0, 4100), found)) }).toEqual({ brand, reads: 7 });
      expect({ brand, reads: await readsOf(file, (s) => holdsVideoTrack(s)) }).toEqual({ brand, reads: 9 });
    }
    // Under M4A the video track's minf, stbl, stsd, entry count, entry, stsz and its count are read too (main: 13,
    // reading on to the sound track; here the walk stops at the video track's evidence of motion).
    const m4a = movie('M4A ', ...tracks);
    expect(await readsOf(m4a, (s) => typeByTracks(s, m4a.subarray(0, 4100), { ext: 'm4a', mime: 'audio/x-m4a' }))).toBe(14);
    expect(await identify(m4a)).toMatchObject({ mime: 'video/mp4', kind: 'video' });
  });

  it('track-walk-fails-on-boxes-after-mdia: junk after a track\'s mdia, or many sound tracks, keep the walk that main read', async () => {
    // A udta whose size runs past its trak, after the mdia: main read only up to the mdia and answered audio.
    const bad = Buffer.alloc(8);
    bad.writeUInt32BE(9999, 0);
    bad.write('udta', 4, 'latin1');
    expect(await identify(movie('isom', track(1, 'soun', { after: [bad] })))).toMatchObject({ mime: 'audio/mp4', kind: 'audio' });
    // Under an audio brand, after a video track's mdia: its sample tables are read, the junk after them is not.
    expect(await identify(movie('M4A ', track(1, 'soun'), track(2, 'vide', { entries: ['avc1'], samples: 30, after: [bad] })))).toMatchObject({ mime: 'video/mp4', kind: 'video' });
    // 80 sound tracks laid out as ffmpeg writes them (tkhd, edts, mdia of mdhd, hdlr, minf; a udta after): six
    // box headers each up to the handler, within the 512-header budget; reading every child of trak and mdia is not.
    const edts = box('edts', box('elst', Buffer.alloc(8)));
    const sounds = Array.from({ length: 80 }, (_, i) => track(i + 1, 'soun', { before: [edts], mdhd: true, after: [box('udta', Buffer.alloc(8))] }));
    expect(await identify(movie('isom', ...sounds))).toMatchObject({ mime: 'audio/mp4', kind: 'audio' });
  });
});
