import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { repoRoot } from './bicep.js';

/**
 * A brand-new machine has only what .ci/run installs: a test that calls a system tool
 * missing from that list skips (or, once, crashed collection) on CI. docs/validation.md
 * is where a developer looks for the list, so the two must not drift apart.
 */
const ciRun = readFileSync(path.join(repoRoot, '.ci/run'), 'utf8');
const validationDoc = readFileSync(path.join(repoRoot, 'docs/validation.md'), 'utf8');

function ciPackages(): string[] {
  const block = /DEBIAN_PACKAGES=\(([\s\S]*?)\n\)/.exec(ciRun);
  if (!block) throw new Error('.ci/run has no DEBIAN_PACKAGES=( … ) list');
  return block[1]!
    .split('\n')
    .map((line) => line.replace(/#.*$/, '').trim())
    .filter((line) => line.length > 0)
    .sort();
}

function documentedPackages(): string[] {
  const start = validationDoc.indexOf('### System packages the tests use');
  if (start === -1) throw new Error('docs/validation.md has no "System packages the tests use" section');
  const section = validationDoc.slice(start, validationDoc.indexOf('\n#', start + 1));
  return [...section.matchAll(/^\| `([a-z0-9.+-]+)` \|/gm)].map((m) => m[1]!).sort();
}

/** Tests, test support, samples and validator sources: where a system tool may be spawned. */
function sourcesThatRunTools(): string[] {
  const out: string[] = [];
  const walk = (dir: string, all: boolean) => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      if (entry.name === 'node_modules' || entry.name.startsWith('.')) continue;
      const full = path.join(dir, entry.name);
      if (entry.isDirectory()) walk(full, all || entry.name === 'test' || entry.name === 'test-support');
      else if (/\.(ts|mjs|sh)$/.test(entry.name) && (all || /\.test\.ts$/.test(entry.name))) out.push(full);
    }
  };
  walk(path.join(repoRoot, 'test'), true);
  walk(path.join(repoRoot, 'samples'), true);
  walk(path.join(repoRoot, 'packages'), false);
  return out;
}

describe('.ci/run system packages', () => {
  it('installs exactly the packages docs/validation.md lists', () => {
    expect(ciPackages().length).toBeGreaterThan(0);
    expect(ciPackages()).toEqual(documentedPackages());
  });

  it('installs every package whose command a test or script calls', () => {
    // The system commands the repository spawns, by the Debian package that ships them. A new
    // tool a test starts to call belongs here and in DEBIAN_PACKAGES.
    const shippedBy: Record<string, string> = {
      'heif-enc': 'libheif-examples',
      exiftool: 'libimage-exiftool-perl',
      ffprobe: 'ffmpeg',
      fls: 'sleuthkit',
      icat: 'sleuthkit',
      istat: 'sleuthkit',
      mmls: 'sleuthkit',
      fsstat: 'sleuthkit',
      ewfacquire: 'ewf-tools',
      ewfinfo: 'ewf-tools',
      ewfverify: 'ewf-tools',
      'mkfs.fat': 'dosfstools',
      'mkfs.exfat': 'exfatprogs',
      mcopy: 'mtools',
      mmd: 'mtools',
      mdel: 'mtools',
      mdeltree: 'mtools',
      mlabel: 'mtools',
      mtools: 'mtools',
      mkntfs: 'ntfs-3g',
      mke2fs: 'e2fsprogs',
      debugfs: 'e2fsprogs',
      chromium: 'chromium',
      openssl: 'openssl',
      vipsthumbnail: 'libvips-tools',
      hashdeep: 'hashdeep',
      sqlite3: 'sqlite3',
      file: 'file',
    };
    const called = new Set<string>();
    for (const file of sourcesThatRunTools().filter((f) => !f.endsWith('ci-packages.test.ts'))) {
      const text = readFileSync(file, 'utf8');
      // TypeScript spawns a tool by a quoted name; a shell script names it as a word at the start of a command.
      // 'file' is also an ordinary word in quotes (a field, a kind): it counts only as the first argument of a spawn.
      const call = (command: string) => (file.endsWith('.sh') ? new RegExp(`(^|[\\s;|&(])${command}(\\s|$)`, 'm')
        : command === 'file' ? /\b(spawn|spawnSync|execFile|execFileSync)\(\s*['"`]file['"`]/ : new RegExp(`['"\`]${command}['"\`]`));
      for (const command of Object.keys(shippedBy)) if (call(command).test(text)) called.add(command);
    }
    expect([...called].sort()).toEqual(Object.keys(shippedBy).sort());
    for (const command of called) {
      expect({ command, installed: ciPackages().includes(shippedBy[command]!) }).toEqual({ command, installed: true });
    }
  });
});
