// Bundles the Functions app into dist/main.js (the workspace packages are
// TypeScript sources; the bundle is plain ESM). Native and worker-provided
// modules stay external and are installed next to the bundle. Copies the
// repository's host.json here so this folder is a complete app root.
import { copyFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import path from 'node:path';
import { build } from 'esbuild';

const here = path.dirname(fileURLToPath(import.meta.url));
const appRoot = path.resolve(here, '..');

export const EXTERNAL = [
  '@azure/functions',
  '@azure/functions-core',
  'sharp',
  '@electric-sql/pglite',
  '@ffmpeg-installer/ffmpeg',
  '@ffprobe-installer/ffprobe',
  'heic-decode',
  'libheif-js',
  'pg-native',
];

await build({
  entryPoints: [path.join(appRoot, 'src/main.ts')],
  outfile: path.join(appRoot, 'dist/main.js'),
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node20',
  sourcemap: 'linked',
  external: EXTERNAL,
  // CommonJS dependencies inside an ESM bundle still call require().
  banner: { js: "import { createRequire as __exhibitCreateRequire } from 'node:module'; const require = __exhibitCreateRequire(import.meta.url);" },
  logLevel: 'warning',
});
await copyFile(path.resolve(appRoot, '../host.json'), path.join(appRoot, 'host.json'));
console.log('built dist/main.js and copied host.json');
