import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { BufferSource } from '../test-support/buffer.source.js';
import { makeWithFfmpeg } from '../test-support/fixtures.js';
import { MEDIA_LIMITS } from '../media-limits.js';
import { readVideoXmp, xmpCaptureDates } from './video-xmp.reader.js';

/** ISO-BMFF box: 32-bit size, type, payload. */
function box(type: string, ...payload: Buffer[]): Buffer {
  const body = Buffer.concat(payload);
  const head = Buffer.alloc(8);
  head.writeUInt32BE(8 + body.length, 0);
  head.write(type, 4, 'latin1');
  return Buffer.concat([head, body]);
}
const XMP_UUID = Buffer.from('be7acfcb97a942e89c71999491e3afac', 'hex');
const uuidXmp = (packet: string) => box('uuid', XMP_UUID, Buffer.from(packet, 'utf8'));
const ftyp = box('ftyp', Buffer.from('isom\0\0\0\0isom', 'latin1'));
const mvhd = box('mvhd', Buffer.alloc(100));
const mp4 = (...boxes: Buffer[]) => new BufferSource(Buffer.concat([ftyp, ...boxes]), 'clip.mp4');

const NS = {
  x: 'adobe:ns:meta/',
  rdf: 'http://www.w3.org/1999/02/22-rdf-syntax-ns#',
  xmp: 'http://ns.adobe.com/xap/1.0/',
  xmpMM: 'http://ns.adobe.com/xap/1.0/mm/',
  stEvt: 'http://ns.adobe.com/xap/1.0/sType/ResourceEvent#',
  stRef: 'http://ns.adobe.com/xap/1.0/sType/ResourceRef#',
  exif: 'http://ns.adobe.com/exif/1.0/',
  photoshop: 'http://ns.adobe.com/photoshop/1.0/',
  xmpDM: 'http://ns.adobe.com/xmp/1.0/DynamicMedia/',
};
const xmlns = Object.entries(NS).filter(([p]) => p !== 'x' && p !== 'rdf').map(([p, uri]) => `xmlns:${p}="${uri}"`).join(' ');
/** A packet whose top-level Description has `attrs` and `body`. */
const packet = (attrs: string, body = '') =>
  `<?xpacket begin="\uFEFF" id="W5M0MpCehiHzreSzNTczkc9d"?><x:xmpmeta xmlns:x="${NS.x}"><rdf:RDF xmlns:rdf="${NS.rdf}"><rdf:Description rdf:about="" ${xmlns} ${attrs}>${body}</rdf:Description></rdf:RDF></x:xmpmeta><?xpacket end="w"?>`;

