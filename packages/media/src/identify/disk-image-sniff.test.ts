import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { DISK_IMAGE_MIMES } from '@exhibit/core';
import { BufferSource } from '../test-support/buffer.source.js';
import { FileTypeIdentifier } from './file-type.identifier.js';

/**
 * Disk images are recognised from their content, whatever their names: an
 * EWF, EWF 2 or VHDX signature, a VHD footer, a partition table, a file
 * system's boot sector or superblock, built here with the real tools where
 * there is one. They are kind 'archive' (unpacked into their files).
 */
const identifier = new FileTypeIdentifier();
const identify = (bytes: Buffer, name = 'evidence.bin') => identifier.identify(new BufferSource(bytes, name));
const has = (tool: string) => spawnSync('sh', ['-c', `command -v ${tool}`]).status === 0;
const work = mkdtempSync(path.join(tmpdir(), 'exhibit-disk-sniff-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

function withSignature(signature: number[], size = 8192): Buffer {
  const bytes = Buffer.alloc(size);
  Buffer.from(signature).copy(bytes);
  return bytes;
}

describe('disk images identified from content', () => {
  it('EWF (E01), EWF 2 (Ex01) and VHDX by their signatures', async () => {
    await expect(identify(withSignature([0x45, 0x56, 0x46, 0x09, 0x0d, 0x0a, 0xff, 0x00]))).resolves.toMatchObject({ mime: DISK_IMAGE_MIMES.ewf, detectedExt: 'e01', kind: 'archive' });
    await expect(identify(withSignature([0x45, 0x56, 0x46, 0x32, 0x0d, 0x0a, 0x81, 0x00]))).resolves.toMatchObject({ mime: DISK_IMAGE_MIMES.ewf2, detectedExt: 'ex01', kind: 'archive' });
    await expect(identify(withSignature([...Buffer.from('vhdxfile')]))).resolves.toMatchObject({ mime: DISK_IMAGE_MIMES.vhdx, kind: 'archive' });
  });

  it('a fixed VHD by the conectix footer at its end', async () => {
    const vhd = Buffer.alloc(64 * 1024);
    vhd.write('conectix', vhd.length - 512, 'latin1');
    await expect(identify(vhd, 'disk.vhd')).resolves.toMatchObject({ mime: DISK_IMAGE_MIMES.vhd, detectedExt: 'vhd', kind: 'archive' });
  });

  it('an MBR with a partition, and a GPT', async () => {
    const mbr = Buffer.alloc(64 * 1024);
    mbr[446 + 4] = 0x0c;
    mbr.writeUInt32LE(2048, 446 + 8);
    mbr.writeUInt32LE(4096, 446 + 12);
    mbr[510] = 0x55;
    mbr[511] = 0xaa;
    await expect(identify(mbr, 'card.dd')).resolves.toMatchObject({ mime: DISK_IMAGE_MIMES.raw, detectedExt: 'img', kind: 'archive', findings: [] });
    const gpt = Buffer.from(mbr);
    gpt.write('EFI PART', 512, 'latin1');
    await expect(identify(gpt)).resolves.toMatchObject({ mime: DISK_IMAGE_MIMES.raw });
    // A boot signature with an impossible table (a boot flag of 0x42) is not a disk.
    const notMbr = Buffer.from(mbr);
    notMbr[446] = 0x42;
    await expect(identify(notMbr)).resolves.toMatchObject({ mime: null, kind: 'other' });
  });

  it.skipIf(!has('mkfs.fat'))('a FAT volume with no partition table (mkfs.fat)', async () => {
    const img = path.join(work, 'fat.img');
    execFileSync('mkfs.fat', ['-C', '-F', '16', '-s', '1', img, '8192'], { stdio: 'ignore' });
    await expect(identify(readFileSync(img), 'stick.001')).resolves.toMatchObject({ mime: DISK_IMAGE_MIMES.raw, kind: 'archive' });
    expect(identifier.extensionMismatch('stick.001', { mime: DISK_IMAGE_MIMES.raw, detectedExt: 'img', kind: 'archive' })).toBe(false);
  });

  it.skipIf(!has('mke2fs'))('an ext4 volume (mke2fs)', async () => {
    const img = path.join(work, 'ext4.img');
    execFileSync('mke2fs', ['-q', '-F', '-t', 'ext4', img, '2M'], { stdio: 'ignore' });
    await expect(identify(readFileSync(img))).resolves.toMatchObject({ mime: DISK_IMAGE_MIMES.raw, kind: 'archive' });
  });

  it('zeros are not a disk image', async () => {
    await expect(identify(Buffer.alloc(64 * 1024))).resolves.toMatchObject({ mime: null, kind: 'other' });
  });
});
