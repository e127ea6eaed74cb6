import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isExhibitError } from '@exhibit/core';
import { BufferSource } from '../test-support/buffer.source.js';
import { makeWithFfmpeg, testTools, testVideo } from '../test-support/fixtures.js';
import { RangeServer } from '../test-support/range.server.js';
import { FileTypeIdentifier } from '../identify/file-type.identifier.js';
import { isExtensionMismatch } from '../identify/extensions.js';
import { audioReadable } from '../tools/ffmpeg-input.js';
import { MediaToolResolver } from '../tools/ffmpeg-path.js';
import { MEDIA_LIMITS } from '../media-limits.js';
import { runTool } from '../tools/run-tool.js';
import { normaliseProbe, probe, withVideoXmp } from './ffprobe.metadata.js';
import { MediaMetadataExtractor } from './media-metadata.extractor.js';

/** exiftool's own reading of the file's times (default options: header times as written), or null where exiftool is missing. */
function exiftoolTimes(bytes: Buffer, ext: string): Record<string, string> | null {
  const dir = mkdtempSync(join(tmpdir(), 'exhibit-mvhd-'));
  try {
    const file = join(dir, `clip.${ext}`);
    writeFileSync(file, bytes);
    const run = spawnSync('exiftool', ['-j', '-G1', '-time:all', file], { encoding: 'utf8' });
    if (run.error || run.status !== 0) return null;
    return (JSON.parse(run.stdout) as Array<Record<string, string>>)[0]!;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

describe('normaliseProbe', () => {
  it('regression: video-null-island-and-nul-padded-make — 0,0 is flagged, not a location; text ends at NUL', () => {
    const m = normaliseProbe({
      format: {
        tags: {
          'com.apple.quicktime.location.ISO6709': '+00.0000+000.0000/',
          'com.apple.quicktime.make': 'Apple\u0000junk',
          'com.apple.quicktime.model': 'iPhone\u000114',
        },
      },
      streams: [],
    });
    expect(m.gps).toBeUndefined();
    expect(m.gpsRecorded).toEqual({ lat: 0, lon: 0, flag: 'gps-null-island' });
    expect(m.make).toBe('Apple');
    expect(m.model).toBe('iPhone\\x0114');
    expect(m.findings?.map((f) => f.flag)).toEqual(['gps-null-island', 'text-escaped']);
  });

  it('prefers Apple creationdate (wall clock + offset) and reads ISO 6709 locations and Android make/model', () => {
    const m = normaliseProbe({
      format: {
        format_name: 'mov,mp4,m4a,3gp,3g2,mj2',
        duration: '12.480000',
        tags: {
          creation_time: '2024-05-01T10:20:30.000000Z',
          'com.apple.quicktime.creationdate': '2024-05-01T12:20:30+0200',
          'com.apple.quicktime.location.ISO6709': '-33.8688+151.2093+058.000/',
          'com.android.manufacturer': 'Google',
          'com.android.model': 'Pixel 8',
        },
      },
      streams: [
        { index: 0, codec_type: 'video', codec_name: 'hevc', width: 1920, height: 1080 },
        { index: 1, codec_type: 'audio', codec_name: 'aac' },
        { index: 2, codec_type: 'video', codec_name: 'mjpeg', width: 320, height: 240, disposition: { attached_pic: 1 } },
      ],
    });
    expect(m).toMatchObject({
      durationSec: 12.48,
      codecs: ['hevc', 'aac', 'mjpeg'],
      width: 1920,
      height: 1080,
      make: 'Google',
      model: 'Pixel 8',
      gps: { lat: -33.8688, lon: 151.2093, altM: 58 },
      takenAt: { local: '2024-05-01T12:20:30', offsetMinutes: 120, utc: '2024-05-01T10:20:30Z', source: 'QuickTime:CreationDate' },
    });
  });

  it('regression: quicktime-creation-time-zero — an unset (1904 or 1970 epoch) creation time is no capture time', () => {
    for (const zero of ['1904-01-01T00:00:00.000000Z', '1970-01-01T00:00:00.000000Z']) {
      const m = normaliseProbe({ format: { format_name: 'mov,mp4,m4a,3gp,3g2,mj2', tags: { creation_time: zero } }, streams: [{ index: 0, codec_type: 'video', tags: { creation_time: zero } }] });
      expect(m.takenAt, zero).toBeUndefined();
    }
    const track = normaliseProbe({ format: { format_name: 'mov,mp4,m4a,3gp,3g2,mj2', tags: { creation_time: '1904-01-01T00:00:00.000000Z' } }, streams: [{ index: 0, codec_type: 'video', tags: { creation_time: '2022-02-02T02:02:02.000000Z' } }] });
    expect(track.takenAt).toMatchObject({ local: '2022-02-02T02:02:02.000000', utc: null, source: 'QuickTime:MediaCreateDate' });
  });

  it('regression: video-header-utc-shown-as-other-local-time — an iPhone header naming the creationdate instant is UTC, not a second local time', () => {
    // iphone.mov's shape: keys creationdate local +02:00, mvhd/mdhd in UTC (ffprobe prints them with Z).
    const qt = (header: string) => normaliseProbe({
      format: { format_name: 'mov,mp4,m4a,3gp,3g2,mj2', tags: { 'com.apple.quicktime.creationdate': '2023-05-01T10:20:30+0200', creation_time: header } },
      streams: [{ index: 0, codec_type: 'video', width: 16, height: 16, tags: { creation_time: header } }],
    });
    const iphone = qt('2023-05-01T08:20:31.000000Z');
    expect(iphone.takenAt).toEqual({ local: '2023-05-01T10:20:30', offsetMinutes: 120, utc: '2023-05-01T08:20:30Z', source: 'QuickTime:CreationDate' });
    expect(iphone.captureTimes?.slice(1)).toEqual([
      { local: '2023-05-01T08:20:31.000000', offsetMinutes: 0, utc: '2023-05-01T08:20:31.000000Z', source: 'QuickTime:CreateDate' },
      { local: '2023-05-01T08:20:31.000000', offsetMinutes: 0, utc: '2023-05-01T08:20:31.000000Z', source: 'QuickTime:MediaCreateDate' },
    ]);
    // A header two hours off (a camera's local clock) is not the same instant: kept as written, no zone.
    const local = qt('2023-05-01T10:20:30.000000Z');
    expect(local.captureTimes?.slice(1).map((t) => [t.local, t.offsetMinutes, t.utc])).toEqual([
      ['2023-05-01T10:20:30.000000', null, null],
      ['2023-05-01T10:20:30.000000', null, null],
    ]);
  });

  it('regression: video-track-creationdate-outranked-by-proven-utc-header — Apple creationdate on the video track beats a format-level header it proves UTC', () => {
    // The keys on the track, not the movie: the header at format level is proven UTC by the track's creationdate,
    // but the zoned time that proved it (with its local offset) is the capture time.
    const m = normaliseProbe({
      format: { format_name: 'mov,mp4,m4a,3gp,3g2,mj2', tags: { creation_time: '2023-05-01T08:20:31.000000Z' } },
      streams: [{ index: 0, codec_type: 'video', width: 16, height: 16, tags: { 'com.apple.quicktime.creationdate': '2023-05-01T10:20:30+0200', creation_time: '2023-05-01T08:20:31.000000Z' } }],
    });
    expect(m.takenAt).toEqual({ local: '2023-05-01T10:20:30', offsetMinutes: 120, utc: '2023-05-01T08:20:30Z', source: 'QuickTime:CreationDate' });
    expect(m.captureTimes?.map((t) => [t.source, t.offsetMinutes])).toEqual([
      ['QuickTime:CreationDate', 120],
      ['QuickTime:CreateDate', 0],
      ['QuickTime:MediaCreateDate', 0],
    ]);
  });

  it('regression: video-xmp-pantry-date-taken-as-capture-time — the XMP packet (ingredients, comments, re-bound prefixes) gives no capture time', () => {
    const wrap = (body: string, ns = 'xmlns:xmp="http://ns.adobe.com/xap/1.0/"') => `<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"><rdf:Description rdf:about="" ${ns} ${body}</rdf:RDF></x:xmpmeta>`;
    const packets = {
      pantry: wrap('xmlns:xmpMM="http://ns.adobe.com/xap/1.0/mm/" xmlns:exif="http://ns.adobe.com/exif/1.0/"><xmpMM:Pantry><rdf:Bag><rdf:li><rdf:Description exif:DateTimeOriginal="2019-07-04T12:00:00-04:00"/></rdf:li></rdf:Bag></xmpMM:Pantry></rdf:Description>'),
      comment: wrap('><!-- <xmp:CreateDate>2001-01-01T00:00:00+05:00</xmp:CreateDate> --></rdf:Description>'),
      rebind: wrap('><rdf:Description xmlns:xmp="http://example.com/other/" xmp:CreateDate="2002-02-02T02:02:02+03:00"/></rdf:Description>'),
      ingredients: wrap('xmlns:xmpMM="http://ns.adobe.com/xap/1.0/mm/"><xmpMM:Ingredients><rdf:Bag><rdf:li><rdf:Description xmp:CreateDate="2011-11-11T11:11:11+01:00"/></rdf:li></rdf:Bag></xmpMM:Ingredients></rdf:Description>'),
      // 25,000 prefixes bound to the EXIF namespace: the regular-expression scan blocked the event loop ~29 s.
      prefixes: `<x ${Array.from({ length: 25_000 }, (_, i) => `xmlns:a${i}="http://ns.adobe.com/exif/1.0/"`).join(' ')}/>`,
    };
    for (const [name, xmp] of Object.entries(packets)) {
      for (const [format_name, tag] of [['mov,mp4,m4a,3gp,3g2,mj2', 'xmp'], ['matroska,webm', 'XMP']] as const) {
        const started = performance.now();
        const m = normaliseProbe({ format: { format_name, tags: { [tag]: xmp, creation_time: '2023-05-01T10:20:30.000000Z' } }, streams: [] });
        expect(performance.now() - started, name).toBeLessThan(1000);
        expect(m.captureTimes?.map((t) => t.source), `${name} ${format_name}`).not.toContainEqual(expect.stringMatching(/XMP/));
        expect(m.takenAt?.local, name).toBe('2023-05-01T10:20:30.000000');
      }
    }
  });

  it('treats creation_time with Z as UTC and ignores junk values', () => {
    const m = normaliseProbe({
      format: { duration: 'N/A', tags: { creation_time: '2024-05-01T10:20:30.000000Z', location: 'somewhere' } },
      streams: [{ codec_type: 'video', codec_name: 'h264', width: -1, height: 0, duration: '3.5' }],
    });
    expect(m.takenAt).toEqual({ local: '2024-05-01T10:20:30.000000', offsetMinutes: 0, utc: '2024-05-01T10:20:30.000000Z', source: 'ffprobe:format.tags.creation_time' });
    expect(m.durationSec).toBe(3.5);
    expect(m.gps).toBeUndefined();
    expect(m.width).toBeUndefined();
  });
});

describe('withVideoXmp', () => {
  const probed = (tags: Record<string, string>) => normaliseProbe({ format: { format_name: 'mov,mp4,m4a,3gp,3g2,mj2', tags }, streams: [] });
  const xmp = (text: string, source: 'XMP:xmp:CreateDate' | 'XMP:exif:DateTimeOriginal' = 'XMP:xmp:CreateDate') => ({ dates: [{ source, text }], notes: [] });

  it('an XMP date is the capture time only where no QuickTime time is stated; listed after them', () => {
    expect(withVideoXmp(probed({}), xmp('2023-01-02T03:04:05+02:00')).takenAt).toEqual({ local: '2023-01-02T03:04:05', offsetMinutes: 120, utc: '2023-01-02T01:04:05Z', source: 'XMP:xmp:CreateDate' });
    const apple = withVideoXmp(probed({ 'com.apple.quicktime.creationdate': '2023-01-02T03:04:05+0200' }), xmp('2023-01-02T03:04:05+02:00'));
    expect(apple.captureTimes?.map((t) => t.source)).toEqual(['QuickTime:CreationDate', 'XMP:xmp:CreateDate']);
    expect(apple.findings).toBeUndefined();
    // A date XMP states that is no date (no time of day) is not read, as an image's is not.
    expect(withVideoXmp(probed({}), xmp('2023-01-02')).takenAt).toBeUndefined();
  });

  it('the header time agrees read as local or as UTC; only a moment no reading explains is a conflict', () => {
    const header = probed({ creation_time: '2023-01-02T01:04:05.000000Z' });
    // Phone-like: the header is UTC, XMP local with its offset.
    expect(withVideoXmp(header, xmp('2023-01-02T03:04:05+02:00')).findings).toBeUndefined();
    // Camera-like: the header is the local clock XMP states.
    expect(withVideoXmp(header, xmp('2023-01-02T01:04:06')).findings).toBeUndefined();
    expect(withVideoXmp(header, xmp('2023-01-02T01:04:05-07:00')).findings).toBeUndefined();
    expect(withVideoXmp(header, xmp('2023-01-02T05:04:05+02:00', 'XMP:exif:DateTimeOriginal')).findings).toEqual([
      { flag: 'taken-at-conflict', detail: 'QuickTime:CreateDate 2023-01-02T01:04:05.000000 differs from XMP:exif:DateTimeOriginal 2023-01-02T05:04:05+02:00' },
    ]);
    // Apple's zoned time against XMP's: as instants.
    const apple = probed({ 'com.apple.quicktime.creationdate': '2023-01-02T03:04:05+0200' });
    expect(withVideoXmp(apple, xmp('2023-01-02T01:04:05Z')).findings).toBeUndefined();
    expect(withVideoXmp(apple, xmp('2023-01-02T03:04:05Z')).findings?.map((f) => f.flag)).toEqual(['taken-at-conflict']);
  });

  it('regression: video-xmp-zoneless-utc-header-conflict — a zone-less XMP time a real zone offset (−12 h to +14 h; :00, :30 or :45) from a zone-less header is no conflict: the header read as UTC, XMP as local explains it', () => {
    const header = probed({ creation_time: '2023-01-02T01:04:05.000000Z' });
    // A phone's UTC header beside an editor's local time without its offset (UTC+2, UTC-5, UTC+5:45).
    expect(withVideoXmp(header, xmp('2023-01-02T03:04:05')).findings).toBeUndefined();
    expect(withVideoXmp(header, xmp('2023-01-01T20:04:06')).findings).toBeUndefined();
    expect(withVideoXmp(header, xmp('2023-01-02T06:49:05')).findings).toBeUndefined();
    // No offset explains 2 h 07 min, nor 15 h.
    expect(withVideoXmp(header, xmp('2023-01-02T03:11:05')).findings?.map((f) => f.flag)).toEqual(['taken-at-conflict']);
    expect(withVideoXmp(header, xmp('2023-01-02T16:04:05')).findings?.map((f) => f.flag)).toEqual(['taken-at-conflict']);
  });

  it('regression: video-xmp-zoneless-offset-no-zone-has-accepted — the header-UTC reading explains only offsets zones have: −12 h to +14 h, minutes :00, :30 or :45', () => {
    const header = probed({ creation_time: '2023-01-02T01:04:05.000000Z' });
    // Real zones at the edges and off the hour: UTC+14 (Kiribati), UTC−12, UTC−9:30 (Marquesas), UTC+12:45 (Chatham).
    expect(withVideoXmp(header, xmp('2023-01-02T15:04:05')).findings).toBeUndefined();
    expect(withVideoXmp(header, xmp('2023-01-01T13:04:05')).findings).toBeUndefined();
    expect(withVideoXmp(header, xmp('2023-01-01T15:34:05')).findings).toBeUndefined();
    expect(withVideoXmp(header, xmp('2023-01-02T13:49:05')).findings).toBeUndefined();
    // No zone is 13 h or 14 h behind UTC, nor 2 h 15 min or 1 h 15 min away: each was taken as a zone's local clock.
    expect(withVideoXmp(header, xmp('2023-01-01T12:04:05')).findings?.map((f) => f.flag)).toEqual(['taken-at-conflict']);
    expect(withVideoXmp(header, xmp('2023-01-01T11:04:05')).findings?.map((f) => f.flag)).toEqual(['taken-at-conflict']);
    expect(withVideoXmp(header, xmp('2023-01-02T03:19:05')).findings?.map((f) => f.flag)).toEqual(['taken-at-conflict']);
    expect(withVideoXmp(header, xmp('2023-01-01T23:49:05')).findings?.map((f) => f.flag)).toEqual(['taken-at-conflict']);
  });

  it('the reader\'s notes are partial, a metadata-partial finding, beside those already found', () => {
    const m = withVideoXmp(probed({ make: 'A\u0001' }), { dates: [], notes: ['XMP: the packet in uuid was not read: it has a DOCTYPE; no XMP date read'] });
    expect(m.partial).toEqual(['XMP: the packet in uuid was not read: it has a DOCTYPE; no XMP date read']);
    expect(m.findings?.map((f) => f.flag)).toEqual(['text-escaped', 'metadata-partial']);
  });
});

describe('normaliseProbe: the video stream a contact sheet is planned on', () => {
  it('regression: contact-sheet-of-short-video-track-no-video-frame — records where the shown video stream starts and how long it runs', () => {
    const m = normaliseProbe({
      format: { format_name: 'mov,mp4,m4a,3gp,3g2,mj2', start_time: '-0.021333', duration: '30.021333' },
      streams: [
        { index: 0, codec_type: 'video', codec_name: 'mjpeg', start_time: '0.000000', duration: '0.040000', disposition: { attached_pic: 1 } },
        { index: 1, codec_type: 'audio', codec_name: 'aac', start_time: '-0.021333', duration: '30.021333' },
        { index: 2, codec_type: 'video', codec_name: 'h264', start_time: '10.000000', duration: '1.000000', nb_frames: '30', avg_frame_rate: '30/1' },
      ],
    });
    // Not the cover art; its start counted from the file's (negative: encoder delay) start, as ffmpeg seeks.
    expect(m.durationSec).toBe(30.021333);
    expect(m.videoStream).toEqual({ startSec: 10.021333, durationSec: 1 });
  });

  it('regression: stream-duration-understated-one-frame — the longer of the stated duration and frames over rate', () => {
    // An MP4 whose mdhd says 0.1 s over 300 frames at 10 fps in a 30 s file (ffprobe's figures).
    const understated = normaliseProbe({ format: { start_time: '0.000000', duration: '30.000000' }, streams: [{ codec_type: 'video', start_time: '0.000000', duration: '0.100000', nb_frames: '300', avg_frame_rate: '10/1' }] });
    expect(understated.videoStream).toEqual({ startSec: 0, durationSec: 30 });
    // A frame count that says less than the duration does not shorten it.
    const fewFrames = normaliseProbe({ format: { start_time: '0', duration: '30' }, streams: [{ codec_type: 'video', start_time: '0', duration: '30', nb_frames: '1', avg_frame_rate: '10/1' }] });
    expect(fewFrames.videoStream).toEqual({ startSec: 0, durationSec: 30 });
  });

  it('regression: video-stream-duration-stored-from-edit-list-frames — frames over rate never beyond the stated file', () => {
    // ffprobe's figures for a copy-trimmed clip with an edit list (6.07 s shown of 317 frames at 30 fps, 10.57 s)
    // and a piped AVI whose header says 1073741824 frames (414 days at 30 fps): the stream's stated duration.
    const editList = normaliseProbe({ format: { start_time: '0.000000', duration: '6.067000' }, streams: [{ codec_type: 'video', start_time: '0.000000', duration: '6.066992', nb_frames: '317', avg_frame_rate: '30/1' }] });
    expect(editList.videoStream).toEqual({ startSec: 0, durationSec: 6.066992 });
    const piped = normaliseProbe({ format: { start_time: '0.000000', duration: '5092.566667' }, streams: [{ codec_type: 'video', start_time: '0.000000', duration: '5092.566667', nb_frames: '1073741824', avg_frame_rate: '30/1' }] });
    expect(piped.videoStream).toEqual({ startSec: 0, durationSec: 5092.566667 });
    // No file duration to back the count up: the stated stream duration stands.
    const unbacked = normaliseProbe({ format: { start_time: '0' }, streams: [{ codec_type: 'video', start_time: '0', duration: '0.1', nb_frames: '1073741824', avg_frame_rate: '30/1' }] });
    expect(unbacked.videoStream).toEqual({ startSec: 0, durationSec: 0.1 });
    // Started late: the count is cut to the file after the stream's start.
    const late = normaliseProbe({ format: { start_time: '0', duration: '30' }, streams: [{ codec_type: 'video', start_time: '10', duration: '0.1', nb_frames: '1000', avg_frame_rate: '10/1' }] });
    expect(late.videoStream).toEqual({ startSec: 10, durationSec: 20 });
  });

  it('takes frames over frame rate when the stream states no duration, and states nothing it does not know', () => {
    const counted = normaliseProbe({ format: { start_time: '0.000000' }, streams: [{ codec_type: 'video', start_time: '0.5', nb_frames: '90', avg_frame_rate: '30000/1001' }] });
    expect(counted.videoStream).toEqual({ startSec: 0.5, durationSec: 3.003 });
    const unknown = normaliseProbe({ format: {}, streams: [{ codec_type: 'video', duration: 'N/A', nb_frames: 'N/A', avg_frame_rate: '0/0' }] });
    expect(unknown.videoStream).toBeUndefined();
    const audioOnly = normaliseProbe({ format: { start_time: '0', duration: '5' }, streams: [{ codec_type: 'audio', start_time: '0', duration: '5' }] });
    expect(audioOnly.videoStream).toBeUndefined();
  });
});

describe('normaliseProbe: the audio stream', () => {
  it('records the first audio stream\'s codec, sample rate and channels, only when sane', () => {
    const m = normaliseProbe({
      format: { format_name: 'mov,mp4,m4a,3gp,3g2,mj2', duration: '2.000000' },
      streams: [{ index: 0, codec_type: 'audio', codec_name: 'aac', sample_rate: '44100', channels: 1 }],
    });
    expect(m).toMatchObject({ durationSec: 2, codecs: ['aac'], audioStream: { codec: 'aac', sampleRate: 44100, channels: 1 } });
    expect(m.videoStream).toBeUndefined();
    const nonsense = normaliseProbe({ format: {}, streams: [{ codec_type: 'audio', sample_rate: '0', channels: -2 }, { codec_type: 'audio', codec_name: 'mp3' }] });
    expect(nonsense.audioStream).toBeUndefined();
    expect(normaliseProbe({ format: {}, streams: [{ codec_type: 'audio', sample_rate: '1e12', channels: 1.5 }] }).audioStream).toBeUndefined();
  });
});

describe('normaliseProbe: an audio file\'s times', () => {
  it('music-release-date-taken-as-capture-time: a music date tag is no capture time; the recording\'s creation_time is', () => {
    // ID3 TDRC/TYER and Vorbis DATE come out of ffprobe as `date`: a release year set by a tagger.
    const music = { format: { format_name: 'flac', duration: '1.0', tags: { date: '2019-07-04T10:00:00' } }, streams: [] };
    expect(normaliseProbe(music).takenAt).toBeDefined();
    expect(normaliseProbe(music, { durationGuessed: false }).takenAt).toBeUndefined();
    const memo = { format: { format_name: 'mov,mp4,m4a,3gp,3g2,mj2', tags: { date: '2024', creation_time: '2024-05-01T10:20:30.000000Z' } }, streams: [] };
    // A movie header time states no zone (video-mvhd-local-time-read-as-utc): kept as written, no UTC.
    expect(normaliseProbe(memo, { durationGuessed: false }).takenAt).toMatchObject({ local: expect.stringMatching(/^2024-05-01T10:20:30/), offsetMinutes: null, utc: null });
  });

  it('a duration ffprobe guessed is absent for audio; one it read stays', () => {
    const result = { format: { format_name: 'mp3', duration: '18.099185' }, streams: [{ codec_type: 'audio', codec_name: 'mp3', duration: '18.099185' }] };
    expect(normaliseProbe(result, { durationGuessed: true }).durationSec).toBeUndefined();
    expect(normaliseProbe(result, { durationGuessed: false }).durationSec).toBe(18.099185);
  });
});

/** A well-formed Standard MIDI File: format 0, one track holding only its end. */
const MIDI = Buffer.concat([
  Buffer.from('MThd', 'latin1'), Buffer.from([0, 0, 0, 6, 0, 0, 0, 1, 0, 96]),
  Buffer.from('MTrk', 'latin1'), Buffer.from([0, 0, 0, 4, 0x00, 0xff, 0x2f, 0x00]),
]);

describe('probe (real ffprobe over HTTP range requests)', () => {
  const server = new RangeServer();
  let movBytes: Buffer;

  beforeAll(async () => {
    await server.start();
    movBytes = await testVideo({
      seconds: 3,
      ext: 'mov',
      metadata: {
        'com.apple.quicktime.location.ISO6709': '+51.5074-000.1278+011.000/',
        'com.apple.quicktime.make': 'Apple',
        'com.apple.quicktime.model': 'iPhone 15',
        'com.apple.quicktime.creationdate': '2024-05-01T12:20:30+0100',
        creation_time: '2024-05-01T11:20:30Z',
      },
    });
    server.put('/clip.mov', movBytes);
    const mp4 = await testVideo({ seconds: 2, metadata: { location: '-22.9068-043.1729/', creation_time: '2023-12-31T23:59:59Z' } });
    server.put('/clip.mp4', mp4);

    // A segment a playlist can point at (server-side request forgery) and a local file.
    server.put('/secret.mp4', mp4);
    // A voice memo (AAC in MP4, moov at the end) and an MP3: audio whose metadata ffprobe reads too.
    server.put('/memo.m4a', await makeWithFfmpeg(['-f', 'lavfi', '-i', 'sine=d=2:sample_rate=48000', '-ac', '1', '-c:a', 'aac', '-f', 'mp4'], 'm4a'));
    server.put('/song.mp3', await makeWithFfmpeg(['-f', 'lavfi', '-i', 'sine=d=2', '-ac', '2', '-f', 'mp3'], 'mp3'));
    const playlist = (segment: string) => `#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXTINF:2.0,\n${segment}\n#EXT-X-ENDLIST\n`;
    server.put('/ssrf.m3u8', playlist(server.url('/secret.mp4').split('?')[0]!));
    server.put('/local.m3u8', playlist('file:///etc/passwd'));
    server.put('/evil.ffconcat', "ffconcat version 1.0\nfile 'secret.mp4'\nfile 'file:/etc/passwd'\n");
  }, 60_000);

  afterAll(async () => {
    await server.stop();
  });

  const sourceAt = (path: string) => new BufferSource(Buffer.alloc(0), path.slice(1), () => server.url(path));

  it('reads duration, codecs, size, creation time, location and make/model of a QuickTime movie', async () => {
    const m = normaliseProbe(await probe(await testTools().resolve('ffprobe'), sourceAt('/clip.mov')));
    expect(m.durationSec).toBeCloseTo(3, 1);
    expect(m.codecs).toEqual(['mpeg4']);
    expect(m).toMatchObject({ width: 320, height: 240, make: 'Apple', model: 'iPhone 15' });
    expect(m.gps).toEqual({ lat: 51.5074, lon: -0.1278, altM: 11 });
    expect(m.takenAt).toMatchObject({ local: '2024-05-01T12:20:30', offsetMinutes: 60, utc: '2024-05-01T11:20:30Z' });
  });

  it('audio-metadata-refused-by-video-demuxer-allowlist: reads duration, codec, sample rate and channels of a voice memo and an MP3', async () => {
    const ffprobe = await testTools().resolve('ffprobe');
    const memo = normaliseProbe(await probe(ffprobe, sourceAt('/memo.m4a')));
    expect(memo.durationSec).toBeCloseTo(2, 1);
    expect(memo).toMatchObject({ codecs: ['aac'], audioStream: { codec: 'aac', sampleRate: 48000, channels: 1 } });
    expect(memo.width).toBeUndefined();
    // The mp3 demuxer was not on the allowlist: every MP3's metadata failed as unsupported-format.
    const song = normaliseProbe(await probe(ffprobe, sourceAt('/song.mp3')));
    expect(song.durationSec).toBeCloseTo(2, 1);
    expect(song).toMatchObject({ codecs: ['mp3'], audioStream: { codec: 'mp3', sampleRate: 44100, channels: 2 } });
  });

  it('mp3-vbr-without-xing-duration-estimated-stored: a duration ffprobe guesses from the bitrate is absent', async () => {
    // 5 s of noise then 55 s of silence, VBR with no Xing/Info header: the first frames' bitrate over the
    // file's size made 18.1 s of 60 s, stored as searchable fact. ffmpeg decoding every frame is the oracle.
    const vbr = await makeWithFfmpeg(['-f', 'lavfi', '-i', 'anoisesrc=d=5:a=0.5,apad=whole_dur=60', '-ac', '1', '-c:a', 'libmp3lame', '-q:a', '0', '-write_xing', '0', '-f', 'mp3'], 'mp3');
    server.put('/vbr.mp3', vbr);
    const ffprobe = await testTools().resolve('ffprobe');
    const guessed = normaliseProbe(await probe(ffprobe, sourceAt('/vbr.mp3'))).durationSec!;
    expect(Math.abs(guessed - 60)).toBeGreaterThan(10);
    const extractor = new MediaMetadataExtractor(testTools());
    const m = await extractor.audio(sourceAt('/vbr.mp3'), { detectedExt: 'mp3' });
    expect(m?.durationSec).toBeUndefined();
    expect(m).toMatchObject({ codecs: ['mp3'], audioStream: { codec: 'mp3', channels: 1 } });
    // The same sound with its Xing header states its frames: 60 s, kept.
    server.put('/vbr-xing.mp3', await makeWithFfmpeg(['-f', 'lavfi', '-i', 'anoisesrc=d=5:a=0.5,apad=whole_dur=60', '-ac', '1', '-c:a', 'libmp3lame', '-q:a', '0', '-f', 'mp3'], 'mp3'));
    expect((await extractor.audio(sourceAt('/vbr-xing.mp3'), { detectedExt: 'mp3' }))?.durationSec).toBeCloseTo(60, 0);
    // An ADTS AAC stream states no duration either; a truncated MP3 whose Xing header counts the frames it had is contradicted by its size.
    server.put('/raw.aac', await makeWithFfmpeg(['-f', 'lavfi', '-i', 'sine=d=3', '-c:a', 'aac', '-f', 'adts'], 'aac'));
    expect(await extractor.audio(sourceAt('/raw.aac'), { detectedExt: 'aac' })).toMatchObject({ codecs: ['aac'] });
    expect((await extractor.audio(sourceAt('/raw.aac'), { detectedExt: 'aac' }))?.durationSec).toBeUndefined();
    const song = await makeWithFfmpeg(['-f', 'lavfi', '-i', 'sine=d=3', '-ac', '1', '-c:a', 'libmp3lame', '-f', 'mp3'], 'mp3');
    server.put('/cut.mp3', song.subarray(0, 3000));
    expect((await extractor.audio(sourceAt('/cut.mp3'), { detectedExt: 'mp3' }))?.durationSec).toBeUndefined();
    server.put('/whole.mp3', song);
    expect((await extractor.audio(sourceAt('/whole.mp3'), { detectedExt: 'mp3' }))?.durationSec).toBeCloseTo(3, 1);
  }, 60_000);

  it('eac3-refused-by-demuxer-allowlist: raw E-AC-3 reads codec, sample rate and channels as ffprobe does, its guessed duration absent', async () => {
    const raw = await makeWithFfmpeg(['-f', 'lavfi', '-i', 'sine=d=2', '-ac', '6', '-c:a', 'eac3', '-f', 'eac3'], 'eac3');
    expect(raw[5]! >> 3).toBe(16); // bsid 16: E-AC-3, not AC-3
    // Identified as file-type and libmagic name it (ac3, the same sync word); its own names are no mismatch.
    const id = await new FileTypeIdentifier().identify(new BufferSource(raw, 'x.eac3'));
    expect(id).toMatchObject({ detectedExt: 'ac3', kind: 'audio' });
    for (const name of ['x.eac3', 'x.ec3', 'x.ac3']) expect({ name, mismatch: isExtensionMismatch(name, 'ac3') }).toEqual({ name, mismatch: false });
    expect(isExtensionMismatch('x.mp3', 'ac3')).toBe(true);
    server.put('/raw.eac3', raw);
    const extractor = new MediaMetadataExtractor(testTools());
    // The eac3 demuxer was not on the allowlist: ffprobe refused the file ("Format not on whitelist").
    const m = await extractor.audio(sourceAt('/raw.eac3'), { detectedExt: 'ac3' });
    expect(m).toMatchObject({ codecs: ['eac3'], audioStream: { codec: 'eac3', sampleRate: 44100, channels: 6 } });
    // A raw stream's duration is ffprobe's guess from the bitrate ("Estimating duration"): absent.
    expect(m?.durationSec).toBeUndefined();
    // Inside MP4, Matroska and MPEG-TS, as ffprobe without any allowlist reads them.
    for (const [ext, format] of [['mp4', 'mp4'], ['mka', 'matroska'], ['ts', 'mpegts']] as const) {
      const file = await makeWithFfmpeg(['-f', 'lavfi', '-i', 'sine=d=2', '-ac', '6', '-c:a', 'eac3', '-f', format], ext);
      server.put(`/eac3.${ext}`, file);
      const dir = mkdtempSync(join(tmpdir(), 'exhibit-eac3-'));
      let oracle: { format: { duration: string }; streams: Array<{ codec_name: string; sample_rate: string; channels: number }> };
      try {
        writeFileSync(join(dir, `x.${ext}`), file);
        const run = spawnSync((await testTools().resolve('ffprobe')).path, ['-v', 'error', '-of', 'json', '-show_format', '-show_streams', join(dir, `x.${ext}`)], { encoding: 'utf8' });
        oracle = JSON.parse(run.stdout);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
      const read = normaliseProbe(await probe(await testTools().resolve('ffprobe'), sourceAt(`/eac3.${ext}`)));
      expect({ ext, durationSec: read.durationSec, audio: read.audioStream }).toEqual({
        ext,
        durationSec: Number(oracle.format.duration),
        audio: { codec: 'eac3', sampleRate: Number(oracle.streams[0]!.sample_rate), channels: oracle.streams[0]!.channels },
      });
      expect(read.audioStream).toEqual({ codec: 'eac3', sampleRate: 44100, channels: 6 });
    }
  }, 60_000);

  it('midi-tracker-metadata-recorded-corrupt-file: a score no allowed demuxer reads is not read (null), never corrupt-file', async () => {
    server.put('/tune.mid', MIDI);
    // Identified as audio (file-type, libmagic: audio/midi), but ffprobe under the allowlist calls it corrupt.
    expect(await new FileTypeIdentifier().identify(new BufferSource(MIDI, 'tune.mid'))).toMatchObject({ detectedExt: 'mid', kind: 'audio' });
    const err = await probe(await testTools().resolve('ffprobe'), sourceAt('/tune.mid')).catch((e: unknown) => e);
    expect(isExhibitError(err, 'corrupt-file')).toBe(true);
    // No tool is run for it: a resolver that cannot find ffprobe is never asked.
    const noTools = new MediaMetadataExtractor(new MediaToolResolver({ ffprobePath: '/nonexistent/ffprobe', ffmpegPath: '/nonexistent/ffmpeg' }));
    expect(await noTools.audio(sourceAt('/tune.mid'), { detectedExt: 'mid' })).toBeNull();
    for (const ext of ['mid', 'xm', 's3m', 'it', null, undefined, 'constructor', '__proto__']) expect(audioReadable(ext)).toBe(false);
    for (const ext of ['mp3', 'm4a', 'aac', 'flac', 'ogg', 'opus', 'wav', 'aif', 'amr', '3gp', 'mov', 'caf']) expect(audioReadable(ext)).toBe(true);
  });

  it('reads the mp4 location and the movie header creation time as recorded', async () => {
    const m = normaliseProbe(await probe(await testTools().resolve('ffprobe'), sourceAt('/clip.mp4')));
    expect(m.gps).toEqual({ lat: -22.9068, lon: -43.1729 });
    expect(m.takenAt).toMatchObject({ local: expect.stringMatching(/^2023-12-31T23:59:59(\.0+)?$/), offsetMinutes: null, utc: null, source: 'QuickTime:CreateDate' });
  });

  it('regression: video-mvhd-local-time-read-as-utc — a movie header time is kept as recorded, its zone unstated, as exiftool shows it', async () => {
    // A camera set to UTC+2 writes its wall clock, 12:20:30, into mvhd/mdhd (the format says UTC; Canon,
    // Nikon, Sony, Panasonic and dashcams write local time). Read as UTC it was 10:20:30 local: wrong evidence.
    // No use_metadata_tags: the time goes only into the mvhd and mdhd headers, as a camera writes it.
    const bytes = await makeWithFfmpeg(['-f', 'lavfi', '-i', 'testsrc=size=160x120:rate=10:duration=1', '-c:v', 'mpeg4', '-metadata', 'creation_time=2024-05-01T12:20:30'], 'mp4');
    server.put('/camera.mp4', bytes);
    const m = normaliseProbe(await probe(await testTools().resolve('ffprobe'), sourceAt('/camera.mp4')));
    expect(m.takenAt).toEqual({ local: '2024-05-01T12:20:30.000000', offsetMinutes: null, utc: null, source: 'QuickTime:CreateDate' });
    expect(m.captureTimes?.map((t) => [t.source, t.utc])).toEqual([
      ['QuickTime:CreateDate', null],
      ['QuickTime:MediaCreateDate', null],
    ]);
    // exiftool by default shows the header time as written, with no zone (-api QuickTimeUTC would assume UTC).
    const theirs = exiftoolTimes(bytes, 'mp4');
    if (theirs) expect(theirs['QuickTime:CreateDate']).toBe(m.takenAt!.local.slice(0, 19).replace(/^(\d{4})-(\d{2})-(\d{2})T/, '$1:$2:$3 '));
  });

  it('regression: video-mvhd-local-time-read-as-utc — Apple: the creationdate with its offset wins; the movie header time is also kept, zone unstated', async () => {
    const m = normaliseProbe(await probe(await testTools().resolve('ffprobe'), sourceAt('/clip.mov')));
    expect(m.takenAt).toEqual({ local: '2024-05-01T12:20:30', offsetMinutes: 60, utc: '2024-05-01T11:20:30Z', source: 'QuickTime:CreationDate' });
    // The header names the creationdate's instant: proven UTC, kept as UTC (video-header-utc-shown-as-other-local-time).
    expect(m.captureTimes?.slice(1)).toContainEqual({ local: expect.stringMatching(/^2024-05-01T11:20:30/), offsetMinutes: 0, utc: expect.stringMatching(/^2024-05-01T11:20:30/), source: 'QuickTime:CreateDate' });
    const theirs = exiftoolTimes(movBytes, 'mov');
    if (theirs) expect(theirs['Keys:CreationDate']).toBe('2024:05:01 12:20:30+01:00');
  });

  /** A camera MP4 (mvhd local 12:20:30) with exiftool-written XMP; null when exiftool is missing. */
  async function withXmp(exiftoolArgs: (dir: string) => string[], creationTime: string | null = '2024-05-01T12:20:30'): Promise<Buffer | null> {
    const header = creationTime === null ? [] : ['-metadata', `creation_time=${creationTime}`];
    const plain = await makeWithFfmpeg(['-f', 'lavfi', '-i', 'testsrc=size=160x120:rate=10:duration=1', '-c:v', 'mpeg4', ...header], 'mp4');
    const dir = mkdtempSync(join(tmpdir(), 'exhibit-xmp-'));
    try {
      const file = join(dir, 'clip.mp4');
      writeFileSync(file, plain);
      const run = spawnSync('exiftool', ['-q', '-overwrite_original', ...exiftoolArgs(dir), file], { encoding: 'utf8' });
      return run.error || run.status !== 0 ? null : readFileSync(file);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }

  it('regression: video-xmp-pantry-date-taken-as-capture-time — a Premiere pantry ingredient date is not the clip time', async (ctx) => {
    // The reviewer's pantry.mp4: the ingredient's exif:DateTimeOriginal (-04:00) was stated as the clip's capture time.
    const packet = '<?xpacket begin="" id="W5M0MpCehiHzreSzNTczkc9d"?><x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"><rdf:Description rdf:about="" xmlns:xmpMM="http://ns.adobe.com/xap/1.0/mm/" xmlns:exif="http://ns.adobe.com/exif/1.0/"><xmpMM:Pantry><rdf:Bag><rdf:li><rdf:Description exif:DateTimeOriginal="2019-07-04T12:00:00-04:00" xmpMM:InstanceID="xmp.iid:1234"/></rdf:li></rdf:Bag></xmpMM:Pantry></rdf:Description></rdf:RDF></x:xmpmeta><?xpacket end="w"?>';
    const bytes = await withXmp((dir) => {
      writeFileSync(join(dir, 'pantry.xmp'), packet);
      return [`-XMP<=${join(dir, 'pantry.xmp')}`];
    });
    if (!bytes) return ctx.skip('exiftool is not installed to write the XMP');
    expect(bytes.includes('2019-07-04T12:00:00-04:00')).toBe(true);
    server.put('/pantry.mp4', bytes);
    const m = normaliseProbe(await probe(await testTools().resolve('ffprobe'), sourceAt('/pantry.mp4')));
    expect(m.takenAt).toEqual({ local: '2024-05-01T12:20:30.000000', offsetMinutes: null, utc: null, source: 'QuickTime:CreateDate' });
    expect(m.captureTimes?.map((t) => t.source)).toEqual(['QuickTime:CreateDate', 'QuickTime:MediaCreateDate']);
  });

  it('regression: video-xmp-box-printed-unbounded — an XMP box past the output cap is never printed: one probe reads the rest', async (ctx) => {
    // With -export_xmp ffprobe printed the whole box before the cap acted (300 MB box: 974 MB RSS), then probed again.
    const bytes = await withXmp((dir) => {
      writeFileSync(join(dir, 'history.txt'), 'x'.repeat(MEDIA_LIMITS.maxProbeOutputBytes + 1024));
      return ['-XMP-xmp:CreateDate=2024:05:01 12:20:30+02:00', `-XMP-dc:Description<=${join(dir, 'history.txt')}`];
    });
    if (!bytes) return ctx.skip('exiftool is not installed to write the XMP');
    server.put('/big-xmp.mp4', bytes);
    const result = await probe(await testTools().resolve('ffprobe'), sourceAt('/big-xmp.mp4'));
    expect(JSON.stringify(result).length).toBeLessThan(64 * 1024);
    const m = normaliseProbe(result);
    expect(m).toMatchObject({ width: 160, height: 120, codecs: ['mpeg4'] });
    expect(m.takenAt).toEqual({ local: '2024-05-01T12:20:30.000000', offsetMinutes: null, utc: null, source: 'QuickTime:CreateDate' });
  }, 60_000);

  /** The file served at `path`, its bytes readable too (the XMP reader's ranged reads; ffprobe's URL). */
  const served = (path: string, bytes: Buffer) => {
    server.put(path, bytes);
    return new BufferSource(bytes, path.slice(1), () => server.url(path));
  };

  it('video-xmp-date-unread: an edited clip whose only capture date is its XMP gets it, with its tag as source', async (ctx) => {
    const bytes = await withXmp(() => ['-XMP-xmp:CreateDate=2023:01:02 03:04:05+02:00', '-XMP-xmpMM:HistoryWhen=2020:01:01 00:00:00'], null);
    if (!bytes) return ctx.skip('exiftool is not installed to write the XMP');
    const m = await new MediaMetadataExtractor(testTools()).video(served('/xmp-only.mp4', bytes));
    expect(m.takenAt).toEqual({ local: '2023-01-02T03:04:05', offsetMinutes: 120, utc: '2023-01-02T01:04:05Z', source: 'XMP:xmp:CreateDate' });
    expect(m.captureTimes?.map((t) => t.source)).toEqual(['XMP:xmp:CreateDate']);
    expect(m.findings).toBeUndefined();
  }, 60_000);

  it('video XMP ranks after the header time; one naming another moment is a taken-at-conflict finding; a pantry date is never read', async (ctx) => {
    const extractor = new MediaMetadataExtractor(testTools());
    // The header (camera local 12:20:30) and XMP 12:20:30+02:00: one moment read either way, no finding.
    const same = await withXmp(() => ['-XMP-xmp:CreateDate=2024:05:01 12:20:30+02:00']);
    if (!same) return ctx.skip('exiftool is not installed to write the XMP');
    const agreed = await extractor.video(served('/xmp-same.mp4', same));
    expect(agreed.takenAt).toEqual({ local: '2024-05-01T12:20:30.000000', offsetMinutes: null, utc: null, source: 'QuickTime:CreateDate' });
    expect(agreed.captureTimes?.map((t) => t.source)).toEqual(['QuickTime:CreateDate', 'QuickTime:MediaCreateDate', 'XMP:xmp:CreateDate']);
    expect(agreed.findings).toBeUndefined();
    const other = await withXmp(() => ['-XMP-exif:DateTimeOriginal=2021:03:04 05:06:07']);
    const conflict = await extractor.video(served('/xmp-other.mp4', other!));
    expect(conflict.takenAt?.source).toBe('QuickTime:CreateDate');
    expect(conflict.findings).toEqual([{ flag: 'taken-at-conflict', detail: 'QuickTime:CreateDate 2024-05-01T12:20:30.000000 differs from XMP:exif:DateTimeOriginal 2021-03-04T05:06:07' }]);
    // The reviewer's pantry file, now through the XMP reader: the ingredient's date is not the clip's.
    const pantry = '<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"><rdf:Description rdf:about="" xmlns:xmpMM="http://ns.adobe.com/xap/1.0/mm/" xmlns:exif="http://ns.adobe.com/exif/1.0/"><xmpMM:Pantry><rdf:Bag><rdf:li><rdf:Description exif:DateTimeOriginal="2019-07-04T12:00:00-04:00" xmpMM:InstanceID="xmp.iid:1234"/></rdf:li></rdf:Bag></xmpMM:Pantry></rdf:Description></rdf:RDF></x:xmpmeta>';
    const withPantry = await withXmp((dir) => {
      writeFileSync(join(dir, 'pantry.xmp'), pantry);
      return [`-XMP<=${join(dir, 'pantry.xmp')}`];
    }, null);
    expect(withPantry!.includes('2019-07-04T12:00:00-04:00')).toBe(true);
    const m = await extractor.video(served('/xmp-pantry.mp4', withPantry!));
    expect(m.takenAt).toBeUndefined();
    expect(m.findings).toBeUndefined();
  }, 60_000);

  it('a video XMP packet past MEDIA_LIMITS.maxVideoXmpBytes is not read: its date absent, a metadata-partial note says why', async (ctx) => {
    const bytes = await withXmp((dir) => {
      writeFileSync(join(dir, 'long.txt'), 'x'.repeat(MEDIA_LIMITS.maxVideoXmpBytes));
      return ['-XMP-xmp:CreateDate=2021:01:01 01:01:01', `-XMP-dc:Description<=${join(dir, 'long.txt')}`];
    });
    if (!bytes) return ctx.skip('exiftool is not installed to write the XMP');
    const m = await new MediaMetadataExtractor(testTools()).video(served('/xmp-long.mp4', bytes));
    expect(m.captureTimes?.map((t) => t.source)).toEqual(['QuickTime:CreateDate', 'QuickTime:MediaCreateDate']);
    expect(m.findings).toEqual([{ flag: 'metadata-partial', detail: expect.stringMatching(/^metadata read only in part: XMP: the packet in uuid is \d+ bytes, more than 1048576/) }]);
  }, 60_000);

  it('video-xmp-timeout-fails-whole-metadata: an XMP read past its parser-thread budget costs the XMP dates alone, with a note', async (ctx) => {
    // A packet of tags with 1,000 attributes each: about a second of sax's time against a budget of 1 ms.
    const tag = `<b:x xmlns:b="urn:b" ${Array.from({ length: 1000 }, (_, i) => `c${i}=""`).join(' ')}/>`;
    const body = tag.repeat(Math.floor((MEDIA_LIMITS.maxVideoXmpBytes - 4096) / tag.length));
    const bytes = await withXmp((dir) => {
      writeFileSync(join(dir, 'slow.xmp'), `<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"><rdf:Description rdf:about="" xmlns:xmp="http://ns.adobe.com/xap/1.0/" xmp:CreateDate="2024-05-01T12:20:30"><xmp:Label>${body}</xmp:Label></rdf:Description></rdf:RDF></x:xmpmeta>`);
      return [`-XMP<=${join(dir, 'slow.xmp')}`];
    });
    if (!bytes) return ctx.skip('exiftool is not installed to write the XMP');
    const m = await new MediaMetadataExtractor(testTools(), { xmpParse: { timeoutMs: 1 } }).video(served('/xmp-slow.mp4', bytes));
    expect(m).toMatchObject({ width: 160, height: 120, codecs: ['mpeg4'] });
    expect(m.captureTimes?.map((t) => t.source)).toEqual(['QuickTime:CreateDate', 'QuickTime:MediaCreateDate']);
    expect(m.findings).toEqual([{ flag: 'metadata-partial', detail: expect.stringMatching(/^metadata read only in part: XMP: not read \(parse-timeout: /) }]);
  }, 60_000);

  it('control: without the allowlists ffprobe follows a playlist to another URL', async () => {
    // Proves the playlist fixture is dangerous, so the refusal below means something.
    const ffprobe = await testTools().resolve('ffprobe');
    server.requests.length = 0;
    // Async on purpose: the server runs in this process.
    await runTool('ffprobe', ffprobe.path, ['-v', 'error', '-show_streams', server.url('/ssrf.m3u8')], { timeoutMs: 30_000, maxStdoutBytes: 1 << 20 }).catch(() => undefined);
    expect(server.requests).toContain('/secret.mp4');
  });

  it('refuses HLS playlists that point at other URLs or at a local file', async () => {
    const ffprobe = await testTools().resolve('ffprobe');
    for (const path of ['/ssrf.m3u8', '/local.m3u8']) {
      server.requests.length = 0;
      const err = await probe(ffprobe, sourceAt(path)).catch((e: unknown) => e);
      expect(isExhibitError(err, 'unsupported-format')).toBe(true);
      expect(server.requests).toEqual([path]);
      // The SAS signature never reaches an error message.
      expect(String((err as Error).message)).not.toContain('SECRETSIGNATURE');
    }
  });

  it('refuses a concat list that references a local file', async () => {
    server.requests.length = 0;
    const err = await probe(await testTools().resolve('ffprobe'), sourceAt('/evil.ffconcat')).catch((e: unknown) => e);
    expect(isExhibitError(err, 'unsupported-format')).toBe(true);
    expect(server.requests).toEqual(['/evil.ffconcat']);
  });

  it('fails garbage as corrupt-file, not as a tool fault', async () => {
    server.put('/garbage.mp4', Buffer.from('this is not a video '.repeat(100)));
    const err = await probe(await testTools().resolve('ffprobe'), sourceAt('/garbage.mp4')).catch((e: unknown) => e);
    expect(isExhibitError(err)).toBe(true);
    expect((err as { code: string }).code).toMatch(/^(corrupt-file|unsupported-format)$/);
  });
});