describe('xmpCaptureDates', () => {
  it('reads a top-level Description: attribute and element form, by namespace URI (xap: bound to XMP basic is xmp:)', () => {
    expect(xmpCaptureDates(packet('xmp:CreateDate="2023-01-02T03:04:05+02:00"', '<exif:DateTimeOriginal>2023-01-02T03:04:00</exif:DateTimeOriginal><xmpDM:shotDate> 2023-01-02T03:03:00Z </xmpDM:shotDate>'))).toEqual({
      dates: [
        { source: 'XMP:exif:DateTimeOriginal', text: '2023-01-02T03:04:00' },
        { source: 'XMP:xmpDM:shotDate', text: '2023-01-02T03:03:00Z' },
        { source: 'XMP:xmp:CreateDate', text: '2023-01-02T03:04:05+02:00' },
      ],
    });
    const xap = `<x:xapmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="${NS.rdf}"><rdf:Description xmlns:xap="${NS.xmp}"><xap:CreateDate>2006-05-06T07:08:09</xap:CreateDate></rdf:Description></rdf:RDF></x:xapmeta>`;
    expect(xmpCaptureDates(xap)).toEqual({ dates: [{ source: 'XMP:xmp:CreateDate', text: '2006-05-06T07:08:09' }] });
    // NUL padding after the packet (a box padded by its writer) is no text outside the root.
    expect(xmpCaptureDates(`${packet('xmp:CreateDate="2020-01-01T00:00:00"')}\0\0\0\0`)).toEqual({ dates: [{ source: 'XMP:xmp:CreateDate', text: '2020-01-01T00:00:00' }] });
    // `xmp:` bound to another namespace is not XMP basic.
    const foreign = `<rdf:RDF xmlns:rdf="${NS.rdf}"><rdf:Description xmlns:xmp="http://example.com/other/" xmp:CreateDate="2002-02-02T02:02:02+03:00"/></rdf:RDF>`;
    expect(xmpCaptureDates(foreign)).toEqual({ dates: [] });
  });

  it('regression: video-xmp-pantry-date-taken-as-capture-time — history, ingredients, derivedFrom, pantry and comments give no date', () => {
    const nested = [
      '<xmpMM:History><rdf:Seq><rdf:li rdf:parseType="Resource"><stEvt:action>saved</stEvt:action><stEvt:when>2015-05-05T05:05:05+05:00</stEvt:when></rdf:li></rdf:Seq></xmpMM:History>',
      '<xmpMM:Ingredients><rdf:Bag><rdf:li><rdf:Description xmp:CreateDate="2011-11-11T11:11:11+01:00" stRef:filePath="a.mov"/></rdf:li></rdf:Bag></xmpMM:Ingredients>',
      '<xmpMM:DerivedFrom rdf:parseType="Resource"><xmp:CreateDate>2012-12-12T12:12:12</xmp:CreateDate></xmpMM:DerivedFrom>',
      '<xmpMM:Pantry><rdf:Bag><rdf:li><rdf:Description exif:DateTimeOriginal="2019-07-04T12:00:00-04:00"><photoshop:DateCreated>2019-07-04</photoshop:DateCreated></rdf:Description></rdf:li></rdf:Bag></xmpMM:Pantry>',
      '<!-- <xmp:CreateDate>2001-01-01T00:00:00+05:00</xmp:CreateDate> -->',
      // A struct under a date's own name is no simple value either.
      '<xmp:CreateDate rdf:parseType="Resource"><rdf:value>2013-03-03T03:03:03</rdf:value></xmp:CreateDate>',
      '<exif:DateTimeOriginal><rdf:Alt><rdf:li>2014-04-04T04:04:04</rdf:li></rdf:Alt></exif:DateTimeOriginal>',
    ].join('');
    expect(xmpCaptureDates(packet('', nested))).toEqual({ dates: [] });
    // Beside them, the clip's own date is read, and only it.
    expect(xmpCaptureDates(packet('xmp:CreateDate="2020-02-02T20:20:20+01:00"', nested))).toEqual({ dates: [{ source: 'XMP:xmp:CreateDate', text: '2020-02-02T20:20:20+01:00' }] });
  });

  it('refuses a DOCTYPE (billion laughs), an undeclared entity, XML errors and nesting past the limit', () => {
    const lol = `<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;"><!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">]>`;
    expect(xmpCaptureDates(`${lol}${packet('xmp:CreateDate="2020-01-01T00:00:00&lol3;"')}`)).toEqual({ refused: 'it has a DOCTYPE' });
    expect(xmpCaptureDates(packet('xmp:CreateDate="2020-01-01T00:00:00&lol3;"'))).toMatchObject({ refused: expect.stringMatching(/not well-formed/) });
    expect(xmpCaptureDates(packet('xmp:CreateDate="2020-01-01T00:00:00"', '<xmp:Nick>unclosed'))).toMatchObject({ refused: expect.stringMatching(/not well-formed/) });
    const deep = `${'<a>'.repeat(MEDIA_LIMITS.maxXmpDepth)}${'</a>'.repeat(MEDIA_LIMITS.maxXmpDepth)}`;
    expect(xmpCaptureDates(packet('xmp:CreateDate="2020-01-01T00:00:00"', `<xmp:Label>${deep}</xmp:Label>`))).toMatchObject({ refused: expect.stringMatching(/nested more than/) });
    // Just under the limit is read.
    const under = `${'<a>'.repeat(MEDIA_LIMITS.maxXmpDepth - 5)}${'</a>'.repeat(MEDIA_LIMITS.maxXmpDepth - 5)}`;
    expect(xmpCaptureDates(packet('xmp:CreateDate="2020-01-01T00:00:00"', `<xmp:Label>${under}</xmp:Label>`))).toEqual({ dates: [{ source: 'XMP:xmp:CreateDate', text: '2020-01-01T00:00:00' }] });
  });

  it('prefixes are matched by URI, and a tag with more attributes than MEDIA_LIMITS.maxXmpAttributes is refused (sax scans each tag\'s list: 40,000 took 2.3 s)', () => {
    const bound = (n: number) => Array.from({ length: n }, (_, i) => `xmlns:a${i}="${NS.exif}"`).join(' ');
    const subject = (n: number) => `<rdf:RDF xmlns:rdf="${NS.rdf}"><rdf:Description ${bound(n)} a${n - 1}:DateTimeOriginal="2021-02-03T04:05:06"><a7:Other><rdf:Description a1:DateTimeOriginal="1999-01-01T00:00:00"/></a7:Other></rdf:Description></rdf:RDF>`;
    expect(xmpCaptureDates(subject(500))).toEqual({ dates: [{ source: 'XMP:exif:DateTimeOriginal', text: '2021-02-03T04:05:06' }] });
    // The old scan's 25,000 prefixes (it blocked the event loop ~29 s).
    expect(xmpCaptureDates(subject(25_000))).toEqual({ refused: `a tag with more than ${MEDIA_LIMITS.maxXmpAttributes} attributes (MEDIA_LIMITS.maxXmpAttributes)` });
    // Just over the limit, within one parse chunk: refused when the tag opens.
    expect(xmpCaptureDates(subject(MEDIA_LIMITS.maxXmpAttributes + 1))).toMatchObject({ refused: expect.stringMatching(/more than 1024 attributes/) });
  });

  it('regression: video-xmp-duplicate-attribute-takes-later-value — an attribute or a namespace binding stated twice on one tag refuses the packet (expat does; sax kept the later value)', () => {
    const twice = packet('xmp:CreateDate="2001-01-01T00:00:00" xmp:CreateDate="2023-01-02T03:04:05"');
    expect(xmpCaptureDates(twice)).toEqual({ refused: 'not well-formed XML (attribute xmp:CreateDate stated twice on one tag)' });
    // One expanded name under two prefixes bound to one URI is the same attribute (Namespaces in XML).
    const sameUri = packet(`xmlns:xap="${NS.xmp}" xap:CreateDate="2001-01-01T00:00:00" xmp:CreateDate="2023-01-02T03:04:05"`);
    expect(xmpCaptureDates(sameUri)).toEqual({ refused: 'not well-formed XML (attribute xmp:CreateDate stated twice on one tag)' });
    const rebound = `<x:xmpmeta xmlns:x="${NS.x}"><rdf:RDF xmlns:rdf="${NS.rdf}"><rdf:Description rdf:about="" xmlns:xmp="http://example.com/" xmlns:xmp="${NS.xmp}" xmp:CreateDate="2001-01-01T00:00:00"/></rdf:RDF></x:xmpmeta>`;
    expect(xmpCaptureDates(rebound)).toEqual({ refused: 'not well-formed XML (attribute xmlns:xmp stated twice on one tag)' });
    // The same name on two tags is no repeat.
    expect(xmpCaptureDates(packet('xmp:CreateDate="2023-01-02T03:04:05"', '<xmp:Label xmp:CreateDate="x">y</xmp:Label>'))).toEqual({ dates: [{ source: 'XMP:xmp:CreateDate', text: '2023-01-02T03:04:05' }] });
  });

  it('regression: video-xmp-second-root-read — a second root element refuses the packet (sax read both roots\' dates)', () => {
    const one = (date: string) => `<x:xmpmeta xmlns:x="${NS.x}"><rdf:RDF xmlns:rdf="${NS.rdf}"><rdf:Description ${xmlns} xmp:CreateDate="${date}"/></rdf:RDF></x:xmpmeta>`;
    expect(xmpCaptureDates(`${one('2023-01-02T03:04:05')}${one('1999-01-02T03:04:05')}`)).toEqual({ refused: 'not well-formed XML (a second root element)' });
    // Processing instructions and white space after the root are well-formed.
    expect(xmpCaptureDates(`${one('2023-01-02T03:04:05')}<?xpacket end="w"?>\n  `)).toEqual({ dates: [{ source: 'XMP:xmp:CreateDate', text: '2023-01-02T03:04:05' }] });
  });

  it('regression: video-xmp-lt-in-attribute-value-accepted — a raw `<` in an attribute value refuses the packet; `&lt;` is read', () => {
    expect(xmpCaptureDates(packet('xmp:Label="a<b" xmp:CreateDate="2023-01-02T03:04:05"'))).toEqual({ refused: 'not well-formed XML (a `<` in an attribute value)' });
    expect(xmpCaptureDates(packet('xmp:Label="a&lt;b&#60;c" xmp:CreateDate="2023-01-02T03:04:05"'))).toEqual({ dates: [{ source: 'XMP:xmp:CreateDate', text: '2023-01-02T03:04:05' }] });
  });
});

