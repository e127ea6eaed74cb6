import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it, type TestContext } from 'vitest';
import { BufferSource } from '../test-support/buffer.source.js';
import { makeWithFfmpeg } from '../test-support/fixtures.js';
import { FileTypeIdentifier } from './file-type.identifier.js';

/**
 * Disagreements with libmagic (`file --mime-type`) found by running both over
 * the files of a Linux system and crafted phone/computer evidence. Each case
 * is a file Exhibit named wrongly or not at all; libmagic, where installed,
 * is asked about the same bytes as the oracle.
 */

const libmagicAvailable = spawnSync('file', ['--version']).status === 0;

/**
 * libmagic's mime type for the bytes, or null when `file` is not installed: then the test says so
 * (an annotation on the test, and the skipped oracle test below), so the comparison is not silently dropped.
 */
function libmagicMime(ctx: TestContext, bytes: Buffer): string | null {
  if (!libmagicAvailable) {
    void ctx.annotate('libmagic oracle not asked: `file` is not installed (Debian package file, in .ci/run)', 'notice');
    return null;
  }
  const run = spawnSync('file', ['--mime-type', '-b', '-'], { input: bytes, encoding: 'utf8' });
  return run.status === 0 ? run.stdout.trim() : null;
}

const exiftoolAvailable = spawnSync('exiftool', ['-ver']).status === 0;

