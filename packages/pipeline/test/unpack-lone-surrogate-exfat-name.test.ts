import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { DISK_IMAGE_MIMES } from '@exhibit/core';
import { fls, missingTools, run } from '../src/disk/test-support/disk-image.builder.js';
import { addExfatFiles } from '../src/disk/test-support/exfat-image.builder.js';
import { allTargets } from '../../index/test/targets.js';
import { addArchive, createHarness, sha256, unpackStage, type Harness } from './fixtures/archives/unpack-harness.js';

/**
 * Regression lone-surrogate-exfat-name-refused: exFAT (like NTFS and FAT long names) stores names
 * as arbitrary UTF-16 code units, so a name can hold an unpaired surrogate. The reader kept it, the
 * entry name analysis did not see it as unsafe, and the members' batch went to the index as JSON
 * with `\ud800`, which jsonb refused: every member of the image was lost. (Had it been a plain text
 * parameter, the driver would have stored U+FFFD and the two names below would have become one.)
 * Now the recorded name keeps the code unit as the visible escape `\u{d800}`, the display path
 * escapes it like any unsafe character, and the entry is flagged odd-name.
 *
 * The Sleuth Kit is lossy here: `fls` prints `x^txt` for `x<D800>.txt` (the unpaired high
 * surrogate and the `.` after it become one `^`) and `x^.txt` for `x<DC00>.txt`.
 */

const missing = missingTools();

describe.skipIf(missing.length > 0)('exFAT names with a lone surrogate (regression lone-surrogate-exfat-name-refused)', () => {
  let dir = '';
  let image: Buffer;

  beforeAll(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'exhibit-lone-surrogate-exfat-'));
    const img = path.join(dir, 'card.img');
    writeFileSync(img, Buffer.alloc(4 * 1024 * 1024));
    run('mkfs.exfat', [img]);
    addExfatFiles(img, [
      { path: 'x\ud800.txt', data: Buffer.from('high surrogate') },
      { path: 'x\udc00.txt', data: Buffer.from('low surrogate') },
      { path: 'plain.txt', data: Buffer.from('plain') },
    ]);
    // The independent reader sees three files (and shows the odd two lossily).
    const names = fls([img]).map((e) => e.path);
    expect(names).toEqual(expect.arrayContaining(['x^txt', 'x^.txt', 'plain.txt']));
    image = readFileSync(img);
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

    it('records both names, distinct and visibly escaped, flagged odd-name, with their own bytes', async () => {
      const evidenceId = `ev-${randomBytes(4).toString('hex')}`;
      const first = await addArchive(h, 'card.img', image, { mime: DISK_IMAGE_MIMES.raw, evidenceId });
      const outcome = await unpackStage(h.deps, first, h.ctx);
      // Before: jsonb refused the members' batch ("Unicode low surrogate must follow a high surrogate").
      expect(outcome, JSON.stringify(outcome).slice(0, 400)).toMatchObject({ status: 'done' });
      const members = await h.index.listChildren(first.fileId);
      const byName = new Map(members.map((m) => [m.recordedName, m]));
      const high = byName.get('x\\u{d800}.txt');
      const low = byName.get('x\\u{dc00}.txt');
      expect(high, [...byName.keys()].join(', ')).toMatchObject({ name: 'x\\u{d800}.txt', extension: 'txt', size: 14 });
      expect(low).toMatchObject({ name: 'x\\u{dc00}.txt', extension: 'txt', size: 13 });
      expect(high!.sha256).toBe(sha256('high surrogate'));
      expect(low!.sha256).toBe(sha256('low surrogate'));
      expect(high!.path).toBe('card.img!/x\\u{d800}.txt');
      expect(high!.flags).toContain('odd-name');
      expect(low!.flags).toContain('odd-name');
      expect(high!.flags).not.toContain('duplicate-name');
      expect(low!.flags).not.toContain('duplicate-name');
      expect(byName.get('plain.txt')!.flags).not.toContain('odd-name');
      expect(members.some((m) => m.recordedName.includes('\ufffd') || m.path.includes('\ufffd'))).toBe(false);
    }, 180_000);
  });
});
