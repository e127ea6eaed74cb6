import { inflateRawSync } from 'node:zlib';
import { LIMITS, type RandomAccessSource } from '@exhibit/core';
import { zipDirectoryAtEnd } from './polyglot.js';

/**
 * The type of a ZIP-based document or package whose naming member lies beyond the head.
 * file-type reads members from the start of the file; an OOXML package names
 * its type in `[Content_Types].xml` and an ODF/EPUB in `mimetype`, and some
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
 * past its bound, a damaged record, no such member): the file stays a ZIP.
 */

/** Largest central directory read (a 1,000-slide deck's is a few hundred KiB). */
export const ZIP_TYPE_MAX_DIRECTORY_BYTES = 1024 * 1024;
/** Largest `[Content_Types].xml` / `mimetype` inflated (real ones are a few KiB). */
export const ZIP_TYPE_MAX_MEMBER_BYTES = 256 * 1024;

const CENTRAL_SIGNATURE = 0x02014b50;
const LOCAL_SIGNATURE = 0x04034b50;
/**
 * Members that name a ZIP-based type, most decisive first: an Android package
 * also has a Java manifest, so classes.dex (an APK to file-type) wins over
 * META-INF/MANIFEST.MF (a JAR), and an AndroidManifest.xml without code (a
 * resource split) leaves the file a ZIP rather than a JAR. The content-types
 * and mimetype members are read; the others name their type by their
 * presence, as file-type takes them. classes2.dex… count as classes.dex.
 */
const NAMING_MEMBERS: readonly string[] = ['classes.dex', 'AndroidManifest.xml', '[Content_Types].xml', 'mimetype', 'META-INF/mozilla.rsa', 'META-INF/MANIFEST.MF'];
const READ_MEMBERS: ReadonlySet<string> = new Set(['[Content_Types].xml', 'mimetype']);

type Found = { ext: string; mime: string };

export async function zipDocumentFromDirectory(
  source: RandomAccessSource,
  fileTypeOf: (head: Buffer) => Promise<Found | null>,
  options: { abortSignal?: AbortSignal } = {},
): Promise<Found | null> {
  const tailOffset = Math.max(0, source.size - LIMITS.identifyTailBytes);
  const tail = await source.read(tailOffset, source.size - tailOffset, options);
  const zip = zipDirectoryAtEnd(tail, tailOffset, source.size);
  // Only a ZIP whose offsets count from the file's start: what file-type saw at byte 0 is this archive.
  if (!zip || zip.archiveStart !== 0) return null;
  const eocd = tail.subarray(zip.eocdOffset - tailOffset);
  const cdSize = eocd.readUInt32LE(12);
  const cdOffset = eocd.readUInt32LE(16);
  if (cdSize === 0xffffffff || cdOffset === 0xffffffff || cdSize > ZIP_TYPE_MAX_DIRECTORY_BYTES) return null;
  const directory = cdOffset >= tailOffset ? tail.subarray(cdOffset - tailOffset, cdOffset - tailOffset + cdSize) : await source.read(cdOffset, cdSize, options);
  if (directory.length !== cdSize) return null;

  type Member = { name: string; method: number; compressed: number; size: number; local: number };
  const found = new Map<string, Member>();
  for (let at = 0; at + 46 <= directory.length; ) {
    if (directory.readUInt32LE(at) !== CENTRAL_SIGNATURE) return null;
    const nameLength = directory.readUInt16LE(at + 28);
    const next = at + 46 + nameLength + directory.readUInt16LE(at + 30) + directory.readUInt16LE(at + 32);
    if (next > directory.length) return null;
    const recorded = directory.toString('latin1', at + 46, at + 46 + nameLength);
    const name = /^classes\d*\.dex$/.test(recorded) ? 'classes.dex' : recorded;
    if (NAMING_MEMBERS.includes(name) && !found.has(name)) {
      found.set(name, { name, method: directory.readUInt16LE(at + 10), compressed: directory.readUInt32LE(at + 20), size: directory.readUInt32LE(at + 24), local: directory.readUInt32LE(at + 42) });
    }
    at = next;
  }
  const member = NAMING_MEMBERS.map((name) => found.get(name)).find((m) => m !== undefined);
  if (!member || member.name === 'AndroidManifest.xml') return null;
  let content: Buffer = Buffer.alloc(0);
  if (READ_MEMBERS.has(member.name)) {
    const { name, method, compressed, size, local } = member;
    if (compressed > ZIP_TYPE_MAX_MEMBER_BYTES || size > ZIP_TYPE_MAX_MEMBER_BYTES || (method !== 0 && method !== 8)) return null;
    const read = await memberContent(source, local, name, method, compressed, size, options);
    if (read === null) return null;
    content = read;
  }
  const type = await fileTypeOf(storedZipMember(member.name, content));
  return type && type.ext !== 'zip' ? type : null;
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
  if (local + 30 > source.size) return null;
  const header = await source.read(local, 30, options);
  if (header.length < 30 || header.readUInt32LE(0) !== LOCAL_SIGNATURE) return null;
  const nameLength = header.readUInt16LE(26);
  const dataAt = local + 30 + nameLength + header.readUInt16LE(28);
  if (dataAt + compressed > source.size) return null;
  const localName = (await source.read(local + 30, nameLength, options)).toString('latin1');
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
