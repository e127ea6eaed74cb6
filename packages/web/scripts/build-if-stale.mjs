// Builds the review app (vite build) unless dist/ is newer than every source:
// `npm start` and the browser tests call it, so a fresh clone or an edited
// source is built once and an unchanged one costs nothing.
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const WEB = fileURLToPath(new URL('..', import.meta.url));

function newest(dir) {
  let t = 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const full = path.join(dir, e.name);
    t = Math.max(t, e.isDirectory() ? newest(full) : statSync(full).mtimeMs);
  }
  return t;
}

export function buildIfStale() {
  const index = path.join(WEB, 'dist', 'index.html');
  const sources = Math.max(newest(path.join(WEB, 'src')), ...['index.html', 'vite.config.ts', 'package.json'].map((f) => statSync(path.join(WEB, f)).mtimeMs));
  if (existsSync(index) && statSync(index).mtimeMs >= sources) return false;
  const vite = createRequire(path.join(WEB, 'package.json')).resolve('vite/bin/vite.js');
  execFileSync(process.execPath, [vite, 'build', '--logLevel', 'warn'], { cwd: WEB, stdio: 'inherit' });
  return true;
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) buildIfStale();
