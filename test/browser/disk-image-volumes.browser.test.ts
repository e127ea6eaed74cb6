import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Browser, BrowserContext, Locator, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hasTool, mbrSector, pseudoRandom, run, SECTOR, writeAt } from '../../packages/pipeline/src/disk/test-support/disk-image.builder.js';
import { buildExt4, tamperEwfMedia } from '../../packages/pipeline/src/disk/test-support/memory-card.builder.js';
import { findChromium, guardedContext, launchChromium, seriousA11yViolations } from '../support/browser.js';
import { ApiClient, uploadWithPlainClient } from '../support/e2e-client.js';
import { allocateHostEnv, removeHostEnv, startHostProcess, type HostProcess, type HostProcessEnv } from '../support/host-process.js';

/**
 * A disk image's volumes, integrity, problems and notes in the review app (docs/review-app.md, "Disk images"), in
 * Debian's Chromium against the real local host: an 8 MiB MBR disk made here with the real tools — a FAT16 volume
 * whose partition entry is 1 MiB shorter than its file system (a read-past-entry note), an ext4 volume, an entry placed
 * outside the disk (a volume problem) and an entry over zeros (a volume with no file system) — acquired with
 * ewfacquire, uploaded as an examiner would; a copy with one byte of its media changed, whose stored hash fails; and one
 * with that byte changed and its chunk checksum left as acquired (damaged media, not verified).
 */
const CHROMIUM = findChromium();
const TOOLS = ['mkfs.fat', 'mcopy', 'mke2fs', 'ewfacquire'];
const missing = TOOLS.filter((t) => !hasTool(t));
if (!CHROMIUM || missing.length > 0) console.warn(`disk image browser test skipped: needs chromium and ${missing.join(', ')}`);

const CASE = 'DISK-2026-031';
const HEADER = { caseNumber: 'CASE-31', evidenceNumber: 'HDD-1', examiner: 'Examiner Okafor', notes: 'USB disk from the desk drawer', description: 'USB disk' };
const MIB_SECTORS = (1024 * 1024) / SECTOR;
const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');

