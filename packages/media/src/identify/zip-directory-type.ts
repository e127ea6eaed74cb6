import { inflateRawSync } from 'node:zlib';
import { LIMITS, type RandomAccessSource } from '@exhibit/core';
import { zipDirectoryAtEnd } from './polyglot.js';

/**
 * The type of a ZIP-based document or package whose naming member lies beyond the head.
 * file-type reads members from the start of the file; an OOXML package names
 * its type in `[Content_Types].xml`, which OPC lets lie anywhere, and some
 * writers put `[Content_Types].xml` last (Keynote's and other exports: the
 * pptx in the corpus had it at byte 135,959 of 141,649). Past the head, such a
 * document was "application/zip", an archive, and an extension mismatch on its
 * own `.pptx` name; likewise a JAR whose META-INF/MANIFEST.MF, or an APK whose
 * AndroidManifest.xml, lies past the head.
 *
 * Here the central directory (at the end, where every ZIP reader looks)
 * gives the member's place; the member is read and inflated within bounds,
 * and handed to file-type as a one-member ZIP, so the type comes from
 * file-type's own reading of the content types (docx/docm/dotx…), not a
 * second list. Null when anything does not fit (ZIP64, a directory or member
 * past its bound, a damaged record, no such member, no `_rels/.rels`, a local
 * header inside another member, a name or size that does not match): the
 * file stays a ZIP, and is unpacked as one.
 */

/** Largest central directory read (a 1,000-slide deck's is a few hundred KiB). */
export const ZIP_TYPE_MAX_DIRECTORY_BYTES = 1024 * 1024;
/** Largest `[Content_Types].xml` inflated (real ones are a few KiB). */
export const ZIP_TYPE_MAX_MEMBER_BYTES = 256 * 1024;

const CENTRAL_SIGNATURE = 0x02014b50;
const LOCAL_SIGNATURE = 0x04034b50;
const LOCAL_HEADER_BYTES = 30;
/**
 * Members that name a ZIP-based type, most decisive first: an Android package
 * also has a Java manifest, so classes.dex (an APK to file-type) wins over
 * META-INF/MANIFEST.MF (a JAR), and an AndroidManifest.xml without code (a
 * resource split) leaves the file a ZIP rather than a JAR. The content-types
 * member is read; the others name their type by their presence, as file-type
 * takes them. classes2.dex… count as classes.dex.
 *
 * Not `mimetype`: OCF (EPUB) and ODF require it to be the FIRST member, stored,
 * where file-type reads it from the head. Anywhere else it is only a file of
 * that name: a phone dump or any archive holding one would be typed an EPUB,
 * a document, and not unpacked.
 */
const NAMING_MEMBERS: readonly string[] = ['classes.dex', 'AndroidManifest.xml', '[Content_Types].xml', 'META-INF/mozilla.rsa', 'META-INF/MANIFEST.MF'];
const CONTENT_TYPES = '[Content_Types].xml';
/** OPC (ECMA-376 part 2) lets [Content_Types].xml lie anywhere, but every package also has its root relationships part. */
const PACKAGE_RELATIONSHIPS = '_rels/.rels';

type Found = { ext: string; mime: string };
type Member = { name: string; method: number; compressed: number; size: number; local: number; nameLength: number };

