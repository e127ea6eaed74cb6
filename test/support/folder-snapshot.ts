import { createHash } from 'node:crypto';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';

/**
 * Every file and folder under `dir` with its size, mtime and content hash, one
 * line each, in a fixed order: two snapshots are equal only if nobody wrote,
 * created, removed or touched anything in between.
 */
export function folderSnapshot(dir: string): string {
  const lines: string[] = [];
  const walk = (d: string) => {
    for (const name of readdirSync(d).sort()) {
      const p = path.join(d, name);
      const st = statSync(p);
      if (st.isDirectory()) {
        lines.push(`${p}/ ${st.mtimeMs}`);
        walk(p);
      } else {
        lines.push(`${p} ${st.size} ${st.mtimeMs} ${createHash('sha256').update(readFileSync(p)).digest('hex')}`);
      }
    }
  };
  lines.push(`${dir}/ ${statSync(dir).mtimeMs}`);
  walk(dir);
  return lines.join('\n');
}
