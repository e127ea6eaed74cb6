import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hasTool, listAll } from '../../test/fixtures/disk/tsk-oracle.js';
import { open } from './ext.reader.js';
import { openFileByteSource } from './file-byte-source.js';
import { recordedLinkTarget } from './link-target.js';

const haveTools = hasTool('mke2fs') && hasTool('istat');

let work: string;
beforeAll(() => {
  work = mkdtempSync(path.join(tmpdir(), 'exhibit-link-target-'));
});
afterAll(() => rmSync(work, { recursive: true, force: true }));

describe.skipIf(!haveTools)('ext-symlink-target-not-utf8-read-as-replacement-char', () => {
  it('a Latin-1 symlink target keeps each byte (U+DC00 + byte, as names); before, "caf\\ufffd" for both targets', async () => {
    const tree = path.join(work, 'tree');
    mkdirSync(tree);
    // A target is any bytes: links made on an old system or a non-UTF-8 mount hold Latin-1.
    symlinkSync(Buffer.from([0x63, 0x61, 0x66, 0xe9]), path.join(tree, 'to-e-acute'));
    symlinkSync(Buffer.from([0x63, 0x61, 0x66, 0xe8]), path.join(tree, 'to-e-grave'));
    symlinkSync(Buffer.from('utf8 é/ok', 'utf8'), path.join(tree, 'to-utf8'));
    const image = path.join(work, 'links.img');
    execFileSync('mke2fs', ['-q', '-F', '-t', 'ext4', '-b', '1024', '-d', tree, image, '4M']);
    const source = await openFileByteSource(image);
    const targets = new Map<string, string | undefined>();
    const ids = new Map<string, string>();
    try {
      for (const { entry } of await listAll(await open(source), false)) {
        if (entry.kind !== 'symlink') continue;
        targets.set(entry.path, await recordedLinkTarget(entry));
        ids.set(entry.path, entry.entryId);
      }
    } finally {
      await source.close();
    }
    expect(Object.fromEntries(targets)).toEqual({ 'to-e-acute': 'caf\udce9', 'to-e-grave': 'caf\udce8', 'to-utf8': 'utf8 é/ok' });
    // The bytes istat prints as the target are the bytes the escape gives back.
    const raw = (text: string) => Buffer.concat([...text].map((c) => (c >= '\udc80' && c <= '\udcff' ? Buffer.from([c.charCodeAt(0) - 0xdc00]) : Buffer.from(c, 'utf8'))));
    for (const [name, target] of targets) {
      const stat = execFileSync('istat', [image, ids.get(name)!]);
      const line = /symbolic link to: ([^\n]*)\n/.exec(stat.toString('latin1'))![1]!;
      expect({ name, bytes: raw(target!).toString('hex') }).toEqual({ name, bytes: Buffer.from(line, 'latin1').toString('hex') });
    }
  });
});
