/**
 * npx tsx test/validate/sample-case.unpack.ts <dir>
 *
 * Writes the bundled sample case (samples/extraction) into <dir> as plain
 * files, every archive member included (nested ZIP and tar.gz too), so that
 * `npm run validate -- <dir>` measures Exhibit on what the pipeline sees.
 * Members of `a.zip` go to `a.zip.d/`. Reads with yauzl and tar-stream
 * (samples/lib/sample.reader.ts), not with Exhibit's own unpacker.
 */
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { SAMPLES_DIR } from '../../samples/generate.js';
import { walkUpload } from '../../samples/lib/sample.reader.js';

/** Returns the files written. */
export async function unpackSampleCase(outDir: string): Promise<string[]> {
  const root = path.join(SAMPLES_DIR, 'extraction');
  const written: string[] = [];
  for (const caseId of await readdir(root)) {
    for (const evidenceId of await readdir(path.join(root, caseId))) {
      for (const upload of await readdir(path.join(root, caseId, evidenceId))) {
        const bytes = await readFile(path.join(root, caseId, evidenceId, upload));
        for (const entry of await walkUpload(upload, bytes)) {
          if (entry.type !== 'file' || !entry.bytes) continue;
          const relative = entry.path.split('!/').join('.d/');
          const target = path.join(outDir, caseId, evidenceId, relative);
          // The sample's names are our own; still, nothing may land outside outDir.
          if (!target.startsWith(path.resolve(outDir) + path.sep)) throw new Error(`refusing to write outside ${outDir}: ${entry.path}`);
          await mkdir(path.dirname(target), { recursive: true });
          await writeFile(target, entry.bytes);
          written.push(target);
        }
      }
    }
  }
  return written;
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const dir = process.argv[2];
  if (!dir) {
    process.stderr.write('usage: npx tsx test/validate/sample-case.unpack.ts <dir>\n');
    process.exit(2);
  }
  const files = await unpackSampleCase(path.resolve(dir));
  process.stdout.write(`wrote ${files.length} files of the sample case to ${dir}\n`);
}