describe('readVideoXmp (box walk)', () => {
  const p = packet('xmp:CreateDate="2023-01-02T03:04:05+02:00"');
  const created = [{ source: 'XMP:xmp:CreateDate', text: '2023-01-02T03:04:05+02:00' }];

  it('finds the packet where exiftool reads one: a top-level uuid, moov/udta/XMP_ and moov/trak/udta/XMP_', async () => {
    expect(await readVideoXmp(mp4(box('moov', mvhd), box('mdat', Buffer.alloc(64)), uuidXmp(p)))).toEqual({ dates: created, notes: [] });
    expect(await readVideoXmp(mp4(box('moov', mvhd, box('udta', box('XMP_', Buffer.from(p))))))).toEqual({ dates: created, notes: [] });
    expect(await readVideoXmp(mp4(box('moov', mvhd, box('trak', box('tkhd', Buffer.alloc(84)), box('udta', box('XMP_', Buffer.from(p)))))))).toEqual({ dates: created, notes: [] });
    // A UTF-16 packet with its byte-order mark (XMP allows it).
    const utf16 = Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from(p, 'utf16le')]);
    expect(await readVideoXmp(mp4(box('moov', mvhd, box('udta', box('XMP_', utf16)))))).toEqual({ dates: created, notes: [] });
    // A uuid box of another kind, and an XMP_ atom outside udta, are not XMP.
    const other = box('uuid', Buffer.alloc(16, 7), Buffer.from(p));
    expect(await readVideoXmp(mp4(other, box('moov', mvhd, box('XMP_', Buffer.from(p)))))).toEqual({ dates: [], notes: [] });
  });

  it('regression: video-xmp-read-where-exiftool-reads-none — a uuid in moov or a trak, a uuid in udta, and a top-level uuid of size 0 are not read (exiftool reads none of them)', async () => {
    const none = { dates: [], notes: [] };
    // Size 0 ends exiftool's walk of that level ("extends to end of file") without reading the box.
    const toEnd = uuidXmp(p);
    toEnd.writeUInt32BE(0, 0);
    const unread = [
      [box('moov', mvhd, uuidXmp(p))],
      [box('moov', mvhd, box('trak', box('tkhd', Buffer.alloc(84)), uuidXmp(p)))],
      [box('moov', mvhd, box('udta', uuidXmp(p)))],
      [box('moov', mvhd), toEnd],
    ].map((boxes) => Buffer.concat([ftyp, ...boxes]));
    for (const bytes of unread) expect(await readVideoXmp(new BufferSource(bytes))).toEqual(none);
    // And exiftool, where installed, agrees: none of those, but a trak's udta/XMP_ (read above).
    const theirs = (bytes: Buffer) => {
      const dir = mkdtempSync(join(tmpdir(), 'exhibit-video-xmp-'));
      try {
        writeFileSync(join(dir, 'clip.mp4'), bytes);
        const run = spawnSync('exiftool', ['-j', '-XMP:CreateDate', join(dir, 'clip.mp4')], { encoding: 'utf8' });
        return run.error || run.status !== 0 ? null : (JSON.parse(run.stdout) as Array<Record<string, unknown>>)[0]!['CreateDate'];
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    };
    const trakUdta = Buffer.concat([ftyp, box('moov', mvhd, box('trak', box('tkhd', Buffer.alloc(84)), box('udta', box('XMP_', Buffer.from(p)))))]);
    if (theirs(trakUdta) === null) return;
    expect(theirs(trakUdta)).toBe('2023:01:02 03:04:05+02:00');
    for (const bytes of unread) expect(theirs(bytes)).toBeUndefined();
  });

  it('regression: video-xmp-utf16-read-where-exiftool-reads-none — a UTF-16 packet without its xpacket wrapper is not read (exiftool: "Empty XMP"), with a note', async () => {
    const bare = p.slice(p.indexOf('<x:xmpmeta'), p.indexOf('<?xpacket end'));
    const utf16 = Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from(bare, 'utf16le')]);
    expect(await readVideoXmp(mp4(box('moov', mvhd), uuidXmp(p), box('uuid', XMP_UUID, utf16)))).toEqual({
      dates: [],
      notes: ['XMP: the packet in uuid was not read: UTF-16 without an xpacket wrapper (exiftool reads none); no XMP date read'],
    });
  });

  it('box sizes are never trusted: 1 is a 64-bit size, past the end stops the walk', async () => {
    const large = uuidXmp(p);
    const large64 = Buffer.concat([Buffer.from([0, 0, 0, 1]), Buffer.from('uuid'), Buffer.alloc(8), large.subarray(8)]);
    large64.writeBigUInt64BE(BigInt(large64.length), 8);
    expect(await readVideoXmp(mp4(large64))).toEqual({ dates: created, notes: [] });
    // An mdat that claims more than the file holds (a truncated recording): the walk stops there; nothing past it is taken.
    const mdat = box('mdat', Buffer.alloc(16));
    mdat.writeUInt32BE(0x7fffffff, 0);
    expect(await readVideoXmp(mp4(uuidXmp(p), mdat, uuidXmp(packet('xmp:CreateDate="1999-09-09T09:09:09"'))))).toEqual({ dates: created, notes: [] });
    // A 64-bit size past the file, a size below its header: no packet, no throw.
    const past = Buffer.from(large64);
    past.writeBigUInt64BE(2n ** 62n, 8);
    expect(await readVideoXmp(mp4(past))).toEqual({ dates: [], notes: [] });
    const tiny = uuidXmp(p);
    tiny.writeUInt32BE(4, 0);
    expect(await readVideoXmp(mp4(tiny))).toEqual({ dates: [], notes: [] });
  });

  it('a packet past MEDIA_LIMITS.maxVideoXmpBytes is not read, and no other packet date is kept beside it', async () => {
    const huge = packet('xmp:CreateDate="1999-09-09T09:09:09"', `<xmp:Label>${'x'.repeat(MEDIA_LIMITS.maxVideoXmpBytes)}</xmp:Label>`);
    const source = mp4(uuidXmp(p), box('moov', mvhd, box('udta', box('XMP_', Buffer.from(huge)))));
    const read = await readVideoXmp(source);
    expect(read.dates).toEqual([]);
    expect(read.notes).toEqual([expect.stringMatching(/moov\/udta\/XMP_ is \d+ bytes, more than 1048576 .*no XMP date read/)]);
    // Only the header was read, not the megabyte.
    expect(Math.max(...source.reads.map((r) => r.length))).toBeLessThan(MEDIA_LIMITS.maxVideoXmpBytes);
  });

  it('a tag stated with different values (two packets) is absent, with a note; the same value twice is kept', async () => {
    const other = packet('xmp:CreateDate="2023-01-02T05:04:05+04:00" exif:DateTimeOriginal="2023-01-01T00:00:00"');
    const read = await readVideoXmp(mp4(uuidXmp(p), box('moov', mvhd, box('udta', box('XMP_', Buffer.from(other))))));
    expect(read).toEqual({ dates: [{ source: 'XMP:exif:DateTimeOriginal', text: '2023-01-01T00:00:00' }], notes: ['XMP: XMP:xmp:CreateDate is stated with 2 different values; none kept'] });
    expect(await readVideoXmp(mp4(uuidXmp(p), box('moov', mvhd, uuidXmp(p))))).toEqual({ dates: created, notes: [] });
  });

  it('a refused packet (billion laughs) keeps every XMP date out, with a note', async () => {
    const lol = `<!DOCTYPE x [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">]>${packet('xmp:CreateDate="&b;"')}`;
    const read = await readVideoXmp(mp4(uuidXmp(p), uuidXmp(lol)));
    expect(read).toEqual({ dates: [], notes: ['XMP: the packet in uuid was not read: it has a DOCTYPE; no XMP date read'] });
  });

  it('regression: video-xmp-refusal-note-copies-packet-into-partial — a refusal quotes at most ~120 characters of sax\'s message, unprintable characters escaped', async () => {
    // sax's message embeds the file's text ('Unbound namespace prefix: "ppp…"'): the note copied ~1 MiB of it.
    const unbound = `<x:xmpmeta xmlns:x="${NS.x}"><${'p'.repeat(60_000)}:a/></x:xmpmeta>`;
    const read = await readVideoXmp(mp4(uuidXmp(unbound)));
    expect(read.dates).toEqual([]);
    expect(read.notes).toHaveLength(1);
    expect(read.notes[0]).toMatch(/^XMP: the packet in uuid was not read: not well-formed XML \(Unbound namespace prefix: "p{20,}…\); no XMP date read$/);
    expect(read.notes[0]!.length).toBeLessThan(250);
    // A message quoting a control character shows it escaped, not raw.
    const refused = xmpCaptureDates(`<x:xmpmeta xmlns:x="${NS.x}"><a\u0001b/></x:xmpmeta>`);
    expect(refused).toMatchObject({ refused: expect.stringMatching(/^not well-formed XML \(/) });
    expect('refused' in refused && /[\u0000-\u001f]/.test(refused.refused)).toBe(false);
  });

  it('regression: video-xmp-box-budget-keeps-earlier-dates — a walk stopped by MEDIA_LIMITS.maxVideoXmpBoxes reads no XMP date (an unseen packet may contradict them), with a note; more packets than the limit are not read', async () => {
    const frees = Array.from({ length: MEDIA_LIMITS.maxVideoXmpBoxes }, () => box('free'));
    const stopped = await readVideoXmp(mp4(uuidXmp(p), ...frees, uuidXmp(packet('xmp:CreateDate="1999-09-09T09:09:09"'))));
    expect(stopped).toEqual({ dates: [], notes: [expect.stringMatching(/stopped after 1024 boxes .*; no XMP date read$/)] });
    const many = await readVideoXmp(mp4(...Array.from({ length: MEDIA_LIMITS.maxVideoXmpPackets + 1 }, () => uuidXmp(p))));
    expect(many).toEqual({ dates: [], notes: [expect.stringMatching(/5 packets, more than 4/)] });
  });

  it('regression: video-xmp-fragmented-mp4-walked-to-budget — a fragmented MP4 (frag_keyframe+empty_moov) stops at its first moof after moov: no note, a few reads; XMP right after moov is read', async () => {
    // 600 one-frame fragments: 1,200 top-level moof/mdat boxes past moov, past the box budget (the walk read ~1,000 headers, then a note).
    const frag = await makeWithFfmpeg(['-f', 'lavfi', '-i', 'testsrc=size=16x16:rate=100:duration=6', '-c:v', 'mpeg4', '-g', '1', '-movflags', 'frag_keyframe+empty_moov'], 'mp4');
    const tops: Array<{ type: string; at: number; end: number }> = [];
    for (let at = 0; at + 8 <= frag.length; at += frag.readUInt32BE(at)) tops.push({ type: frag.toString('latin1', at + 4, at + 8), at, end: at + frag.readUInt32BE(at) });
    expect(tops.filter((t) => t.type === 'moof').length).toBeGreaterThan(MEDIA_LIMITS.maxVideoXmpBoxes / 2);
    const plain = new BufferSource(frag);
    expect(await readVideoXmp(plain)).toEqual({ dates: [], notes: [] });
    expect(plain.reads.length).toBeLessThan(10);
    // A packet right after moov is found, still in a few reads; the fragments stay unwalked, so its date is not kept
    // (video-xmp-fmp4-stop-keeps-date-a-later-packet-contradicts); one past the fragments alone is not looked for.
    const moovEnd = tops.find((t) => t.type === 'moov')!.end;
    const withXmp = new BufferSource(Buffer.concat([frag.subarray(0, moovEnd), uuidXmp(p), frag.subarray(moovEnd)]));
    expect(await readVideoXmp(withXmp)).toEqual({ dates: [], notes: [expect.stringMatching(/stopped at the first moof after moov/)] });
    expect(withXmp.reads.length).toBeLessThan(10);
    expect(await readVideoXmp(new BufferSource(Buffer.concat([frag, uuidXmp(p)])))).toEqual({ dates: [], notes: [] });
  });

  it('regression: video-xmp-fmp4-stop-keeps-date-a-later-packet-contradicts — a fragmented MP4 whose walk stops at a moof after a packet was found keeps no XMP date (one past the fragments may contradict it), with a note', async () => {
    // Six one-frame fragments, as the reviewer's file: ftyp uuid(2023) moov (moof mdat)×6 mfra uuid(1999).
    const frag = await makeWithFfmpeg(['-f', 'lavfi', '-i', 'testsrc=size=16x16:rate=10:duration=0.6', '-c:v', 'mpeg4', '-g', '1', '-movflags', 'frag_keyframe+empty_moov'], 'mp4');
    const ftypEnd = frag.readUInt32BE(0);
    expect(frag.toString('latin1', 4, 8)).toBe('ftyp');
    const tops: string[] = [];
    for (let at = 0; at + 8 <= frag.length; at += frag.readUInt32BE(at)) tops.push(frag.toString('latin1', at + 4, at + 8));
    expect(tops.filter((t) => t === 'moof').length).toBeGreaterThan(1);
    expect(tops.indexOf('moof')).toBeGreaterThan(tops.indexOf('moov'));
    const later = uuidXmp(packet('xmp:CreateDate="1999-09-09T09:09:09"'));
    const both = await readVideoXmp(new BufferSource(Buffer.concat([frag.subarray(0, ftypEnd), uuidXmp(p), frag.subarray(ftypEnd), later])));
    expect(both).toEqual({ dates: [], notes: [expect.stringMatching(/^XMP: box walk stopped at the first moof after moov .*; no XMP date read$/)] });
    // Nothing found before the fragments: nothing to keep, so no note (as before).
    expect(await readVideoXmp(new BufferSource(Buffer.concat([frag, later])))).toEqual({ dates: [], notes: [] });
  });

  /** A clip with XMP written by exiftool (a real writer), and exiftool's own reading of its XMP dates; null without exiftool. */
  function withExiftool(bytes: Buffer, ext: string, args: string[]): { bytes: Buffer; theirs: Record<string, string> } | null {
    const dir = mkdtempSync(join(tmpdir(), 'exhibit-video-xmp-'));
    try {
      const file = join(dir, `clip.${ext}`);
      writeFileSync(file, bytes);
      const write = spawnSync('exiftool', ['-q', '-overwrite_original', ...args, file], { encoding: 'utf8' });
      if (write.error || write.status !== 0) return null;
      const read = spawnSync('exiftool', ['-j', '-a', '-G1', '-XMP:all', '-d', '%Y-%m-%dT%H:%M:%S', file], { encoding: 'utf8' });
      return { bytes: readFileSync(file), theirs: (JSON.parse(read.stdout) as Array<Record<string, string>>)[0]! };
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }

  it('exiftool-written XMP in an MP4 (top-level uuid) and a MOV (moov/udta/XMP_): the dates exiftool reads', async (ctx) => {
    const clip = await makeWithFfmpeg(['-f', 'lavfi', '-i', 'testsrc=size=64x48:rate=5:duration=0.4', '-c:v', 'mpeg4'], 'mp4');
    const args = ['-XMP-xmp:CreateDate=2023:01:02 03:04:05+02:00', '-XMP-exif:DateTimeOriginal=2023:01:02 03:04:00', '-XMP-xmpDM:ShotDate=2023:01:02 03:03:00-05:00'];
    const written = withExiftool(clip, 'mp4', args);
    if (!written) return ctx.skip('exiftool is not installed to write the XMP');
    expect(written.theirs).toMatchObject({ 'XMP-xmp:CreateDate': '2023-01-02T03:04:05', 'XMP-exif:DateTimeOriginal': '2023-01-02T03:04:00', 'XMP-xmpDM:ShotDate': '2023-01-02T03:03:00' });
    expect((await readVideoXmp(new BufferSource(written.bytes))).dates).toEqual([
      { source: 'XMP:exif:DateTimeOriginal', text: '2023-01-02T03:04:00' },
      { source: 'XMP:xmpDM:shotDate', text: '2023-01-02T03:03:00-05:00' },
      { source: 'XMP:xmp:CreateDate', text: '2023-01-02T03:04:05+02:00' },
    ]);
    const mov = await makeWithFfmpeg(['-f', 'lavfi', '-i', 'testsrc=size=64x48:rate=5:duration=0.4', '-c:v', 'mpeg4', '-f', 'mov'], 'mov');
    const movWritten = withExiftool(mov, 'mov', ['-XMP-xmp:CreateDate=2023:01:02 03:04:05']);
    expect(movWritten?.theirs['XMP-xmp:CreateDate']).toBe('2023-01-02T03:04:05');
    expect((await readVideoXmp(new BufferSource(movWritten!.bytes))).dates).toEqual([{ source: 'XMP:xmp:CreateDate', text: '2023-01-02T03:04:05' }]);
  });
});
