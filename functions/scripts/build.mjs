// Bundles the Functions app into dist/main.js and its parser-thread modules
// dist/parse.worker.js, dist/disk-image.worker.js and dist/archive.worker.js (the workspace packages are
// TypeScript sources; the bundle is plain ESM). Native and worker-provided
// modules stay external and are installed next to the bundle.
//
// Workspace code that reads files beside its source (`new URL('../migrations/',
// import.meta.url)`) would look in the wrong place once bundled, so each such
// file or folder is copied to assets/<path in the repository> and the URL is
// rewritten to point there. The repository's host.json is copied here too, so
// this folder is a complete Functions app root.
//
// The review app (packages/web) is built first when stale: the runtime serves
// it from `new URL('../../web/dist/', import.meta.url)`, so its build lands in
// assets/packages/web/dist/ like any other file the code reads, and the `site`
// function serves it from the deployment itself.
import { cp, copyFile, readFile, rm } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { buildIfStale } from '../../packages/web/scripts/build-if-stale.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const appRoot = path.resolve(here, '..');
const repoRoot = path.resolve(appRoot, '..');
const assetsDir = path.join(appRoot, 'assets');

const EXTERNAL = [
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

const FILE_URL_RE = /new URL\((['"])(\.\.?\/[^'"]*)\1,\s*import\.meta\.url\)/g;

/** Rewrites source-relative file URLs in workspace packages to the copied assets. */
const sourceAssets = {
  name: 'source-assets',
  setup(b) {
    const copies = new Map();
    b.onLoad({ filter: /[\\/]packages[\\/][^\\/]+[\\/]src[\\/].*\.ts$/ }, async (args) => {
      const source = await readFile(args.path, 'utf8');
      if (!source.includes('import.meta.url')) return undefined;
      const contents = source.replace(FILE_URL_RE, (_match, _quote, relative) => {
        const target = path.resolve(path.dirname(args.path), relative);
        const inRepo = path.relative(repoRoot, target);
        if (inRepo.startsWith('..')) throw new Error(`${args.path} reads ${relative}, outside the repository`);
        copies.set(target, path.join(assetsDir, inRepo));
        const fromApp = `assets/${inRepo.split(path.sep).join('/')}${relative.endsWith('/') ? '/' : ''}`;
        return `new URL(${JSON.stringify(fromApp)}, new URL('../', import.meta.url))`;
      });
      return { contents, loader: 'ts' };
    });
    b.onEnd(async () => {
      for (const [from, to] of copies) await cp(from, to, { recursive: true });
    });
  },
};

buildIfStale();
await rm(path.join(appRoot, 'dist'), { recursive: true, force: true });
await rm(assetsDir, { recursive: true, force: true });
await build({
  // The parser threads' modules are their own entries (packages/media/src/sandbox/parse.pool.ts
  // starts dist/parse.worker.js, packages/pipeline/src/disk/disk-image.pool.ts dist/disk-image.worker.js,
  // packages/pipeline/src/archive/archive.pool.ts dist/archive.worker.js, packages/media/src/thumbnail/heic.pool.ts
  // dist/heic.worker.js, beside main.js, when not running from sources).
  entryPoints: {
    main: path.join(appRoot, 'src/main.ts'),
    'parse.worker': path.join(repoRoot, 'packages/media/src/sandbox/parse.worker.ts'),
    'disk-image.worker': path.join(repoRoot, 'packages/pipeline/src/disk/disk-image.worker.ts'),
    'archive.worker': path.join(repoRoot, 'packages/pipeline/src/archive/archive.worker.ts'),
    'heic.worker': path.join(repoRoot, 'packages/media/src/thumbnail/heic.worker.ts'),
  },
  outdir: path.join(appRoot, 'dist'),
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node20',
  sourcemap: 'linked',
  external: EXTERNAL,
  plugins: [sourceAssets],
  // CommonJS dependencies inside an ESM bundle still call require().
  banner: { js: "import { createRequire as __exhibitCreateRequire } from 'node:module'; const require = __exhibitCreateRequire(import.meta.url);" },
  logLevel: 'warning',
});
await copyFile(path.join(repoRoot, 'host.json'), path.join(appRoot, 'host.json'));
console.log('built dist/main.js, dist/parse.worker.js, dist/disk-image.worker.js, dist/archive.worker.js and dist/heic.worker.js, copied assets/ (with the review app) and host.json');
