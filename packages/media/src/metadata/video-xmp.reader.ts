import type { RandomAccessSource } from '@exhibit/core';
import sax from 'sax';
import { BoxWalker, BoxWalkStopped, type Box } from '../identify/iso-bmff-boxes.js';
import { MEDIA_LIMITS } from '../media-limits.js';
import { displayText } from './recorded-text.js';

/**
 * A QuickTime/MP4 video's XMP packets and the capture dates their top-level
 * Descriptions state. Runs in a parser thread (sandbox/parse.worker.ts 'video-xmp') under
 * its deadline: both the box walk and the XML are evidence.
 *
 * Where: the places exiftool reads, no others: a `uuid` box with XMP's UUID
 * (BE7ACFCB-97A9-42E8-9C71-999491E3AFAC) at the top level only, and QuickTime's
 * `XMP_` atom in `moov/udta` or `moov/trak/udta`. Box sizes are checked against
 * their parent (0, "to the end", ends the walk of its level unread, as exiftool
 * does; 1: a 64-bit size); a fragmented file's walk ends at its first `moof`
 * after `moov` (a packet found before it then gives no XMP date: one after the
 * fragments, unread, could contradict it); at most MEDIA_LIMITS.maxVideoXmpBoxes
 * headers are read (past them no XMP date is kept), at most MEDIA_LIMITS.maxVideoXmpPackets packets of
 * MEDIA_LIMITS.maxVideoXmpBytes each.
 *
 * What: only simple properties of a top-level `rdf:Description` (a child of the
 * packet's `rdf:RDF`, whatever its `rdf:about`: not compared, as exiftool does not), as an attribute (`xmp:CreateDate="…"`) or an element
 * with text alone, matched by namespace URI (so Photoshop CS3's `xap:` is XMP
 * basic when bound to its URI, and `xmp:` bound elsewhere is not). Dates nested
 * in structures (xmpMM:History's stEvt:when, xmpMM:Ingredients, DerivedFrom,
 * Pantry, any struct or array) and comments are never read: a regular-expression
 * scan took a pantry ingredient's date as the clip's
 * (video-xmp-pantry-date-taken-as-capture-time). The XML is read by sax (strict,
 * namespace-aware, linear, one pass; it expands no entity a DOCTYPE declares): a
 * packet with a DOCTYPE, an XML error, or nesting past MEDIA_LIMITS.maxXmpDepth
 * is refused whole. A tag stated with different values (two Descriptions, two
 * packets) is absent: right or absent, never wrong.
 */

/** The date tags read, named as the image path names them (exif.metadata.ts CAPTURE_TAGS), in rank order. */
export const VIDEO_XMP_DATE_TAGS = [
  { source: 'XMP:exif:DateTimeOriginal', uri: 'http://ns.adobe.com/exif/1.0/', local: 'DateTimeOriginal' },
  { source: 'XMP:photoshop:DateCreated', uri: 'http://ns.adobe.com/photoshop/1.0/', local: 'DateCreated' },
  // Premiere's "Shot Date" (XMP Dynamic Media): when the clip was shot, as the editor was told.
  { source: 'XMP:xmpDM:shotDate', uri: 'http://ns.adobe.com/xmp/1.0/DynamicMedia/', local: 'shotDate' },
  { source: 'XMP:exif:DateTimeDigitized', uri: 'http://ns.adobe.com/exif/1.0/', local: 'DateTimeDigitized' },
  { source: 'XMP:xmp:CreateDate', uri: 'http://ns.adobe.com/xap/1.0/', local: 'CreateDate' },
] as const;

export type VideoXmpDateSource = (typeof VIDEO_XMP_DATE_TAGS)[number]['source'];

export interface VideoXmpRead {
  /** The dates found, one per tag, in VIDEO_XMP_DATE_TAGS order, as written. */
  dates: Array<{ source: VideoXmpDateSource; text: string }>;
  /** Why XMP was read only in part or not at all (a packet too large, refused, a walk stopped); empty when whole. */
  notes: string[];
}

