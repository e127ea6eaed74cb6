import { gzipSync } from 'node:zlib';
import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { LIMITS } from '@exhibit/core';
import { heicFromJpeg, heifEncAvailable, sampleHeic, testVideo } from '../test-support/fixtures.js';
import { BufferSource } from '../test-support/buffer.source.js';
import { storedLocalEntry } from '../test-support/zip-records.js';
import { FileTypeIdentifier } from './file-type.identifier.js';

/** Local file headers only (stored entries): enough for signature detection. */
function storedZip(entries: Array<{ name: string; data: string }>): Buffer {
  return Buffer.concat(
    entries.map(({ name, data }) => storedLocalEntry(name, Buffer.from(data))),
  );
}

/** One ustar header block for a small file, with a valid checksum. */
function tarWithOneFile(name: string, content: string): Buffer {
  const header = Buffer.alloc(512);
  header.write(name, 0, 'utf8');
  header.write('0000644\0', 100);
  header.write('0000000\0', 108);
  header.write('0000000\0', 116);
  header.write(`${Buffer.byteLength(content).toString(8).padStart(11, '0')}\0`, 124);
  header.write('00000000000\0', 136);
  header.write('0', 156);
  header.write('ustar\0', 257);
  header.write('00', 263);
  header.fill(' ', 148, 156);
  const sum = header.reduce((a, b) => a + b, 0);
  header.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148);
  const body = Buffer.alloc(512);
  body.write(content);
  return Buffer.concat([header, body, Buffer.alloc(1024)]);
}

const head = (b: Buffer) => new BufferSource(b);
/** The identification without the findings, as the older tests compare it. */
const typeOf = async (b: Buffer) => {
  const { findings: _findings, ...id } = await new FileTypeIdentifier().identify(head(b));
  return id;
};

describe('FileTypeIdentifier', () => {
  const identifier = new FileTypeIdentifier();

  it('identifies images, videos and archives from their head bytes', async () => {
    const jpeg = await sharp({ create: { width: 8, height: 8, channels: 3, background: '#888' } }).jpeg().toBuffer();
    const png = await sharp({ create: { width: 8, height: 8, channels: 3, background: '#888' } }).png().toBuffer();
    expect(await typeOf(jpeg)).toEqual({ mime: 'image/jpeg', detectedExt: 'jpg', kind: 'image' });
    expect(await typeOf(png)).toEqual({ mime: 'image/png', detectedExt: 'png', kind: 'image' });

    const mp4 = await testVideo({ seconds: 1, size: '64x48' });
    expect(await typeOf(mp4)).toMatchObject({ mime: 'video/mp4', kind: 'video' });

    expect(await typeOf(storedZip([{ name: 'notes.txt', data: 'hello' }]))).toEqual({
      mime: 'application/zip',
      detectedExt: 'zip',
      kind: 'archive',
    });
    expect(await typeOf(tarWithOneFile('a.txt', 'hi'))).toMatchObject({ detectedExt: 'tar', kind: 'archive' });
    expect(await typeOf(gzipSync(Buffer.from('plain text '.repeat(50))))).toEqual({
      mime: 'application/gzip',
      detectedExt: 'gz',
      kind: 'archive',
    });
    expect(await typeOf(gzipSync(tarWithOneFile('a.txt', 'hi')))).toMatchObject({ detectedExt: 'tar.gz', kind: 'archive' });
  });

  it('calls office documents documents, not archives (they are not unpacked)', async () => {
    const docx = storedZip([
      {
        name: '[Content_Types].xml',
        data: '<Types><Override PartName="/word/document.xml" ContentType="application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"/></Types>',
      },
      { name: 'word/document.xml', data: '<w:document/>' },
    ]);
    const id = await typeOf(docx);
    expect(id.detectedExt).toBe('docx');
    expect(id.kind).toBe('document');
  });

  it('returns mime null and kind other for plain text and unknown bytes', async () => {
    expect(await identifier.identify(head(Buffer.from('just some notes\nline two\n')))).toEqual({ mime: 'text/plain', detectedExt: 'txt', kind: 'document', findings: [] });
    expect(await identifier.identify(head(Buffer.alloc(0)))).toEqual({
      mime: null,
      detectedExt: null,
      kind: 'other',
      findings: [{ flag: 'unidentified', detail: 'empty file (0 bytes)' }],
    });
  });

  it('detects HEIC', async (ctx) => {
    const heic = sampleHeic()?.bytes ?? heicFromJpeg(await sharp({ create: { width: 16, height: 16, channels: 3, background: '#123' } }).jpeg().toBuffer());
    if (!heic) {
      ctx.skip(`no HEIC available: samples/extraction has none and heif-enc is ${heifEncAvailable() ? 'failing' : 'not installed'}`);
      return;
    }
    const id = await typeOf(heic);
    expect(id.kind).toBe('image');
    expect(id.detectedExt).toBe('heic');
    expect(id.mime).toMatch(/^image\/hei[cf]$/);
  });

  it('flags names whose extension does not fit the detected type', () => {
    const jpeg = { mime: 'image/jpeg', detectedExt: 'jpg', kind: 'image' as const };
    expect(identifier.extensionMismatch('IMG_0001.JPG', jpeg)).toBe(false);
    expect(identifier.extensionMismatch('photo.jpeg', jpeg)).toBe(false);
    expect(identifier.extensionMismatch('scan.jpe', jpeg)).toBe(false);
    expect(identifier.extensionMismatch('invoice.pdf', jpeg)).toBe(true);
    expect(identifier.extensionMismatch('holiday.jpg.exe', jpeg)).toBe(true);
    expect(identifier.extensionMismatch('no-extension', jpeg)).toBe(false);

    const tgz = { mime: 'application/gzip', detectedExt: 'tar.gz', kind: 'archive' as const };
    expect(identifier.extensionMismatch('backup.tar.gz', tgz)).toBe(false);
    expect(identifier.extensionMismatch('backup.tgz', tgz)).toBe(false);
    expect(identifier.extensionMismatch('backup.zip', tgz)).toBe(true);

    expect(identifier.extensionMismatch('clip.MOV', { mime: 'video/quicktime', detectedExt: 'mov', kind: 'video' })).toBe(false);
    expect(identifier.extensionMismatch('clip.qt', { mime: 'video/quicktime', detectedExt: 'mov', kind: 'video' })).toBe(false);
    expect(identifier.extensionMismatch('clip.m4v', { mime: 'video/mp4', detectedExt: 'mp4', kind: 'video' })).toBe(false);
    expect(identifier.extensionMismatch('IMG_1.HEIF', { mime: 'image/heif', detectedExt: 'heic', kind: 'image' })).toBe(false);
    expect(identifier.extensionMismatch('scan.tiff', { mime: 'image/tiff', detectedExt: 'tif', kind: 'image' })).toBe(false);
    expect(identifier.extensionMismatch('notes.txt', { mime: null, detectedExt: null, kind: 'other' })).toBe(false);
  });

  it('reports the file-type version it used', async () => {
    const [tool] = await identifier.tools();
    expect(tool?.name).toBe('file-type');
    expect(tool?.version).toMatch(/^21\.\d+\.\d+$/);
  });
});