describe.skipIf(!CHROMIUM || missing.length > 0)('disk images in the review app', () => {
  let dir: string;
  let h: HostProcessEnv;
  let host: HostProcess;
  let browser: Browser;
  let context: BrowserContext;
  let offHost: string[];
  let page: Page;
  let appUrl: string;
  let note = '';

  beforeAll(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'exhibit-disk-web-'));
    // FAT16 of 3 MiB at 1 MiB with a 2 MiB entry; ext4 of 2 MiB at 4 MiB; entry 2 far past the disk; entry 3 over zeros.
    const fat = path.join(dir, 'fat.img');
    run('mkfs.fat', ['-C', '-F', '16', '-s', '1', '-n', 'USBDISK', '-i', '31310001', fat, '3072']);
    const report = path.join(dir, 'REPORT.BIN');
    // Incompressible and unique: the chunk holding it is stored once in the E01, so the copy can change it.
    const reportBytes = pseudoRandom(96 * 1024, 31);
    writeFileSync(report, reportBytes);
    run('mcopy', ['-i', fat, report, '::/REPORT.BIN']);
    const ext = buildExt4(dir, { 'notes/todo.txt': Buffer.from('meet at the harbour\n') }, 2048);
    const raw = path.join(dir, 'usb.img');
    writeFileSync(raw, Buffer.alloc(8 * 1024 * 1024));
    writeAt(raw, 0, mbrSector([
      { type: 0x06, startSector: MIB_SECTORS, sectors: 2 * MIB_SECTORS },
      { type: 0x83, startSector: 4 * MIB_SECTORS, sectors: 2 * MIB_SECTORS },
      { type: 0x83, startSector: 900_000, sectors: MIB_SECTORS },
      { type: 0x07, startSector: 6 * MIB_SECTORS, sectors: MIB_SECTORS },
    ]));
    writeAt(raw, MIB_SECTORS * SECTOR, readFileSync(fat));
    writeAt(raw, 4 * MIB_SECTORS * SECTOR, readFileSync(ext));
    const h0 = HEADER;
    run('ewfacquire', ['-u', '-t', path.join(dir, 'usb'), '-c', 'none', '-C', h0.caseNumber, '-E', h0.evidenceNumber, '-e', h0.examiner, '-N', h0.notes, '-D', h0.description, '-m', 'fixed', '-d', 'sha1', raw]);
    const e01 = path.join(dir, 'usb.E01');
    const copy = path.join(dir, 'usb-copy.E01');
    const at = readFileSync(raw).indexOf(reportBytes) + 100;
    tamperEwfMedia(e01, raw, copy, at);
    // The same byte changed and the chunk's Adler-32 left as acquired: that chunk no longer reads (damaged media).
    const rotten = path.join(dir, 'usb-rotten.E01');
    tamperEwfMedia(e01, raw, rotten, at, undefined, { checksum: 'left-broken' });
    const fatBytes = 3 * 1024 * 1024;
    note = `volume 0: its fat file system declares ${fatBytes} bytes, its partition entry ${2 * 1024 * 1024}`;

    h = await allocateHostEnv();
    host = await startHostProcess(h);
    appUrl = h.apiUrl.replace(/\/api$/, '/');
    for (const [evidenceId, file] of [['EX01', e01], ['EX02', copy], ['EX03', rotten]] as const) {
      const bytes = readFileSync(file);
      await uploadWithPlainClient(h.storageConnectionString, `${CASE}/${evidenceId}/${path.basename(file)}`, bytes, { acquisition_sha256: sha256(bytes) });
    }
    const admin = await ApiClient.login(h, 'e2e-admin', ['admin']);
    await admin.json('POST', `/cases/${CASE}/assignments`, { user: 'erin', role: 'examiner' });
    const erin = await ApiClient.login(h, 'erin', ['examiner']);
    await erin.waitComplete(CASE, ['EX01', 'EX02', 'EX03'], 240_000);

    browser = await launchChromium(CHROMIUM!);
    ({ context, offHost } = await guardedContext(browser));
    page = await context.newPage();
  });

  afterAll(async () => {
    if (host && host.child.exitCode !== null) console.error(`the host exited (${host.child.exitCode}):\n${host.output().slice(-4000)}`);
    await browser?.close();
    await host?.stop();
    if (h) await removeHostEnv(h);
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  async function openCase(): Promise<void> {
    await page.goto(appUrl);
    await page.evaluate(() => (globalThis as any).sessionStorage.clear());
    await page.reload();
    await page.locator('input[name="user"]').fill('erin');
    await page.locator('select[name="role"]').selectOption('examiner');
    await page.getByRole('button', { name: 'Sign in', exact: true }).click();
    await page.getByRole('heading', { name: 'Your cases' }).waitFor();
    await page.goto(`${appUrl}cases/${CASE}`);
  }

  /** The Disk image section of one evidence item, once its status has loaded. */
  async function section(evidenceId: string): Promise<Locator> {
    const item = page.locator(`article[data-evidence="${evidenceId}"]`);
    const s = item.getByRole('region', { name: 'Disk image' });
    await s.waitFor({ timeout: 30_000 });
    return s;
  }

  const cells = (row: Locator) => row.locator('th, td').allInnerTexts();

  it('regression: disk-image-volumes-not-shown-in-review-app — shows the image, its verified stored hash, EWF header, each volume, the problem and the note', async () => {
    await openCase();
    const s = await section('EX01');
    const image = s.getByRole('article', { name: 'usb.E01' });
    await expect.poll(() => image.getByTestId('disk-format').innerText()).toBe('EWF (E01)');
    expect(await image.getByTestId('disk-integrity').getAttribute('data-integrity')).toBe('verified');
    expect(await image.getByTestId('disk-integrity').innerText()).toContain('the hashes stored in the image match the media data read');
    expect(await image.getByTestId('disk-media-damaged').innerText()).toBe('no');

    const header = await image.getByTestId('ewf-header').innerText();
    for (const v of Object.values(HEADER)) expect(header).toContain(v);

    // One row per volume the table places on the disk; the entry outside it is no volume but a problem.
    const table = image.getByRole('table', { name: 'Volumes' });
    const rows = table.locator('tbody tr');
    expect(await rows.count()).toBe(3);
    const fat = await cells(rows.nth(0));
    expect(fat.slice(0, 3)).toEqual(['MBR 0', (1024 * 1024).toLocaleString('en'), '2.0 MiB (2,097,152 B)']);
    expect(fat[4]).toBe('fat16');
    expect(Number(fat[5])).toBeGreaterThan(0);
    const ext = await cells(rows.nth(1));
    expect(ext.slice(0, 2)).toEqual(['MBR 1', (4 * 1024 * 1024).toLocaleString('en')]);
    expect(ext[4]).toBe('ext4');
    expect(Number(ext[5])).toBeGreaterThan(0);
    const zeros = await cells(rows.nth(2));
    expect(zeros[0]).toBe('MBR 3');
    expect(zeros[4]).toBe('not read: no supported file system in volume 3 (type 0x07) (unsupported-format)');
    expect(zeros[5]).toBe('—');
    // Row headers name each row for a screen reader.
    expect(await table.locator('tbody th[scope="row"]').count()).toBe(3);

    const problems = await image.getByTestId('volume-problems').locator('li').allInnerTexts();
    // The problem's code is kept by the pipeline (volumeProblemText) and shown with it.
    expect(problems).toEqual(['MBR 2 (corrupt-file): partition at sector 900000 of 2048 sectors lies outside the 8388608-byte disk']);
    const notes = await image.getByTestId('volume-notes').locator('li').allInnerTexts();
    expect(notes).toHaveLength(1);
    expect(notes[0]).toContain('MBR 0 (read-past-entry): the file system is larger than its partition entry');
    expect(notes[0]).toContain(note);
    // No raw JSON: the stored note's own text ("note read-past-entry:") is not shown as such.
    expect(await s.innerText()).not.toMatch(/[{}]|note read-past-entry:|problem corrupt-file:/);
  });

  it('shows a copy whose media changed after acquisition as a mismatch of the stored hash', async () => {
    const image = (await section('EX02')).getByRole('article', { name: 'usb-copy.E01' });
    await expect.poll(() => image.getByTestId('disk-integrity').getAttribute('data-integrity')).toBe('mismatch');
    expect(await image.getByTestId('disk-integrity').innerText()).toMatch(/^MISMATCH \(sha1\)|^MISMATCH \(md5, sha1\)|^MISMATCH \(md5\)/);
    const hashes = await image.getByRole('table', { name: 'Hashes of the media' }).innerText();
    expect(hashes).toContain('(differs)');
  });

  it('shows a copy whose media fails its acquisition checksum as not verified, with why, and its media as damaged', async () => {
    const image = (await section('EX03')).getByRole('article', { name: 'usb-rotten.E01' });
    await expect.poll(() => image.getByTestId('disk-integrity').getAttribute('data-integrity')).toBe('failed');
    expect(await image.getByTestId('disk-integrity').innerText()).toMatch(/^NOT VERIFIED: the hashes stored in the image could not be checked/);
    expect(await image.getByTestId('disk-integrity-detail').innerText()).toMatch(/^ — the media could not be read whole to check the stored hashes: /);
    expect(await image.getByTestId('disk-media-damaged').innerText()).toMatch(/^yes: the media fails a checksum its acquisition wrote/);
  });

  it('has no serious accessibility violations and loads nothing from elsewhere', async () => {
    expect(await seriousA11yViolations(page)).toEqual([]);
    expect(offHost).toEqual([]);
  });
});