/** XMP's `uuid` usertype. */
const XMP_UUID = Buffer.from('be7acfcb97a942e89c71999491e3afac', 'hex');
const RDF_NS = 'http://www.w3.org/1999/02/22-rdf-syntax-ns#';
const XMPMETA_NS = new Set(['adobe:ns:meta/', 'adobe:ns:meta']);
/** Longer text than this in a date property is no date (recorded-time refuses past 64 characters anyway). */
const MAX_VALUE_CHARS = 256;
/**
 * Characters handed to sax at a time; the attribute limit is checked between them, so no tag
 * gathers more than MEDIA_LIMITS.maxXmpAttributes plus what one chunk holds (~800) before it is refused.
 */
const PARSE_CHUNK_CHARS = 4 * 1024;
/**
 * Characters of a parser's message quoted in a refusal. sax's messages quote the file ('Unbound
 * namespace prefix: "…"'): uncapped, a note copied up to a MiB of evidence into metadata.partial
 * (video-xmp-refusal-note-copies-packet-into-partial).
 */
const MAX_QUOTED_CHARS = 120;

/** A parser's message as a refusal quotes it: its first line, capped, unprintable characters escaped. */
function quoted(message: string): string {
  const line = message.slice(0, MAX_QUOTED_CHARS + 1).split('\n')[0]!;
  const shown = displayText(line, MAX_QUOTED_CHARS)?.text ?? '';
  return line.length > MAX_QUOTED_CHARS ? `${shown}…` : shown;
}

class Stop extends Error {}

type PacketSpan = { start: number; end: number; where: string };

/**
 * The packets' spans (absolute [start, end)), in file order, added to `found` as they are met. Only
 * where exiftool (QuickTime.pm) reads XMP: a top-level `uuid` with XMP's UUID, and `XMP_` in the
 * UserData (`udta`) of `moov` and of each `moov/trak`. exiftool reads no XMP uuid inside `moov`,
 * a `trak` or a `udta`; a packet read there alone would be a value validation finds only in Exhibit.
 */
async function findPackets(walker: BoxWalker, size: number, found: PacketSpan[]): Promise<'whole' | 'fragments-unwalked'> {
  const udtaPackets = async (udta: Box, where: string) => {
    for await (const box of walker.children(udta.body, udta.end)) if (box.type === 'XMP_') found.push({ start: box.body, end: box.end, where: `${where}/XMP_` });
  };
  let moovSeen = false;
  for await (const top of walker.children(0, size)) {
    // A fragmented MP4 (frag_keyframe+empty_moov) has a moof/mdat pair per fragment, hundreds to
    // thousands: walked to the box budget, each header a storage read, it held no XMP and got a note
    // (video-xmp-fragmented-mp4-walked-to-budget). A top-level XMP uuid mostly goes before or right
    // after moov (exiftool writes no XMP into a fragmented file at all: "Can't yet handle movie
    // fragments when writing"), so the walk ends at the first moof after moov. Another tool may still
    // append a packet after the fragments, and exiftool reads it: the caller keeps no date found
    // before this stop (video-xmp-fmp4-stop-keeps-date-a-later-packet-contradicts).
    if (top.type === 'moof' && moovSeen) return 'fragments-unwalked';
    if (top.type === 'uuid') {
      if (top.end - top.body >= 16 && (await walker.read(top.body, 16)).equals(XMP_UUID)) found.push({ start: top.body + 16, end: top.end, where: 'uuid' });
      continue;
    }
    if (top.type !== 'moov') continue;
    moovSeen = true;
    if (top.end - top.body <= MEDIA_LIMITS.moovWholeReadBytes) await walker.hold(top.body, top.end);
    for await (const box of walker.children(top.body, top.end)) {
      if (box.type === 'udta') await udtaPackets(box, 'moov/udta');
      else if (box.type === 'trak') {
        for await (const inner of walker.children(box.body, box.end)) if (inner.type === 'udta') await udtaPackets(inner, 'moov/trak/udta');
      }
    }
  }
  return 'whole';
}

