import { open } from 'node:fs/promises';
import { openDiskImageReader } from './packages/pipeline/src/disk/disk-image.reader.js';
const file = process.argv[2]!;
const h = await open(file, 'r');
const size = (await h.stat()).size;
let bytes = 0;
const blobs = { readRange: async (_b: unknown, offset: number, length: number) => { bytes += length; const b = Buffer.alloc(length); await h.read(b, 0, length, offset); return b; } } as any;
const reader = await openDiskImageReader(blobs, { container: 'e', name: 'card.E01' }, size, { size, maxEntryNameBytes: 1024 });
let t = performance.now();
let files = 0, fileBytes = 0;
for await (const e of reader.entries()) {
  if (e.kind !== 'file') continue;
  const s = await e.open();
  for await (const c of s) fileBytes += (c as Buffer).length;
  files += 1;
}
const list = { ms: Math.round(performance.now() - t), blobBytes: bytes, files, fileBytes };
bytes = 0; t = performance.now();
const check = await reader.verify();
const verify = { ms: Math.round(performance.now() - t), blobBytes: bytes, md5: check.md5Matches, sha1: check.sha1Matches };
console.log(JSON.stringify({ imageBytes: size, mediaBytes: reader.image.mediaBytes, list, verify }));
process.exit(0);