/** exiftool's MIMEType for the bytes (the second oracle), or null when exiftool is not installed or does not know them. */
function exiftoolMime(ctx: TestContext, bytes: Buffer): string | null {
  if (!exiftoolAvailable) {
    void ctx.annotate('exiftool oracle not asked: exiftool is not installed (Debian package libimage-exiftool-perl)', 'notice');
    return null;
  }
  const dir = mkdtempSync(join(tmpdir(), 'exhibit-identify-'));
  try {
    const path = join(dir, 'evidence');
    writeFileSync(path, bytes);
    const run = spawnSync('exiftool', ['-s3', '-MIMEType', path], { encoding: 'utf8' });
    return run.stdout.trim() || null;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Bytes Python writes (plistlib, sqlite3, zipfile: what iOS/Android tools and examiners' scripts produce). */
function python(script: string): Buffer {
  const run = spawnSync('python3', ['-c', script], { maxBuffer: 16 * 1024 * 1024 });
  if (run.status !== 0) throw new Error(`python fixture failed: ${run.stderr.toString()}`);
  return run.stdout;
}

const identifier = new FileTypeIdentifier();
const identify = (bytes: Buffer, name = 'evidence.bin') => identifier.identify(new BufferSource(bytes, name));

describe('the oracles themselves', () => {
  // Every comparison below is skipped, with its reason on the test, where the tool is missing; these
  // entries make the missing tool visible in the run's summary too.
  it.skipIf(!libmagicAvailable)('libmagic (`file`, Debian package file) names a PNG and a ZIP', (ctx) => {
    const png = Buffer.from('89504e470d0a1a0a0000000d4948445200000001000000010806000000', 'hex');
    expect(libmagicMime(ctx, png)).toBe('image/png');
    expect(libmagicMime(ctx, Buffer.from('504b0506000000000000000000000000000000000000', 'hex'))).toMatch(/zip/);
  });

  it.skipIf(!exiftoolAvailable)('exiftool (Debian package libimage-exiftool-perl) names a PNG', (ctx) => {
    const png = Buffer.from('89504e470d0a1a0a0000000d49484452000000010000000108060000001f15c4890000000d49444154789c6360000002000001e221bc330000000049454e44ae426082', 'hex');
    expect(exiftoolMime(ctx, png)).toBe('image/png');
  });
});

describe('signatures of a byte or two, confirmed by the structure after them', () => {
  it('utf16le-bom-text-identified-as-mp1-audio', async (ctx) => {
    // Notepad's "Unicode" and many Windows exports: FF FE, then UTF-16LE. FF FE is also an MPEG Layer I frame sync.
    const note = Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from('Meet at 5 behind the station\r\nBring the keys\r\n', 'utf16le')]);
    expect(await identify(note, 'note.txt')).toEqual({ mime: 'text/plain', detectedExt: 'txt', kind: 'document', findings: [] });
    // UTF-32LE starts with the same two bytes.
    const utf32 = Buffer.concat([Buffer.from([0xff, 0xfe, 0, 0]), ...[...'hello\n'].map((c) => Buffer.from([c.charCodeAt(0), 0, 0, 0]))]);
    expect(await identify(utf32)).toMatchObject({ mime: 'text/plain', kind: 'document' });
    const oracle = libmagicMime(ctx, note);
    if (oracle !== null) expect(oracle).toBe('text/plain');
  });

  it('mpeg audio without an ID3 tag is still identified by its frames', async () => {
    for (const [args, ext] of [
      [['-c:a', 'libmp3lame', '-id3v2_version', '0', '-write_xing', '0'], 'mp3'],
      [['-c:a', 'libmp3lame', '-ar', '8000', '-id3v2_version', '0'], 'mp3'],
      [['-c:a', 'mp2'], 'mp2'],
      [['-c:a', 'aac', '-f', 'adts'], 'aac'],
    ] as const) {
      const audio = await makeWithFfmpeg(['-f', 'lavfi', '-i', 'sine=d=1', ...args], ext);
      expect(audio.subarray(0, 3).toString('latin1')).not.toBe('ID3');
      expect(await identify(audio), args.join(' ')).toMatchObject({ detectedExt: ext, kind: 'audio' });
    }
  });

  it('two-frame-mp3-with-id3v1-or-padding-unidentified', async (ctx) => {
    // A short MP3 (a voice prompt, a notification sound) of two or three frames, then what writers append.
    const mp3 = await makeWithFfmpeg(['-f', 'lavfi', '-i', 'sine=d=1', '-c:a', 'libmp3lame', '-b:a', '128k', '-id3v2_version', '0', '-write_xing', '0'], 'mp3');
    const frameLength = (at: number) => Math.floor((144 * [0, 32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320][mp3[at + 2]! >> 4]! * 1000) / 44100) + ((mp3[at + 2]! >> 1) & 1);
    const framesEnd = (n: number) => {
      let at = 0;
      for (let i = 0; i < n; i++) at += frameLength(at);
      return at;
    };
    const id3v1 = Buffer.concat([Buffer.from('TAG'), Buffer.from('Title').subarray(0, 30), Buffer.alloc(125 - 5 - 1), Buffer.from([12])]);
    expect(id3v1.length).toBe(128);
    const ape = Buffer.concat([Buffer.from('APETAGEX'), Buffer.alloc(24)]);
    for (const frames of [2, 3]) {
      const cut = mp3.subarray(0, framesEnd(frames));
      for (const [tail, label] of [[id3v1, 'id3v1'], [Buffer.concat([id3v1.subarray(0, 125), id3v1.subarray(127)]), 'id3v1 written 126 bytes long'], [Buffer.alloc(64), 'zero padding'], [ape, 'ape tag'], [Buffer.concat([Buffer.from('LYRICSBEGIN'), Buffer.from('IND00002'), Buffer.from('000019LYRICS200'), id3v1]), 'lyrics3v2']] as const) {
        const file = Buffer.concat([cut, tail]);
        expect(await identify(file, 'prompt.mp3'), `${frames} frames + ${label}`).toMatchObject({ mime: 'audio/mpeg', kind: 'audio' });
        const oracle = libmagicMime(ctx, file);
        if (oracle !== null && label !== 'ape tag') expect(oracle, `${frames} frames + ${label}`).toBe('audio/mpeg');
      }
    }
    // A tag right after the first frame is not enough: one frame sync and 'TAG' is no MP3.
    expect((await identify(Buffer.concat([mp3.subarray(0, framesEnd(1)), Buffer.from('XX'), id3v1]), 'x.bin')).mime).not.toBe('audio/mpeg');
  });

  it('gobject-typelib-identified-as-mpeg-transport-stream', async (ctx) => {
    // A GObject typelib starts "GOBJ\nMETADATA\r\n\x1a"; file-type needs only a 'G' at 0 and at 188.
    const typelib = Buffer.alloc(4096);
    Buffer.from('GOBJ\nMETADATA\r\n\x1a', 'latin1').copy(typelib);
    for (let i = 16; i < typelib.length; i++) typelib[i] = (i * 131) & 0xff;
    typelib[188] = 0x47;
    const id = await identify(typelib, 'Gio-2.0.typelib');
    expect(id).toMatchObject({ mime: null, kind: 'other' });
    expect(id.findings.map((f) => f.flag)).toEqual(['unidentified']);
    expect(libmagicMime(ctx, typelib) ?? 'application/octet-stream').not.toBe('video/mp2t');
  });

  it('mpeg transport streams (188 and 192-byte packets) are still identified', async () => {
    const ts = await makeWithFfmpeg(['-f', 'lavfi', '-i', 'testsrc=size=64x48:rate=10:duration=1', '-c:v', 'mpeg2video', '-f', 'mpegts'], 'ts');
    expect(await identify(ts)).toMatchObject({ mime: 'video/mp2t', kind: 'video' });
    const m2ts = await makeWithFfmpeg(['-f', 'lavfi', '-i', 'testsrc=size=64x48:rate=10:duration=1', '-c:v', 'mpeg2video', '-f', 'mpegts', '-mpegts_m2ts_mode', '1'], 'm2ts');
    expect(m2ts[4]).toBe(0x47);
    expect(await identify(m2ts)).toMatchObject({ mime: 'video/mp2t', kind: 'video' });
  });

  it('gtk-icon-theme-cache-identified-as-truetype-font', async (ctx) => {
    // GTK's icon-theme.cache: major 1, minor 0, then offsets. file-type takes 00 01 00 00 00 for a TrueType font.
    const cache = Buffer.alloc(2048);
    cache.writeUInt16BE(1, 0);
    cache.writeUInt16BE(0, 2);
    cache.writeUInt32BE(12, 4);
    cache.writeUInt32BE(244, 8);
    cache.writeUInt32BE(11, 12);
    const id = await identify(cache, 'icon-theme.cache');
    expect(id).toMatchObject({ mime: null, kind: 'other' });
    expect(libmagicMime(ctx, cache) ?? 'application/octet-stream').not.toBe('font/sfnt');
  });

  it('a TrueType font with a table directory is still identified', async (ctx) => {
    const tags = ['OS/2', 'cmap', 'glyf', 'head', 'hhea', 'hmtx', 'loca', 'maxp', 'name', 'post'];
    const font = Buffer.alloc(12 + 16 * tags.length + 64 * tags.length);
    font.writeUInt32BE(0x00010000, 0);
    font.writeUInt16BE(tags.length, 4);
    font.writeUInt16BE(128, 6);
    font.writeUInt16BE(3, 8);
    font.writeUInt16BE(tags.length * 16 - 128, 10);
    tags.forEach((tag, i) => {
      const at = 12 + 16 * i;
      font.write(tag, at, 'latin1');
      font.writeUInt32BE(12 + 16 * tags.length + 64 * i, at + 8);
      font.writeUInt32BE(64, at + 12);
    });
    expect(await identify(font, 'font.ttf')).toMatchObject({ mime: 'font/ttf', detectedExt: 'ttf' });
    const oracle = libmagicMime(ctx, font);
    if (oracle !== null) expect(oracle).toBe('font/sfnt');
  });
});

describe('phone and recorder formats file-type does not know', () => {
  it('ios-binary-plist-unidentified', async (ctx) => {
    const plist = python(
      "import plistlib, sys, datetime; sys.stdout.buffer.write(plistlib.dumps({'LastSync': datetime.datetime(2024, 5, 1, 12, 0), 'Account': 'user@example.com', 'Blob': b'\\x00\\x01'}, fmt=plistlib.FMT_BINARY))",
    );
    expect(plist.subarray(0, 8).toString('latin1')).toBe('bplist00');
    expect(await identify(plist, 'com.apple.MobileSMS.plist')).toEqual({ mime: 'application/x-plist', detectedExt: 'plist', kind: 'other', findings: [] });
    expect(identifier.extensionMismatch('com.apple.MobileSMS.plist', { mime: 'application/x-plist', detectedExt: 'plist', kind: 'other' })).toBe(false);
    const oracle = exiftoolMime(ctx, plist);
    if (oracle !== null) expect(oracle).toBe('application/x-plist');
    // The magic alone is not enough: a trailer that describes no offset table inside the file is not a plist.
    const truncated = plist.subarray(0, plist.length - 10);
    expect(await identify(truncated)).toMatchObject({ mime: null, kind: 'other' });
  });

  it('imessage-caf-audio-unidentified', async () => {
    const caf = await makeWithFfmpeg(['-f', 'lavfi', '-i', 'sine=d=1', '-c:a', 'pcm_s16le'], 'caf');
    expect(await identify(caf, 'Audio Message.caf')).toEqual({ mime: 'audio/x-caf', detectedExt: 'caf', kind: 'audio', findings: [] });
    expect(identifier.extensionMismatch('Audio Message.caf', { mime: 'audio/x-caf', detectedExt: 'caf', kind: 'audio' })).toBe(false);
    if (libmagicAvailable) expect(spawnSync('file', ['-b', '-'], { input: caf, encoding: 'utf8' }).stdout).toMatch(/CoreAudio Format/);
  });

  it('rf64-wave-recording-unidentified', async (ctx) => {
    const rf64 = await makeWithFfmpeg(['-f', 'lavfi', '-i', 'sine=d=1', '-rf64', 'always'], 'wav');
    expect(rf64.subarray(0, 4).toString('latin1')).toBe('RF64');
    expect(await identify(rf64, 'ZOOM0001.WAV')).toEqual({ mime: 'audio/wav', detectedExt: 'wav', kind: 'audio', findings: [] });
    const oracle = libmagicMime(ctx, rf64);
    if (oracle !== null) expect(oracle).toMatch(/^audio\/(x-)?wav$/);
  });
});

describe('a PDF behind a prefix', () => {
  const pdf = '%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n2 0 obj<</Type/Pages/Kids[]/Count 0>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n';

  it('pdf-after-text-prefix-identified-as-plain-text', async (ctx) => {
    // A mail gateway's or spooler's text in front of the header: readers open it, as long as %PDF- is in the first 1024 bytes.
    const wrapped = Buffer.from('X-Scanned-By: gateway 1.2\r\nContent-Disposition: attachment\r\n\r\n'.repeat(4) + pdf, 'latin1');
    expect(await identify(wrapped, 'invoice.pdf')).toEqual({ mime: 'application/pdf', detectedExt: 'pdf', kind: 'document', findings: [] });
    const oracle = libmagicMime(ctx, wrapped);
    if (oracle !== null) expect(oracle).toBe('application/pdf');
  });

  it('a text that only mentions %PDF- is still text', async () => {
    const note = Buffer.from(`Files start with %PDF-1.7 and end with an EOF marker.\n${'notes\n'.repeat(50)}`, 'latin1');
    expect(await identify(note, 'notes.txt')).toMatchObject({ mime: 'text/plain' });
    // Past the window readers search, the header does not make a PDF either.
    const far = Buffer.from('x'.repeat(2000) + pdf, 'latin1');
    expect(await identify(far)).toMatchObject({ mime: 'text/plain' });
  });
});

describe('extension mismatch on names that fit the content', () => {
  const mismatch = (name: string, detectedExt: string) => identifier.extensionMismatch(name, { mime: 'x/y', detectedExt, kind: 'other' });

  it('versioned-shared-library-flagged-as-extension-mismatch', () => {
    // Every shared object on a Linux or Android system: the last "extension" is a version number.
    expect(mismatch('libz.so.1.2.13', 'elf')).toBe(false);
    expect(mismatch('libstdc++.so.6.0.30', 'elf')).toBe(false);
    expect(mismatch('python3.10', 'elf')).toBe(false);
    expect(mismatch('sharp-linux-x64.node', 'elf')).toBe(false);
    expect(mismatch('9ce4533fa01ee3c761feb3940243db8080629f44.debug', 'elf')).toBe(false);
    // A segment number does not hide the type before it.
    expect(mismatch('disk.dd.001', 'img')).toBe(false);
    expect(mismatch('backup.7z.001', '7z')).toBe(false);
    // ...and does not excuse a type that contradicts it.
    expect(mismatch('holiday.jpg.1', 'elf')).toBe(true);
    expect(mismatch('libz.so.1', 'jpg')).toBe(true);
  });

  it('jpeg-named-only-digits-not-flagged-as-extension-mismatch', () => {
    // A photo hidden as a split-archive segment, an executable named like a man page: the digits are the
    // name's only extension, and the content does not fit them (main flagged both).
    expect(mismatch('secret.001', 'jpg')).toBe(true);
    expect(mismatch('setup.1', 'exe')).toBe(true);
    expect(mismatch('DCIM/IMG_0001.7', 'jpg')).toBe(true);
    // A raw image's first segment fits .001; a version split at the dot (python3.10, perl5.36.0) is no extension.
    expect(mismatch('disk.001', 'img')).toBe(false);
    expect(mismatch('perl5.36.0', 'elf')).toBe(false);
    expect(mismatch('kubectl.1.28', 'elf')).toBe(false);
  });

  it('jpeg-named-camera-stem-and-number-not-flagged', () => {
    // A stem ending in letters and a short number, then one number: a version only for a program (python3.10);
    // a photo under such a name is judged on the number (main flagged all six).
    for (const name of ['report2.1', 'IMG2.7', 'photo2.001', 'DSC01.1', 'notes1.1', 'a1.9']) expect(mismatch(name, 'jpg'), name).toBe(true);
    expect(mismatch('python3.10', 'elf')).toBe(false);
    expect(mismatch('python3.10', 'macho')).toBe(false);
    expect(mismatch('node18.1', 'exe')).toBe(false);
  });

  it('static-library-and-python-wheel-flagged-as-extension-mismatch', () => {
    expect(mismatch('libc.a', 'ar')).toBe(false);
    expect(mismatch('libstd-56350ff0a024971a.rlib', 'ar')).toBe(false);
    expect(mismatch('setuptools-67.6.1-py3-none-any.whl', 'zip')).toBe(false);
    expect(mismatch('weights.npz', 'zip')).toBe(false);
    expect(mismatch('freeeuro.pfa', 'ps')).toBe(false);
    // Renamed files are still caught.
    expect(mismatch('holiday.a', 'jpg')).toBe(true);
    expect(mismatch('evidence.whl', 'sqlite')).toBe(true);
    expect(mismatch('movie.jpg', 'mp4')).toBe(true);
  });
});

describe('a ZIP-based document whose content types lie past the head', () => {
  /** An OOXML package as Keynote's export wrote the one found: parts first, 80 KB of media, `[Content_Types].xml` last. */
  const ooxml = (main: string, contentType: string, dir = main.split('/')[0]) =>
    python(
      [
        'import zipfile, io, os, random, sys',
        'b = io.BytesIO()',
        "z = zipfile.ZipFile(b, 'w', zipfile.ZIP_DEFLATED)",
        "z.writestr('_rels/.rels', '<Relationships xmlns=\"http://schemas.openxmlformats.org/package/2006/relationships\"/>')",
        // libmagic names an OOXML by the folder (word/, ppt/, xl/) of a member a few headers in, as Keynote's export had them.
        `z.writestr('${dir}/_rels/${main.split('/')[1]}.rels', '<Relationships/>')`,
        `z.writestr('${main}', '<x/>')`,
        `z.writestr('${dir}/theme/theme1.xml', '<x/>')`,
        `random.seed(1); z.writestr('${dir}/media/image1.png', bytes(random.getrandbits(8) for _ in range(80000)), compress_type=zipfile.ZIP_STORED)`,
        `z.writestr('[Content_Types].xml', '<?xml version="1.0" encoding="UTF-8"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"><Default Extension="xml" ContentType="application/xml"/><Override PartName="/${main}" ContentType="${contentType}"/></Types>')`,
        'z.close()',
        'sys.stdout.buffer.write(b.getvalue())',
      ].join('\n'),
    );

  it('ooxml-content-types-last-identified-as-zip', async (ctx) => {
    const pptx = ooxml('ppt/presentation.xml', 'application/vnd.openxmlformats-officedocument.presentationml.presentation.main+xml');
    expect(pptx.indexOf('[Content_Types].xml')).toBeGreaterThan(65_536);
    const id = await identify(pptx, 'Quarterly.pptx');
    expect(id).toEqual({ mime: 'application/vnd.openxmlformats-officedocument.presentationml.presentation', detectedExt: 'pptx', kind: 'document', findings: [] });
    expect(identifier.extensionMismatch('Quarterly.pptx', id)).toBe(false);
    const oracle = libmagicMime(ctx, pptx);
    if (oracle !== null) expect(oracle).toBe(id.mime);
    // The type is file-type's reading of the content types: a macro-enabled workbook is xlsm, not xlsx.
    const xlsm = ooxml('xl/workbook.xml', 'application/vnd.ms-excel.sheet.macroEnabled.main+xml');
    expect(await identify(xlsm, 'Budget.xlsm')).toMatchObject({ detectedExt: 'xlsm', kind: 'document' });
  });

  it('a ZIP without a naming member, or with one past its bound, stays a ZIP', async () => {
    const plain = python(
      "import zipfile, io, sys, random\nb = io.BytesIO(); z = zipfile.ZipFile(b, 'w')\nrandom.seed(2); z.writestr('DCIM/IMG_0001.JPG', bytes(random.getrandbits(8) for _ in range(70000)))\nz.writestr('notes.txt', 'x'); z.close(); sys.stdout.buffer.write(b.getvalue())",
    );
    expect(await identify(plain, 'backup.zip')).toMatchObject({ mime: 'application/zip', kind: 'archive' });
    // A content-types member that inflates past ZIP_TYPE_MAX_MEMBER_BYTES is not inflated: no type from it.
    const bomb = python(
      "import zipfile, io, sys, random\nb = io.BytesIO(); z = zipfile.ZipFile(b, 'w', zipfile.ZIP_DEFLATED)\nrandom.seed(3); z.writestr('media/a.bin', bytes(random.getrandbits(8) for _ in range(70000)), compress_type=zipfile.ZIP_STORED)\nz.writestr('[Content_Types].xml', '<Types>' + ' ' * 400000 + '<Override ContentType=\"application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml\"/></Types>'); z.close(); sys.stdout.buffer.write(b.getvalue())",
    );
    expect(await identify(bomb, 'x.docx')).toMatchObject({ mime: 'application/zip', kind: 'archive' });
  });

  it('zip-with-mimetype-member-anywhere-identified-as-epub', async (ctx) => {
    // A phone dump or any archive that happens to hold a file called 'mimetype' (an EPUB's, unpacked
    // and re-zipped): OCF and ODF require it FIRST, so elsewhere it names nothing and the ZIP stays an
    // archive, to be unpacked.
    const dump = python(
      "import zipfile, io, sys, random\nb = io.BytesIO(); z = zipfile.ZipFile(b, 'w')\nrandom.seed(5); z.writestr('private/var/mobile/sms.db', bytes(random.getrandbits(8) for _ in range(80000)))\nz.writestr('mimetype', 'application/epub+zip'); z.close(); sys.stdout.buffer.write(b.getvalue())",
    );
    expect(await identify(dump, 'phone_dump.zip')).toMatchObject({ mime: 'application/zip', detectedExt: 'zip', kind: 'archive' });
    const oracle = libmagicMime(ctx, dump);
    if (oracle !== null) expect(oracle).toBe('application/zip');
    // An EPUB as its writers make it (mimetype first, stored) is still one.
    const epub = python(
      "import zipfile, io, sys\nb = io.BytesIO(); z = zipfile.ZipFile(b, 'w')\nz.writestr('mimetype', 'application/epub+zip', compress_type=zipfile.ZIP_STORED)\nz.writestr('META-INF/container.xml', '<container/>'); z.close(); sys.stdout.buffer.write(b.getvalue())",
    );
    expect(await identify(epub, 'book.epub')).toMatchObject({ mime: 'application/epub+zip', kind: 'document' });
  });

  it('zip-with-stray-content-types-identified-as-docx', async () => {
    // A [Content_Types].xml with no package relationships part (_rels/.rels, which every OPC package has)
    // is a file of that name, as in a folder of extracted Office parts zipped up again without the rest.
    const stray = python(
      "import zipfile, io, sys, random\nb = io.BytesIO(); z = zipfile.ZipFile(b, 'w', zipfile.ZIP_DEFLATED)\nrandom.seed(6); z.writestr('export/a.bin', bytes(random.getrandbits(8) for _ in range(80000)), compress_type=zipfile.ZIP_STORED)\nz.writestr('[Content_Types].xml', '<Types xmlns=\"http://schemas.openxmlformats.org/package/2006/content-types\"><Override PartName=\"/word/document.xml\" ContentType=\"application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml\"/></Types>'); z.close(); sys.stdout.buffer.write(b.getvalue())",
    );
    expect(await identify(stray, 'export.zip')).toMatchObject({ mime: 'application/zip', kind: 'archive' });
  });
});

describe('extension mismatch on phone voice notes', () => {
  it('android-voice-note-m4a-flagged-as-extension-mismatch', async () => {
    // An AAC recording in an 'isom' MP4 under .m4a (Android's recorders): file-type calls it mp4, its one
    // 'soun' track makes it audio/mp4 (iso-bmff-tracks.ts; iso-bmff-tracks.test.ts has the rest).
    const m4a = await makeWithFfmpeg(['-f', 'lavfi', '-i', 'sine=d=1', '-c:a', 'aac', '-f', 'mp4'], 'm4a');
    const id = await identify(m4a, 'Voice 001.m4a');
    expect(id).toMatchObject({ detectedExt: 'm4a', mime: 'audio/mp4', kind: 'audio' });
    expect(identifier.extensionMismatch('Voice 001.m4a', id)).toBe(false);
    expect(identifier.extensionMismatch('Voice 001.jpg', id)).toBe(true);
  });

  it('telegram-voice-oga-flagged-as-extension-mismatch', async (ctx) => {
    const oga = await makeWithFfmpeg(['-f', 'lavfi', '-i', 'sine=d=1', '-c:a', 'libopus', '-f', 'ogg'], 'oga');
    const id = await identify(oga, 'audio_2024-05-01_12-00-00.oga');
    expect(id).toMatchObject({ detectedExt: 'opus', kind: 'audio' });
    expect(identifier.extensionMismatch('audio_2024-05-01_12-00-00.oga', id)).toBe(false);
    const oracle = libmagicMime(ctx, oga);
    if (oracle !== null) expect(oracle).toBe('audio/ogg');
  });
});

describe('a few bytes that start a note or a blob are not a binary format', () => {
  it('text-note-starting-bmw-identified-as-bmp-image', async (ctx) => {
    // Notes and exports that start with the letters of a short signature: 'BM' BMP, 'GIF' GIF, 'MZ' EXE,
    // 'BZh' bzip2, 'MP+' Musepack, 'AC10nn' DWG, 'ID3' MP3 (file-type then reads the "tag size" from the text).
    for (const text of [
      'BMW X5 service invoice\nParts: 120.00\nLabour: 80.00\n',
      'GIF support list for the team\n',
      'MZ-80K and MZ-700 collection\n',
      'BZh is not a word\n',
      'MP+ points: 14\n',
      'AC1015 drawing received\n',
      'ID3 tags to fix: artist, album\n',
    ]) {
      const bytes = Buffer.from(text, 'utf8');
      expect(await identify(bytes, 'note.txt'), text).toEqual({ mime: 'text/plain', detectedExt: 'txt', kind: 'document', findings: [] });
      const oracle = libmagicMime(ctx, bytes);
      // libmagic, too, calls all of these text except the DWG, bzip2 and Musepack ones (it takes 'AC10nn', 'BZh' and 'MP+' alone).
      if (oracle !== null && !/^(AC10|BZh|MP\+)/.test(text)) expect(oracle, text).toBe('text/plain');
    }
  });

  it('amr-of-no-data-frames-identified-as-text', async (ctx) => {
    // A voice recorder's AMR while nobody speaks: '#!AMR\n', then NO_DATA frame headers (0x7C, '|'), all ASCII.
    // AMR is in the plain-text rule's allowlist (TEXT_FORMATS): a recording can be all ASCII.
    const amr = Buffer.concat([Buffer.from('#!AMR\n', 'latin1'), Buffer.alloc(500, 0x7c)]);
    expect(await identify(amr, 'silence.amr')).toMatchObject({ mime: 'audio/amr', detectedExt: 'amr', kind: 'audio' });
    const oracle = libmagicMime(ctx, amr);
    if (oracle !== null) expect(oracle).toBe('audio/amr');
  });

  it('text-notes-identified-as-binary-formats', async (ctx) => {
    // Notes and exports whose letters happen to be a binary format's signature: 'ustar' at byte 257 (tar: sent to
    // the unpacker), 'MSCF' (cab), 'OggS', 'ITSF' (chm), '-lh5-' at 2 (lzh), 'wvpk' (WavPack), 'FLIF', and an ARP
    // table exported as CSV ('MAC ' is Monkey's Audio). A plain-text head is a binary type only if the format is text.
    const body = ' the rest of this note is plain text written by a person, with several lines.\nSecond line of the note here.\nThird line, nothing binary at all.\n'.repeat(8);
    const ustarAt257 = `${'x'.repeat(200)}\n${'y'.repeat(56)}ustar nothing binary at all.\n`;
    const notes: Record<string, string> = {
      'tar.txt': ustarAt257 + body,
      'mscf.txt': `MSCF cab${body}`,
      'ogg.txt': `OggS is the page marker${body}`,
      'itsf.txt': `ITSF chm${body}`,
      'lzh.txt': `$ -lh5- listing${body}`,
      'wvpk.txt': `wvpk wavpack${body}`,
      'flif.txt': `FLIF image format${body}`,
      'arp.csv': 'MAC Address,IP Address,Vendor\n00:1a:2b:3c:4d:5e,192.168.1.10,Apple\n',
    };
    expect(ustarAt257.indexOf('ustar')).toBe(257);
    for (const [name, text] of Object.entries(notes)) {
      const bytes = Buffer.from(text, 'latin1');
      expect(await identify(bytes, name), name).toEqual({ mime: 'text/plain', detectedExt: 'txt', kind: 'document', findings: [] });
      // libmagic agrees for the notes (it takes the ARP CSV for Monkey's Audio: 'MAC ' is all it checks).
      const oracle = name === 'arp.csv' ? null : libmagicMime(ctx, bytes);
      if (oracle !== null) expect(oracle, name).toBe('text/plain');
    }
  });

  it('git-loose-object-identified-as-apple-disk-image', async (ctx) => {
    // git writes loose objects with zlib level 1: they start 78 01, which file-type takes for a DMG.
    const dir = mkdtempSync(join(tmpdir(), 'exhibit-git-'));
    try {
      expect(spawnSync('git', ['init', '-q', dir]).status).toBe(0);
      writeFileSync(join(dir, 'note.txt'), 'meet at the usual place\n'.repeat(20));
      const hash = spawnSync('git', ['-C', dir, 'hash-object', '-w', 'note.txt'], { encoding: 'utf8' }).stdout.trim();
      const object = readFileSync(join(dir, '.git', 'objects', hash.slice(0, 2), hash.slice(2)));
      expect([object[0], object[1]]).toEqual([0x78, 0x01]);
      const id = await identify(object, hash.slice(2));
      expect(id).toMatchObject({ mime: null, kind: 'other' });
      const oracle = libmagicMime(ctx, object);
      if (oracle !== null) expect(oracle).toBe('application/zlib');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    // A UDIF image (its 'koly' trailer 512 bytes from the end) is still a DMG.
    const trailer = Buffer.alloc(512);
    trailer.write('koly', 0, 'latin1');
    const dmg = Buffer.concat([Buffer.from([0x78, 0x01]), Buffer.alloc(4000, 0x11), trailer]);
    expect(await identify(dmg, 'disk.dmg')).toMatchObject({ mime: 'application/x-apple-diskimage' });
  });

  it('real bmp, gif, bzip2 and id3-tagged mp3 are still identified', async () => {
    const bmp = await makeWithFfmpeg(['-f', 'lavfi', '-i', 'testsrc=size=32x24', '-frames:v', '1'], 'bmp');
    expect(await identify(bmp)).toMatchObject({ mime: 'image/bmp', kind: 'image' });
    const gif = await makeWithFfmpeg(['-f', 'lavfi', '-i', 'testsrc=size=32x24', '-frames:v', '1'], 'gif');
    expect(await identify(gif)).toMatchObject({ mime: 'image/gif', kind: 'image' });
    const mp3 = await makeWithFfmpeg(['-f', 'lavfi', '-i', 'sine=d=1', '-c:a', 'libmp3lame', '-metadata', 'title=Voice'], 'mp3');
    expect(mp3.subarray(0, 3).toString('latin1')).toBe('ID3');
    expect(await identify(mp3)).toMatchObject({ mime: 'audio/mpeg', kind: 'audio' });
    const bz2 = python("import bz2, sys; sys.stdout.buffer.write(bz2.compress(b'call log ' * 100))");
    expect(await identify(bz2)).toMatchObject({ mime: 'application/x-bzip2', kind: 'archive' });
    const emptyBz2 = python("import bz2, sys; sys.stdout.buffer.write(bz2.compress(b''))");
    expect(await identify(emptyBz2)).toMatchObject({ mime: 'application/x-bzip2' });
  });
});

describe('SQLite companions', () => {
  it('sqlite-wal-unidentified', async () => {
    // The WAL of an open database, as an acquisition of a running phone finds it next to sms.db.
    const wal = python(
      [
        'import sqlite3, sys, tempfile, os',
        'd = tempfile.mkdtemp(); p = os.path.join(d, "sms.db")',
        'c = sqlite3.connect(p); c.execute("pragma journal_mode=wal"); c.execute("create table message(text)")',
        'c.executemany("insert into message values(?)", [("see you at 8",)] * 20); c.commit()',
        'sys.stdout.buffer.write(open(p + "-wal", "rb").read())',
      ].join('\n'),
    );
    expect(await identify(wal, 'sms.db-wal')).toEqual({ mime: 'application/x-sqlite3-wal', detectedExt: 'sqlite-wal', kind: 'other', findings: [] });
    expect(identifier.extensionMismatch('sms.db-wal', { mime: 'application/x-sqlite3-wal', detectedExt: 'sqlite-wal', kind: 'other' })).toBe(false);
    expect(identifier.extensionMismatch('sms.db-wal.jpg', { mime: 'application/x-sqlite3-wal', detectedExt: 'sqlite-wal', kind: 'other' })).toBe(true);
    if (libmagicAvailable) expect(spawnSync('file', ['-b', '-'], { input: wal, encoding: 'utf8' }).stdout).toMatch(/SQLite Write-Ahead Log/);
    // The header's checksum must hold: the magic and version alone are not enough.
    const damaged = Buffer.from(wal);
    damaged[20] = damaged[20]! ^ 0xff;
    expect(await identify(damaged)).toMatchObject({ mime: null, kind: 'other' });
  });
});

describe('icons by their directory', () => {
  it('binary-record-count-65536-identified-as-icon', async (ctx) => {
    // Any binary file whose first field is the little-endian count 65,536 (00 00 01 00) is an icon to file-type.
    const records = Buffer.alloc(4096);
    records.writeUInt32LE(65_536, 0);
    records.writeUInt32LE(0, 4);
    for (let i = 8; i < records.length; i++) records[i] = (i * 37 + 11) & 0xff;
    expect(await identify(records, 'cache.bin')).toMatchObject({ mime: null, kind: 'other' });
    const oracle = libmagicMime(ctx, records);
    if (oracle !== null) expect(oracle).not.toMatch(/icon/);
    records.writeUInt32LE(131_072, 0); // 00 00 02 00: a cursor to file-type
    expect(await identify(records, 'cache.bin')).toMatchObject({ mime: null, kind: 'other' });
  });

  it('real icons and cursors are still identified', async (ctx) => {
    const png = await makeWithFfmpeg(['-f', 'lavfi', '-i', 'testsrc=size=32x32', '-frames:v', '1'], 'png');
    const entry = (type: number) => {
      const header = Buffer.alloc(22);
      header.writeUInt16LE(type, 2);
      header.writeUInt16LE(1, 4);
      header[6] = 32;
      header[7] = 32;
      header.writeUInt16LE(type === 1 ? 1 : 16, 10); // planes, or the cursor's hotspot x
      header.writeUInt16LE(type === 1 ? 32 : 16, 12); // bit depth, or hotspot y
      header.writeUInt32LE(png.length, 14);
      header.writeUInt32LE(22, 18);
      return Buffer.concat([header, png]);
    };
    expect(await identify(entry(1), 'favicon.ico')).toMatchObject({ mime: 'image/x-icon', detectedExt: 'ico', kind: 'image' });
    expect(await identify(entry(2), 'pointer.cur')).toMatchObject({ mime: 'image/x-icon', detectedExt: 'cur', kind: 'image' });
    const oracle = libmagicMime(ctx, entry(1));
    if (oracle !== null) expect(oracle).toBe('image/vnd.microsoft.icon');
  });
});

describe('text that starts with a four-letter signature', () => {
  it('sqlite-readme-identified-as-database', async (ctx) => {
    const readme = Buffer.from('SQLite for Debian\n-----------------\n\nSQLite 3 for Debian is split up in four packages.\n');
    expect(await identify(readme, 'README.Debian')).toMatchObject({ mime: 'text/plain', kind: 'document' });
    const oracle = libmagicMime(ctx, readme);
    if (oracle !== null) expect(oracle).toBe('text/plain');
    const db = python(
      "import sqlite3, sys, tempfile, os\nd = tempfile.mkdtemp(); p = os.path.join(d, 'a.db')\nc = sqlite3.connect(p); c.execute('create table t(x)'); c.commit(); c.close()\nsys.stdout.buffer.write(open(p, 'rb').read())",
    );
    expect(await identify(db, 'a.db')).toMatchObject({ mime: 'application/x-sqlite3' });
  });

  it('parent-directory-rst-identified-as-parquet', async () => {
    const rst = Buffer.from('PARENT_DIRECTORY\n----------------\n\nSource directory that added current subdirectory.\n');
    expect(await identify(rst, 'PARENT_DIRECTORY.rst')).toMatchObject({ mime: 'text/plain', kind: 'document' });
    // A Parquet file has its magic at both ends.
    const parquet = Buffer.concat([Buffer.from('PAR1'), Buffer.from([0x15, 0x00, 0x15, 0x1c, 0x15, 0x1c, 0x2c, 0x15, 0x02]), Buffer.alloc(64, 0), Buffer.from([0x40, 0, 0, 0]), Buffer.from('PAR1')]);
    expect(await identify(parquet, 'events.parquet')).toMatchObject({ mime: 'application/vnd.apache.parquet' });
  });

  it('javascript-var-free-identified-as-quicktime', async (ctx) => {
    // lodash's _nodeUtil.js: "var freeGlobal…" has 'free' at byte 4, a QuickTime atom type to file-type.
    const js = Buffer.from("var freeGlobal = require('./_freeGlobal');\n\nvar freeExports = typeof exports == 'object' && exports;\n");
    expect(await identify(js, '_nodeUtil.js')).toMatchObject({ mime: 'text/plain', kind: 'document' });
    const oracle = libmagicMime(ctx, js);
    if (oracle !== null) expect(oracle).not.toBe('video/quicktime');
    // A QuickTime movie whose ftyp was dropped (it starts at the 'wide' atom) is still one.
    const mov = await makeWithFfmpeg(['-f', 'lavfi', '-i', 'testsrc=size=64x48:rate=10:duration=1', '-c:v', 'mpeg4', '-f', 'mov'], 'mov');
    expect(mov.toString('latin1', 4, 8)).toBe('ftyp');
    const withoutFtyp = mov.subarray(mov.readUInt32BE(0));
    expect(withoutFtyp.toString('latin1', 4, 8)).toBe('wide');
    expect(await identify(withoutFtyp, 'old.mov')).toMatchObject({ mime: 'video/quicktime', kind: 'video' });
  });

  it('carved-mdat-first-quicktime-unidentified', async (ctx) => {
    // A movie recovered by carving (or cut short on copy) that starts at its mdat atom: the atom's
    // size is larger than what is left of the file. libmagic and exiftool still call it QuickTime.
    const mov = await makeWithFfmpeg(['-f', 'lavfi', '-i', 'testsrc=size=64x48:rate=10:duration=2', '-c:v', 'mpeg4', '-f', 'mov'], 'mov');
    const wide = mov.subarray(mov.readUInt32BE(0));
    const mdat = wide.subarray(8);
    expect(mdat.toString('latin1', 4, 8)).toBe('mdat');
    const carved = mdat.subarray(0, Math.floor(mdat.length / 2));
    expect(carved.readUInt32BE(0)).toBeGreaterThan(carved.length);
    expect(await identify(carved, 'recovered.mov')).toMatchObject({ mime: 'video/quicktime', kind: 'video' });
    const oracle = libmagicMime(ctx, carved);
    if (oracle !== null) expect(oracle).toBe('video/quicktime');
  });

  it('free-atom-larger-than-file-identified-as-quicktime', async (ctx) => {
    // 'free' at byte 4 after four arbitrary bytes: random or encrypted data, a 0xFFFFFFFF-prefixed blob, and a message
    // behind a 32-bit length prefix (00 01 00 00 'free text message…'). Only a carved mdat/moov outruns the file;
    // a free atom first is padding before a movie, within it. libmagic: application/octet-stream for all three.
    const bytes = (n: number, seed: string) => {
      const out: Buffer[] = [];
      for (let i = 0; out.length * 32 < n; i++) out.push(createHash('sha256').update(`${seed}${i}`).digest());
      return Buffer.concat(out).subarray(0, n);
    };
    const at4 = (first: Buffer, rest: Buffer) => Buffer.concat([first, Buffer.from('free', 'latin1'), rest]);
    const blobs = {
      'rand_free.bin': at4(Buffer.from('daeaa1c1', 'hex'), bytes(100_000, 'rand')),
      'bin_free_big.bin': at4(Buffer.from('ffffffff', 'hex'), bytes(4000, 'big')),
      'lenpref_text.bin': at4(Buffer.from('00010000', 'hex'), Buffer.from(' text message from suspect: meet at 9pm.\n'.repeat(20), 'latin1')),
    };
    for (const [name, blob] of Object.entries(blobs)) {
      expect(blob.readUInt32BE(0), name).toBeGreaterThan(blob.length);
      const id = await identify(blob, name);
      expect(id.mime, name).not.toBe('video/quicktime');
      expect(id.kind, name).not.toBe('video');
      const oracle = libmagicMime(ctx, blob);
      if (oracle !== null) expect(oracle, name).not.toBe('video/quicktime');
    }
  });
});

describe('text behind a byte-order mark', () => {
  it('binary-after-ff-fe-identified-as-utf16-text', async (ctx) => {
    // FF FE then UTF-16 code units that are control characters or lone surrogates: the mark alone made it text.
    const binary = Buffer.from([0xff, 0xfe, 0x01, 0x00, 0x02, 0x00, 0x00, 0xd8, 0x41, 0x00, 0x00, 0x00, 0x10, 0x27, 0x00, 0x00]);
    const id = await identify(binary, 'blob.bin');
    expect(id.mime).not.toBe('text/plain');
    // Real UTF-16 and UTF-32 text, either byte order, is text.
    const line = 'Call me back, 5 min\r\n';
    const utf32be = Buffer.concat([Buffer.from([0, 0, 0xfe, 0xff]), ...[...line].map((c) => { const b = Buffer.alloc(4); b.writeUInt32BE(c.codePointAt(0)!, 0); return b; })]);
    const utf16be = Buffer.concat([Buffer.from([0xfe, 0xff]), Buffer.from(line, 'utf16le').swap16()]);
    for (const text of [utf32be, utf16be]) expect(await identify(text, 'note.txt')).toMatchObject({ mime: 'text/plain', kind: 'document' });
    const oracle = libmagicMime(ctx, utf32be);
    if (oracle !== null) expect(oracle).toBe('text/plain');
  });
});

describe('text in a single-byte code page', () => {
  it('windows-1252-text-note-unidentified', async (ctx) => {
    // Notepad's "ANSI": a note in Windows-1252 (é, ü, €, curly quotes) is not UTF-8, and was "unidentified".
    const cp1252 = (text: string) => Buffer.from(text, 'latin1');
    // '€' is 0x80 and '–' 0x96 in Windows-1252 (C1 positions in Latin-1).
    const note = Buffer.concat([cp1252('Rendez-vous à 20h devant le café « Müller ».\r\nPrix: 50 '), Buffer.from([0x80, 0x20, 0x96]), cp1252(' apporter les clés.\r\n')]);
    expect(note.toString('utf8')).toContain('\ufffd');
    expect(await identify(note, 'notes.txt')).toEqual({ mime: 'text/plain', detectedExt: 'txt', kind: 'document', findings: [] });
    const oracle = libmagicMime(ctx, note);
    if (oracle !== null) expect(oracle).toBe('text/plain');
  });

  it('bytes that are mostly not ASCII, or hold control bytes, are not single-byte text', async () => {
    const high = Buffer.alloc(400);
    for (let i = 0; i < high.length; i++) high[i] = i % 3 === 0 ? 0x41 : 0xa0 + (i % 90);
    expect(await identify(high)).toMatchObject({ mime: null, kind: 'other' });
    const withControl = Buffer.from('Rendez-vous à 20h devant le café\x01\x02\r\n'.repeat(4), 'latin1');
    expect(await identify(withControl)).toMatchObject({ mime: null, kind: 'other' });
  });
});

describe('packages named by a member past the head, and an empty ar archive', () => {
  /** A ZIP with 80 KB of stored media first, then the given members (as repackers and some build tools order them). */
  const zipWithLate = (members: string[]) =>
    python(
      [
        'import zipfile, io, sys, random',
        "b = io.BytesIO(); z = zipfile.ZipFile(b, 'w', zipfile.ZIP_DEFLATED)",
        "random.seed(4); z.writestr('res/raw/intro.bin', bytes(random.getrandbits(8) for _ in range(80000)), compress_type=zipfile.ZIP_STORED)",
        ...members.map((name) => `z.writestr(${JSON.stringify(name)}, 'Manifest-Version: 1.0\\n')`),
        'z.close(); sys.stdout.buffer.write(b.getvalue())',
      ].join('\n'),
    );

  it('apk-classes-dex-past-head-identified-as-zip-or-jar', async () => {
    const jar = zipWithLate(['META-INF/MANIFEST.MF', 'a/B.class']);
    expect(await identify(jar, 'tool.jar')).toMatchObject({ mime: 'application/java-archive', detectedExt: 'jar', kind: 'archive' });
    // An APK also carries a Java manifest: classes.dex decides, wherever the two lie.
    const apk = zipWithLate(['META-INF/MANIFEST.MF', 'AndroidManifest.xml', 'classes2.dex']);
    expect(await identify(apk, 'app.apk')).toMatchObject({ mime: 'application/vnd.android.package-archive', detectedExt: 'apk', kind: 'archive' });
    // A resource split (manifest, no code) is not called a JAR: file-type has no name for it, it stays a ZIP.
    const split = zipWithLate(['META-INF/MANIFEST.MF', 'AndroidManifest.xml', 'resources.arsc']);
    expect(await identify(split, 'split_config.en.apk')).toMatchObject({ mime: 'application/zip', detectedExt: 'zip' });
  });

  it('empty-ar-static-library-identified-as-text', async (ctx) => {
    // glibc's libanl.a, libdl.a, librt.a… are empty ar archives: the 8-byte magic and nothing else.
    const empty = Buffer.from('!<arch>\n', 'latin1');
    expect(await identify(empty, 'libanl.a')).toEqual({ mime: 'application/x-unix-archive', detectedExt: 'ar', kind: 'archive', findings: [] });
    const oracle = libmagicMime(ctx, empty);
    if (oracle !== null) expect(oracle).toBe('application/x-archive');
    // An ar archive of text members is all text, and still an ar archive.
    const member = (name: string, data: string) => `${name.padEnd(16)}${'0'.padEnd(12)}${'0'.padEnd(6)}${'0'.padEnd(6)}${'100644'.padEnd(8)}${String(data.length).padEnd(10)}\`\n${data}${data.length % 2 ? '\n' : ''}`;
    const textAr = Buffer.from(`!<arch>\n${member('debian-notes/', 'plain notes\n')}${member('readme/', 'more notes\n')}`, 'latin1');
    expect(await identify(textAr, 'notes.a')).toMatchObject({ mime: 'application/x-unix-archive', detectedExt: 'ar' });
  });
});