/** The XMP capture dates of a QuickTime/MP4 file (see the module comment). */
export async function readVideoXmp(source: RandomAccessSource, options: { abortSignal?: AbortSignal } = {}): Promise<VideoXmpRead> {
  // Box headers within MEDIA_LIMITS.maxVideoXmpBoxes. A box of size 0 ("to the end of the file"): exiftool reads
  // no such box and walks no further at its level (a top-level uuid of size 0 gives it no XMP), nor does this walk.
  // Never trusted: a size below its header or past its parent (or the file) ends the walk (BoxWalkStopped).
  const walker = new BoxWalker(source, {
    maxBoxes: MEDIA_LIMITS.maxVideoXmpBoxes,
    sizeZero: 'ends-level',
    ...(options.abortSignal ? { abortSignal: options.abortSignal } : {}),
  });
  const notes: string[] = [];
  const packets: PacketSpan[] = [];
  try {
    const walked = await findPackets(walker, source.size, packets);
    // The walk stopped at a fragmented file's first moof (see findPackets), with the fragments and
    // whatever follows them unread. A packet after them (exiftool reads one there) may contradict one
    // found before: as at the box budget, no XMP date is kept, with a note. With none found there is
    // nothing to contradict: absent, silently (a fragmented file with no XMP is common).
    if (walked === 'fragments-unwalked' && packets.length > 0) {
      return { dates: [], notes: ['XMP: box walk stopped at the first moof after moov (a fragmented file); XMP boxes after its fragments were not looked for; no XMP date read'] };
    }
  } catch (err) {
    if (!(err instanceof BoxWalkStopped)) throw err;
    // A malformed box (a truncated or carved file) ends the walk: what was found before it stands, as
    // exiftool reads it. The box budget is no malformation: the rest was not looked at and may hold a
    // packet stating other dates, so, as for a packet too large to read, no XMP date is kept
    // (video-xmp-box-budget-keeps-earlier-dates).
    if (walker.budgetSpent) {
      return { dates: [], notes: [`XMP: box walk stopped after ${MEDIA_LIMITS.maxVideoXmpBoxes} boxes (MEDIA_LIMITS.maxVideoXmpBoxes); XMP boxes after them were not looked for; no XMP date read`] };
    }
  }
  if (packets.length > MEDIA_LIMITS.maxVideoXmpPackets) {
    return { dates: [], notes: [...notes, `XMP: ${packets.length} packets, more than ${MEDIA_LIMITS.maxVideoXmpPackets} (MEDIA_LIMITS.maxVideoXmpPackets); none read`] };
  }
  const values = new Map<VideoXmpDateSource, Set<string>>();
  for (const packet of packets) {
    const length = packet.end - packet.start;
    if (length > MEDIA_LIMITS.maxVideoXmpBytes) {
      // Unread, it may state other dates: no XMP date is kept rather than one it might contradict.
      return { dates: [], notes: [...notes, `XMP: the packet in ${packet.where} is ${length} bytes, more than ${MEDIA_LIMITS.maxVideoXmpBytes} (MEDIA_LIMITS.maxVideoXmpBytes); no XMP date read`] };
    }
    const decoded = decodePacket(await walker.read(packet.start, length));
    const parsed = decoded.utf16 && !decoded.text.replace(/^\uFEFF/, '').startsWith('<?xpacket begin=')
      ? { refused: 'UTF-16 without an xpacket wrapper (exiftool reads none)' }
      : xmpCaptureDates(decoded.text);
    if ('refused' in parsed) return { dates: [], notes: [...notes, `XMP: the packet in ${packet.where} was not read: ${parsed.refused}; no XMP date read`] };
    for (const { source: tag, text } of parsed.dates) {
      const seen = values.get(tag) ?? new Set<string>();
      seen.add(text);
      values.set(tag, seen);
    }
  }
  const dates: VideoXmpRead['dates'] = [];
  for (const { source: tag } of VIDEO_XMP_DATE_TAGS) {
    const seen = values.get(tag);
    if (!seen) continue;
    if (seen.size === 1) dates.push({ source: tag, text: [...seen][0]! });
    else notes.push(`XMP: ${tag} is stated with ${seen.size} different values; none kept`);
  }
  return { dates, notes };
}

