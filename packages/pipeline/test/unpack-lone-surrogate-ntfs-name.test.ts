import { randomBytes } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { DISK_IMAGE_MIMES } from '@exhibit/core';
import { fls, hasTool } from './fixtures/disk/tsk-oracle.js';
import { allTargets } from '../../index/test/targets.js';
import { addArchive, createHarness, sha256, unpackStage, type Harness } from './fixtures/archives/unpack-harness.js';

/**
 * Regression lone-surrogate-ntfs-name-refused: NTFS names are any 16-bit code units, so a name can
 * hold an unpaired surrogate. Before, the members' batch went to the index as JSON with `\ud800`,
 * which jsonb refused (every member of the image lost); as a plain text parameter it would have
 * been U+FFFD, and the two names below one name. Now each is recorded with the visible escape
 * `\u{d800}` / `\u{dc00}`, flagged odd-name.
 *
 * The image: mkntfs + ntfscp `xHy.txt` and `xLy.txt`, then the UTF-16 `H` / `L` replaced by 0xD800 /
 * 0xDC00 wherever the name is stored (the file's MFT record and the root's index), away from the
 * two bytes per sector the update sequence covers, so no fixup changes. The Sleuth Kit is lossy
 * here: `fls` prints `x^.txt` for `x<D800>y.txt` (the surrogate and the `y` after it become one
 * `^`) and `x^y.txt` for `x<DC00>y.txt`.
 */

const haveTools = hasTool('mkntfs', ['--version']) && hasTool('ntfscp', ['--version']) && hasTool('fls');

describe.skipIf(!haveTools)('NTFS names with a lone surrogate (regression lone-surrogate-ntfs-name-refused)', () => {
  let dir = '';
  let image: Buffer;

  beforeAll(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'exhibit-lone-surrogate-ntfs-'));
    const img = path.join(dir, 'disk.img');
    writeFileSync(img, '');
    truncateSync(img, 8 * 1024 * 1024);
    execFileSync('mkntfs', ['-q', '-F', '-f', img], { stdio: 'ignore' });
    for (const [name, text] of [['xHy.txt', 'high surrogate'], ['xLy.txt', 'low surrogate']] as const) {
      writeFileSync(path.join(dir, name), text);
      execFileSync('ntfscp', ['-q', img, path.join(dir, name), name], { stdio: 'ignore' });
    }
    const b = readFileSync(img);
    for (const [name, unit] of [['xHy.txt', 0xd800], ['xLy.txt', 0xdc00]] as const) {
      const needle = Buffer.from(name, 'utf16le');
      let found = 0;
      for (let at = b.indexOf(needle); at !== -1; at = b.indexOf(needle, at + 1)) {
        // The last two bytes of each sector hold the update sequence number; the real ones are in the fixup array.
        expect((at + 2) % 512, `${name} at ${at}`).toBeLessThan(510);
        b.writeUInt16LE(unit, at + 2);
        found += 1;
      }
      expect(found, name).toBeGreaterThanOrEqual(2);
    }
    writeFileSync(img, b);
    expect(fls(img).map((l) => l.path)).toEqual(expect.arrayContaining(['x^.txt', 'x^y.txt']));
    image = b;
  }, 120_000);

  afterAll(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  describe.each(allTargets().filter((t) => t.name !== 'pglite (disk)'))('index on $name', (target) => {
    let h: Harness;
    beforeAll(async () => {
      h = await createHarness(inject('storageConnectionString'), await target.create());
    }, 60_000);
    afterAll(async () => {
      await h?.close();
      await target.dispose();
    });

    it('records both names, distinct and visibly escaped, flagged odd-name, never U+FFFD', async () => {
      const evidenceId = `ev-${randomBytes(4).toString('hex')}`;
      const first = await addArchive(h, 'disk.img', image, { mime: DISK_IMAGE_MIMES.raw, evidenceId });
      const outcome = await unpackStage(h.deps, first, h.ctx);
      // Before: jsonb refused the members' batch ("Unicode low surrogate must follow a high surrogate").
      expect(outcome, JSON.stringify(outcome).slice(0, 400)).toMatchObject({ status: 'done' });
      const members = await h.index.listChildren(first.fileId);
      const byName = new Map(members.map((m) => [m.recordedName, m]));
      const high = byName.get('x\\u{d800}y.txt');
      const low = byName.get('x\\u{dc00}y.txt');
      expect(high, [...byName.keys()].join(', ')).toMatchObject({ name: 'x\\u{d800}y.txt', path: 'disk.img!/x\\u{d800}y.txt', sha256: sha256('high surrogate') });
      expect(low).toMatchObject({ name: 'x\\u{dc00}y.txt', sha256: sha256('low surrogate') });
      for (const m of [high!, low!]) {
        expect(m.flags).toContain('odd-name');
        expect(m.flags).not.toContain('duplicate-name');
      }
      expect(members.some((m) => m.recordedName.includes('\ufffd') || m.path.includes('\ufffd'))).toBe(false);
    }, 180_000);
  });
});
