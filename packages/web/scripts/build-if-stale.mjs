// Builds the review app (vite build) unless dist/ is newer than every source:
// `npm start` and the browser tests call it, so a fresh clone or an edited
// source is built once and an unchanged one costs nothing.
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
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
  // Where npm put vite (hoisted to the root, or under this workspace); its bin is not an export.
  const vite = [path.join(WEB, 'node_modules/vite/bin/vite.js'), path.join(WEB, '../../node_modules/vite/bin/vite.js')].find((f) => existsSync(f));
  if (!vite) throw new Error('vite is not installed: run npm install');
  execFileSync(process.execPath, [vite, 'build', '--logLevel', 'warn'], { cwd: WEB, stdio: 'inherit' });
  return true;
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) buildIfStale();
