import yauzl from 'yauzl';
import yazl from 'yazl';

/** Where a member's bytes lie in the archive. */
export interface StoredMember {
  name: string;
  /** Offset of the member's data (after its local header) in the archive. */
  start: number;
  size: number;
}

/**
 * A ZIP whose members are all STORED (uncompressed), with the offset of each
 * member's data as yauzl reads it from the local header, so a test can treat
 * a member as a span of the archive as the pipeline does.
 */
export async function storedZip(members: Array<{ name: string; bytes: Buffer }>): Promise<{ zip: Buffer; members: StoredMember[] }> {
  const writer = new yazl.ZipFile();
  // A fixed time: the archive's bytes, and so the offsets, do not depend on the clock.
  for (const m of members) writer.addBuffer(m.bytes, m.name, { compress: false, mtime: new Date(Date.UTC(2024, 0, 1)) });
  writer.end();
  const chunks: Buffer[] = [];
  for await (const chunk of writer.outputStream) chunks.push(chunk as Buffer);
  const zip = Buffer.concat(chunks);

  const reader = await yauzl.fromBufferPromise(zip, { lazyEntries: true });
  const found: StoredMember[] = [];
  try {
    for await (const entry of reader.eachEntry()) {
      if (entry.compressionMethod !== 0 || entry.compressedSize !== entry.uncompressedSize) throw new Error(`${entry.fileName} is not stored`);
      const { fileDataStart } = await reader.readLocalFileHeaderPromise(entry, { minimal: true });
      found.push({ name: entry.fileName, start: fileDataStart, size: entry.uncompressedSize });
    }
  } finally {
    reader.close();
  }
  for (const [i, m] of found.entries()) {
    if (!zip.subarray(m.start, m.start + m.size).equals(members[i]!.bytes)) throw new Error(`${m.name}: offset does not hold the member`);
  }
  return { zip, members: found };
}
