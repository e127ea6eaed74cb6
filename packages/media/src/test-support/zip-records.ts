/**
 * Hand-built ZIP records for tests that need bytes no ZIP writer makes (a
 * member whose data is itself a whole ZIP, an archive cut short, entries
 * without a directory). One builder, so the identification tests
 * (packages/media) and the ZIP reader's tests (packages/pipeline) describe the
 * same bytes the same way. No imports: pipeline tests load it without sharp.
 */

/**
 * A STORED member as it lies in the archive: its 30-byte local file header
 * (version 20, no flags, no time, CRC 0, both sizes the data's length), its
 * UTF-8 name, then its data. CRC 0 is what the tests want: they are about where
 * records are, not whether a member's bytes check.
 */
export function storedLocalEntry(name: string, data: Buffer): Buffer {
  const nameBytes = Buffer.from(name, 'utf8');
  const header = Buffer.alloc(30);
  header.writeUInt32LE(0x04034b50, 0);
  header.writeUInt16LE(20, 4);
  header.writeUInt32LE(data.length, 18);
  header.writeUInt32LE(data.length, 22);
  header.writeUInt16LE(nameBytes.length, 26);
  return Buffer.concat([header, nameBytes, data]);
}