export async function zipDocumentFromDirectory(
  source: RandomAccessSource,
  head: Buffer,
  fileTypeOf: (head: Buffer) => Promise<Found | null>,
  options: { abortSignal?: AbortSignal } = {},
): Promise<Found | null> {
  const tailOffset = Math.max(0, source.size - LIMITS.identifyTailBytes);
  // A ZIP no longer than the head is already in memory: not read again (as identify-source.ts does for its polyglot check).
  const tail = head.length === source.size ? head.subarray(tailOffset) : await source.read(tailOffset, source.size - tailOffset, options);
  const zip = zipDirectoryAtEnd(tail, tailOffset, source.size);
  // Only a ZIP whose offsets count from the file's start: what file-type saw at byte 0 is this archive.
  // No place for the directory (ZIP64, 0xFFFFFFFF fields): the file stays a ZIP.
  if (!zip || zip.archiveStart !== 0 || zip.centralDirectory === null) return null;
  const { offset: cdOffset, size: cdSize } = zip.centralDirectory;
  if (cdSize > ZIP_TYPE_MAX_DIRECTORY_BYTES || cdOffset + cdSize > zip.eocdOffset) return null;
  const directory = cdOffset >= tailOffset ? tail.subarray(cdOffset - tailOffset, cdOffset - tailOffset + cdSize) : await source.read(cdOffset, cdSize, options);
  if (directory.length !== cdSize) return null;

  const members: Member[] = [];
  for (let at = 0; at + 46 <= directory.length; ) {
    if (directory.readUInt32LE(at) !== CENTRAL_SIGNATURE) return null;
    const nameLength = directory.readUInt16LE(at + 28);
    const next = at + 46 + nameLength + directory.readUInt16LE(at + 30) + directory.readUInt16LE(at + 32);
    if (next > directory.length) return null;
    const recorded = directory.toString('latin1', at + 46, at + 46 + nameLength);
    const name = /^classes\d*\.dex$/.test(recorded) ? 'classes.dex' : recorded;
    members.push({ name, method: directory.readUInt16LE(at + 10), compressed: directory.readUInt32LE(at + 20), size: directory.readUInt32LE(at + 24), local: directory.readUInt32LE(at + 42), nameLength });
    at = next;
  }
  const names = new Set(members.map((m) => m.name));
  const naming = NAMING_MEMBERS.find((name) => names.has(name));
  if (naming === undefined || naming === 'AndroidManifest.xml') return null;
  let content: Buffer = Buffer.alloc(0);
  if (naming === CONTENT_TYPES) {
    if (!names.has(PACKAGE_RELATIONSHIPS)) return null;
    const member = members.find((m) => m.name === CONTENT_TYPES)!;
    if (insideAnotherMember(member, members)) return null;
    const { name, method, compressed, size, local } = member;
    if (compressed > ZIP_TYPE_MAX_MEMBER_BYTES || size > ZIP_TYPE_MAX_MEMBER_BYTES || (method !== 0 && method !== 8)) return null;
    const read = await memberContent(source, local, name, method, compressed, size, options);
    if (read === null) return null;
    content = read;
  }
  const type = await fileTypeOf(storedZipMember(naming, content));
  return type && type.ext !== 'zip' ? type : null;
}

/**
 * Whether the member's local header lies within another member's header and
 * data (at least its local header, name and compressed bytes): a directory
 * record pointing into another member's content, where a crafted file can hold
 * a header of its choosing, describes no member a ZIP writer made.
 */
function insideAnotherMember(member: Member, members: readonly Member[]): boolean {
  return members.some((other) => other !== member && other.local <= member.local && member.local < other.local + LOCAL_HEADER_BYTES + other.nameLength + other.compressed);
}

/** The member's bytes from its local header, inflated when deflated; null when the header or data do not match the directory. */
async function memberContent(
  source: RandomAccessSource,
  local: number,
  name: string,
  method: number,
  compressed: number,
  size: number,
  options: { abortSignal?: AbortSignal },
): Promise<Buffer | null> {
  if (local + LOCAL_HEADER_BYTES > source.size) return null;
  const header = await source.read(local, LOCAL_HEADER_BYTES, options);
  if (header.length < LOCAL_HEADER_BYTES || header.readUInt32LE(0) !== LOCAL_SIGNATURE) return null;
  const nameLength = header.readUInt16LE(26);
  const dataAt = local + LOCAL_HEADER_BYTES + nameLength + header.readUInt16LE(28);
  if (dataAt + compressed > source.size) return null;
  const localName = (await source.read(local + LOCAL_HEADER_BYTES, nameLength, options)).toString('latin1');
  if (localName !== name) return null;
  const data = await source.read(dataAt, compressed, options);
  if (data.length !== compressed) return null;
  if (method === 0) return data.length === size ? data : null;
  try {
    const inflated = inflateRawSync(data, { maxOutputLength: ZIP_TYPE_MAX_MEMBER_BYTES });
    return inflated.length === size ? inflated : null;
  } catch {
    return null; // damaged, or inflates past the bound: no type from it
  }
}

/** A ZIP of one stored member: what file-type reads the type from. */
function storedZipMember(name: string, content: Buffer): Buffer {
  const header = Buffer.alloc(30);
  header.writeUInt32LE(LOCAL_SIGNATURE, 0);
  header.writeUInt16LE(20, 4);
  header.writeUInt32LE(content.length, 18);
  header.writeUInt32LE(content.length, 22);
  header.writeUInt16LE(Buffer.byteLength(name, 'latin1'), 26);
  return Buffer.concat([header, Buffer.from(name, 'latin1'), content]);
}
