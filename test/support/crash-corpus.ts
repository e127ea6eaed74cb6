import sharp from 'sharp';
import yazl from 'yazl';
import type { ApiClient } from './e2e-client.js';

/**
 * Photos and a phone-style ZIP for the crash tests (host and Azurite killed
 * mid-run): every photo's pixels differ, so every member has its own content
 * and a lost or duplicated one shows.
 */
export async function crashPhoto(i: number, size: { width: number; height: number }): Promise<Buffer> {
  const { width, height } = size;
  const raw = Buffer.alloc(width * height * 3);
  for (let p = 0; p < raw.length; p += 3) {
    const x = (p / 3) % width;
    const y = Math.floor(p / 3 / width);
    raw[p] = (x * (i + 1)) & 0xff;
    raw[p + 1] = (y * 3 + i * 17) & 0xff;
    raw[p + 2] = ((x ^ y) + i) & 0xff;
  }
  return sharp(raw, { raw: { width, height, channels: 3 } }).jpeg({ quality: 80 }).toBuffer();
}

/** A ZIP of the entries; `compress(i)` says which are deflated (copied to derived/) and which stored (read in place). */
export async function crashZip(entries: Array<{ name: string; data: Buffer }>, compress: (i: number) => boolean = () => true): Promise<Buffer> {
  const zip = new yazl.ZipFile();
  entries.forEach((e, i) => zip.addBuffer(e.data, e.name, { mtime: new Date(Date.UTC(2025, 0, 1)), compress: compress(i) }));
  zip.end();
  const chunks: Buffer[] = [];
  for await (const c of zip.outputStream) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

/** Every search hit of one evidence item, page by page, in path order. */
export async function allFilesOf(client: ApiClient, caseId: string, evidenceId: string): Promise<any[]> {
  const listed: any[] = [];
  for (let offset = 0; ; offset += 500) {
    const page = await client.get(`/cases/${caseId}/files?evidenceId=${evidenceId}&limit=500&offset=${offset}&sort=path`);
    listed.push(...page.items);
    if (page.items.length < 500) break;
  }
  return listed;
}