/**
 * A packet's text: UTF-8 (what MP4 writers use), or UTF-16 where a byte-order mark says so (XMP
 * allows it). exiftool reads a UTF-16 packet only inside its `<?xpacket begin=` wrapper ("Empty
 * XMP" otherwise), so readVideoXmp reads none without it (video-xmp-utf16-read-where-exiftool-reads-none).
 */
function decodePacket(bytes: Buffer): { text: string; utf16: boolean } {
  if (bytes.length >= 2 && bytes[0] === 0xfe && bytes[1] === 0xff) return { text: new TextDecoder('utf-16be').decode(bytes), utf16: true };
  if (bytes.length >= 2 && bytes[0] === 0xff && bytes[1] === 0xfe) return { text: new TextDecoder('utf-16le').decode(bytes), utf16: true };
  return { text: new TextDecoder('utf-8').decode(bytes), utf16: false };
}

/**
 * The date tags of one packet: simple properties of the top-level rdf:Description(s) (rdf:about not compared),
 * matched by namespace URI; or why the packet was refused. Pure and linear in the packet's length.
 */
export function xmpCaptureDates(packet: string): { dates: Array<{ source: VideoXmpDateSource; text: string }> } | { refused: string } {
  const wanted = (uri: string, local: string) => VIDEO_XMP_DATE_TAGS.find((t) => t.uri === uri && t.local === local)?.source;
  // A byte-order mark is no markup, nor is NUL padding after the packet (writers pad a box or
  // end the packet with NULs; sax would call them text outside the root and refuse the packet).
  let end = packet.length;
  while (end > 0 && packet.charCodeAt(end - 1) === 0) end--;
  const text = packet.slice(packet.charCodeAt(0) === 0xfeff ? 1 : 0, end);
  // position: sax counts characters read, so a start tag's raw text can be looked at (onopentag).
  const parser = sax.parser(true, { xmlns: true, position: true });
  const values = new Map<VideoXmpDateSource, Set<string>>();
  const keep = (tag: VideoXmpDateSource, text: string) => {
    const value = text.trim();
    const seen = values.get(tag) ?? new Set<string>();
    seen.add(value);
    values.set(tag, seen);
  };
  /** Open elements: what each is to this reader. */
  type Open = { kind: 'meta' | 'rdf' | 'description' | 'other' } | { kind: 'property'; tag: VideoXmpDateSource | undefined; text: string; simple: boolean };
  const stack: Open[] = [];
  let refused: string | null = null;
  const tooManyAttributes = `a tag with more than ${MEDIA_LIMITS.maxXmpAttributes} attributes (MEDIA_LIMITS.maxXmpAttributes)`;
  const refuse = (why: string): never => {
    refused = why;
    throw new Stop();
  };
  parser.onerror = (err) => refuse(`not well-formed XML (${quoted(err.message)})`);
  // A DTD can declare entities (billion laughs); sax expands none, and XMP has no use for one.
  parser.ondoctype = () => refuse('it has a DOCTYPE');
  // What sax lets through that XML forbids (expat refuses each), refused here so a malformed packet
  // never gives a date. exiftool reads all three (its XMP parser is its own, not expat): validation
  // shows such a packet's dates as dates only exiftool has, which is meant. In namespace mode sax's own repeated-attribute check never
  // matches, so `xmp:CreateDate="2001…" xmp:CreateDate="2023…"` kept the later value and a prefix bound
  // twice on one tag its later binding (video-xmp-duplicate-attribute-takes-later-value); a second root
  // element was read as more of the packet (video-xmp-second-root-read); a raw `<` in an attribute value
  // was part of the value (video-xmp-lt-in-attribute-value-accepted). sax emits a tag's attributes
  // (namespace declarations included, resolved) just before the tag opens: the sets hold one tag's.
  const names = new Set<string>();
  const expanded = new Set<string>();
  let rootSeen = false;
  parser.onattribute = (attribute) => {
    const key = `{${attribute.uri}}${attribute.local}`;
    if (names.has(attribute.name) || expanded.has(key)) refuse(`not well-formed XML (attribute ${quoted(attribute.name)} stated twice on one tag)`);
    names.add(attribute.name);
    expanded.add(key);
  };
  parser.onopentag = (tag) => {
    names.clear();
    expanded.clear();
    if (stack.length === 0) {
      if (rootSeen) refuse('not well-formed XML (a second root element)');
      rootSeen = true;
    }
    // The raw start tag between `<` and `>`: anywhere but inside a quoted value, sax fails on a `<`
    // itself; `&lt;` in a value is no `<` here. Each tag's text is looked at once: linear.
    if (text.slice(parser.startTagPosition, parser.position - 1).includes('<')) refuse('not well-formed XML (a `<` in an attribute value)');
    if (Object.keys(tag.attributes).length > MEDIA_LIMITS.maxXmpAttributes) refuse(tooManyAttributes);
    if (stack.length >= MEDIA_LIMITS.maxXmpDepth) refuse(`elements nested more than ${MEDIA_LIMITS.maxXmpDepth} deep (MEDIA_LIMITS.maxXmpDepth)`);
    const parent = stack[stack.length - 1];
    if (parent?.kind === 'property') parent.simple = false;
    let open: Open = { kind: 'other' };
    const onlyMeta = stack.every((o) => o.kind === 'meta');
    // rdf:RDF is the root or inside x:xmpmeta (x:xapmeta before XMP 2004); an rdf:RDF nested anywhere else is no packet's.
    if (onlyMeta && XMPMETA_NS.has(tag.uri) && (tag.local === 'xmpmeta' || tag.local === 'xapmeta')) open = { kind: 'meta' };
    else if (onlyMeta && tag.uri === RDF_NS && tag.local === 'RDF') open = { kind: 'rdf' };
    else if (parent?.kind === 'rdf' && tag.uri === RDF_NS && tag.local === 'Description') {
      open = { kind: 'description' };
      for (const attribute of Object.values(tag.attributes)) {
        const date = wanted(attribute.uri, attribute.local);
        if (date) keep(date, attribute.value);
      }
    } else if (parent?.kind === 'description') {
      // A property element with rdf:resource or rdf:parseType is a reference or a struct, never a simple value.
      const simple = !Object.values(tag.attributes).some((a) => a.uri === RDF_NS);
      open = { kind: 'property', tag: wanted(tag.uri, tag.local), text: '', simple };
    }
    stack.push(open);
  };
  const onText = (text: string) => {
    const top = stack[stack.length - 1];
    if (top?.kind !== 'property' || top.tag === undefined || !top.simple) return;
    if (top.text.length + text.length > MAX_VALUE_CHARS) top.simple = false;
    else top.text += text;
  };
  parser.ontext = onText;
  parser.oncdata = onText;
  parser.onclosetag = () => {
    const top = stack.pop();
    if (top?.kind === 'property' && top.tag !== undefined && top.simple && top.text.trim() !== '') keep(top.tag, top.text);
  };
  try {
    for (let at = 0; at < text.length; at += PARSE_CHUNK_CHARS) {
      parser.write(text.slice(at, at + PARSE_CHUNK_CHARS));
      // sax checks each new attribute against the tag's list so far (a scan: quadratic in one tag's count;
      // 40,000 on one tag took 2.3 s): a tag still open with more than the limit is refused before it grows.
      if (parser.attribList.length > MEDIA_LIMITS.maxXmpAttributes) refuse(tooManyAttributes);
    }
    parser.close();
  } catch (err) {
    if (!(err instanceof Stop)) {
      return { refused: `not well-formed XML (${quoted(err instanceof Error ? err.message : String(err))})` };
    }
  }
  if (refused !== null) return { refused };
  // Every value stated (two top-level Descriptions may differ: readVideoXmp keeps neither then).
  return { dates: VIDEO_XMP_DATE_TAGS.flatMap(({ source }) => [...(values.get(source) ?? [])].map((text) => ({ source, text }))) };
}
