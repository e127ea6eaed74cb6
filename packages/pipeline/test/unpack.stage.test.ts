import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { inject } from 'vitest';
import { batchMessageIdFor, derivedNames, ExhibitError, filesOf, LIMITS, memberFileId, type FileRecord, type FileWorkMessage } from '@exhibit/core';
import { merkleRoot } from '../src/archive/merkle-root.js';
import { UNPACK_BATCH_SIZE } from '../src/unpack.stage.js';
import {
  breakCentralHeader,
  corruptCrc,
  gzip,
  markEncrypted,
  pseudoRandomBytes,
  replaceBytes,
  tarOf,
  zipOf,
} from './fixtures/archives/archive-fixtures.js';
import { addArchive, createHarness, limitsWith, sha256, unpackStage, type Harness } from './fixtures/archives/unpack-harness.js';

let h: Harness;

beforeAll(async () => {
  h = await createHarness(inject('storageConnectionString'));
});

afterAll(async () => {
  await h?.close();
});

async function unpack(fileName: string, data: Buffer, options: { mime?: string | null } = {}) {
  const archive = await addArchive(h, fileName, data, options);
  const outcome = await unpackStage(h.deps, archive, h.ctx);
  const parent = (await h.index.getFile(archive.fileId))!;
  const members = (await h.index.listChildren(archive.fileId)).sort((a, b) => a.entryIndex! - b.entryIndex!);
  const custody = h.custody.events.filter((e) => e.eventKey === `unpacked:${archive.fileId}`);
  return { archive, outcome, parent, members, custody };
}

function withLimits<T>(overrides: Parameters<typeof limitsWith>[0], fn: () => Promise<T>): Promise<T> {
  h.deps.limits = limitsWith(overrides);
  return fn().finally(() => {
    h.deps.limits = LIMITS;
  });
}

async function blobText(ref: FileRecord['source']): Promise<string> {
  return (await h.deps.blobs.readRange(ref!, 0, 1 << 20)).toString();
}

describe('unpack stage (Azurite + PGlite)', () => {
  it('unpacks a zip: members content-addressed, identify sent, custody with Merkle root, unpack done', async () => {
    const zip = await zipOf([
      { name: 'docs', directory: true },
      { name: 'docs/a.txt', data: Buffer.from('alpha') },
      { name: 'docs/b.txt', data: Buffer.from('beta') },
    ]);
    const { archive, outcome, parent, members, custody } = await unpack('evidence.zip', zip);

    expect(outcome).toMatchObject({ status: 'done', summary: { format: 'zip', memberCount: 3, failedMembers: 0 } });
    expect(parent.unpack).toBe('done');
    expect(parent.memberCount).toBe(3);
    expect(members.map((m) => [m.path, m.entryKind, m.stage, m.depth, m.sha256])).toEqual([
      ['evidence.zip!/docs', 'directory', 'indexed', 1, null],
      ['evidence.zip!/docs/a.txt', 'file', 'pending', 1, sha256('alpha')],
      ['evidence.zip!/docs/b.txt', 'file', 'pending', 1, sha256('beta')],
    ]);
    expect(members.map((m) => m.fileId)).toEqual([0, 1, 2].map((i) => memberFileId(archive.fileId, i)));
    const a = members[1]!;
    expect(a.source).toEqual({ container: h.deps.containers.derived, name: derivedNames.content(sha256('alpha')) });
    expect(await blobText(a.source)).toBe('alpha');
    expect(await h.index.getContent(sha256('alpha'))).toMatchObject({ size: 5, md5: expect.stringMatching(/^[0-9a-f]{32}$/) });
    expect(a).toMatchObject({ name: 'a.txt', extension: 'txt', recordedName: 'docs/a.txt' });
    expect(a.archiveTimes.modified?.source).toBe('zip:extended-timestamp');

    // Handed off together, the two files travel in one batch message with a deterministic id.
    const handedOff = [1, 2].map((i) => memberFileId(archive.fileId, i));
    expect(h.bus.sent.filter((s) => s.queue === 'analyse' && filesOf(s.message.body as FileWorkMessage).some((f) => members.some((m) => m.fileId === f.fileId)))).toEqual([
      {
        queue: 'analyse',
        message: {
          body: { caseId: archive.caseId, evidenceId: archive.evidenceId, fileIds: handedOff },
          messageId: batchMessageIdFor('analyse', handedOff),
          correlationId: `${archive.caseId}/${archive.evidenceId}`,
        },
      },
    ]);
    expect(custody).toHaveLength(1);
    expect(custody[0]).toMatchObject({
      action: 'unpacked',
      subject: { fileId: archive.fileId },
      details: { memberCount: 3, failedMembers: 0, merkleRoot: merkleRoot([sha256('alpha'), sha256('beta')]) },
      tools: expect.arrayContaining([expect.objectContaining({ name: 'yauzl' })]),
    });
  });

  it('member-content-written-one-statement-each: the index statements of an unpack do not grow with its members', async () => {
    const statementsOf = async (name: string, members: number) => {
      const zip = await zipOf(Array.from({ length: members }, (_, i) => ({ name: `${name}/m-${i}.txt`, data: Buffer.from(`${name} member ${i}`) })));
      const archive = await addArchive(h, `${name}.zip`, zip);
      const before = h.statements.statements;
      expect(await unpackStage(h.deps, archive, h.ctx)).toMatchObject({ status: 'done', summary: { memberCount: members } });
      const spent = h.statements.statements - before;
      // Every member's content is recorded (analyse loads the file with its content in one join).
      const recorded = await h.index.listChildren(archive.fileId);
      for (const m of recorded) expect(await h.index.getContent(m.sha256!)).toMatchObject({ size: m.size });
      return spent;
    };
    const few = await statementsOf('few', 5);
    const many = await statementsOf('many', 65);
    // Both fit one batch (UNPACK_BATCH_SIZE): the same statements, whatever the members (one each before: 60 more).
    expect(65).toBeLessThan(UNPACK_BATCH_SIZE);
    expect(many - few).toBeLessThan(5);
  });

  /**
   * The index fails one statement of an unpack once (a connection reset, a failover), as the index adapter's typed retryable
   * fault; the delivery throws, and its redelivery (the bus's) resumes past the members recorded.
   */
  async function unpackWithOneIndexFault(name: string, method: 'ensureContents' | 'insertFiles', members: number) {
    const zip = await zipOf(Array.from({ length: members }, (_, i) => ({ name: `${name}/${i}.txt`, data: Buffer.from(`${name} member ${i} `.repeat(50)) })));
    const archive = await addArchive(h, `${name}.zip`, zip);
    const index = h.deps.index;
    let faults = 0;
    h.deps.index = Object.create(index, {
      [method]: {
        value: (...args: unknown[]) => {
          if (faults === 0) {
            faults += 1;
            return Promise.reject(new ExhibitError('index-unavailable', 'connection reset'));
          }
          return (index[method] as (...a: unknown[]) => Promise<unknown>).apply(index, args);
        },
      },
    }) as typeof index;
    const sentBefore = h.bus.sent.length;
    try {
      await expect(unpackStage(h.deps, archive, { ...h.ctx, deliveryCount: 1 })).rejects.toMatchObject({ code: 'index-unavailable' });
    } finally {
      h.deps.index = index;
    }
    expect(faults).toBe(1);
    const handedOff = h.bus.sent.slice(sentBefore).filter((s) => s.queue === 'analyse').flatMap((s) => filesOf(s.message.body as FileWorkMessage).map((f) => f.fileId));
    const afterFault = await h.index.listChildren(archive.fileId);
    expect(await unpackStage(h.deps, archive, { ...h.ctx, deliveryCount: 2 })).toMatchObject({ status: 'done', summary: { memberCount: members } });
    return { archive, handedOff, afterFault, recorded: await h.index.listChildren(archive.fileId) };
  }

  async function withoutContent(files: readonly FileRecord[]): Promise<string[]> {
    const missing: string[] = [];
    for (const f of files) if (f.sha256 && !(await h.index.getContent(f.sha256))) missing.push(f.path);
    return missing;
  }

  it('batch-content-rows-lost-when-their-write-failed: a failed content statement loses no member\'s content row', async () => {
    // More than a batch: the first flush's content statement fails, then the fault path's flush and the redelivery write.
    const members = UNPACK_BATCH_SIZE + 10;
    const { afterFault, recorded } = await unpackWithOneIndexFault('content-fault', 'ensureContents', members);
    // Before the fix: the rows were taken off the queue before the write, the fault path recorded the batch's files
    // without them, and the redelivery resumed past those: 200 members named content the index never had.
    expect(await withoutContent(afterFault)).toEqual([]);
    expect(recorded).toHaveLength(members);
    expect(await withoutContent(recorded)).toEqual([]);
  });

  it('batch-members-handed-off-unrecorded-when-their-files-write-failed: only recorded members go to analyse', async () => {
    const members = UNPACK_BATCH_SIZE + 10;
    const { handedOff, afterFault, recorded } = await unpackWithOneIndexFault('files-fault', 'insertFiles', members);
    const recordedThen = new Set(afterFault.map((f) => f.fileId));
    // Before the fix: the batch was taken off before its insert, and the fault path's flush sent its members on unrecorded.
    expect(handedOff.filter((id) => !recordedThen.has(id))).toEqual([]);
    expect(recorded).toHaveLength(members);
    expect(await withoutContent(recorded)).toEqual([]);
  });

  it('resumed-walk-charged-in-full-to-the-unpack-time-budget: passing members an earlier delivery recorded is granted its own work as taking new ones is', async () => {
    // 210 members; the first delivery records 200 before a fault, the second walks past those 200 with each lookup of a
    // recorded member made 40 ms slower (a busy index): 8 s of legitimate re-walk against a 2.5 s size-based floor. Before
    // the fix only entries taken were granted their work, so every continuation's or redelivery's walk was charged in full
    // and a listing spread over many attempts could lose its tail to the budget (bench:disk at 4 GiB lost 8,021 files to it).
    const members = UNPACK_BATCH_SIZE + 10;
    const zip = await zipOf(Array.from({ length: members }, (_, i) => ({ name: `rewalk/${i}.txt`, data: Buffer.from(`rewalk member ${i} `.repeat(50)) })));
    const archive = await addArchive(h, 'rewalk.zip', zip);
    const index = h.deps.index;
    let faults = 0;
    h.deps.index = Object.create(index, {
      insertFiles: {
        value: (...args: Parameters<typeof index.insertFiles>) => {
          if (faults++ === 0) return Promise.reject(new ExhibitError('index-unavailable', 'connection reset'));
          return index.insertFiles(...args);
        },
      },
    }) as typeof index;
    try {
      await expect(unpackStage(h.deps, archive, { ...h.ctx, deliveryCount: 1 })).rejects.toMatchObject({ code: 'index-unavailable' });
    } finally {
      h.deps.index = index;
    }
    expect(await h.index.listChildren(archive.fileId)).toHaveLength(UNPACK_BATCH_SIZE);
    h.deps.index = Object.create(index, {
      getFile: {
        value: async (...args: Parameters<typeof index.getFile>) => {
          await new Promise((resolve) => setTimeout(resolve, 40));
          return index.getFile(...args);
        },
      },
    }) as typeof index;
    try {
      const outcome = await withLimits({ minBudgetUnpackMs: 2500 }, () => unpackStage(h.deps, archive, { ...h.ctx, deliveryCount: 2 }));
      expect(outcome).toMatchObject({ status: 'done', summary: { memberCount: members } });
    } finally {
      h.deps.index = index;
    }
    expect(await h.index.listChildren(archive.fileId)).toHaveLength(members);
  });

  it('is idempotent: a second delivery is skipped and changes nothing', async () => {
    const zip = await zipOf([{ name: 'x.txt', data: Buffer.from('x') }]);
    const { archive } = await unpack('twice.zip', zip);
    const sentBefore = h.bus.sent.length;
    expect(await unpackStage(h.deps, archive, h.ctx)).toEqual({ status: 'skipped', reason: 'already-done' });
    expect(h.bus.sent.length).toBe(sentBefore);
    expect(await h.index.listChildren(archive.fileId)).toHaveLength(1);
  });

  it('zip-slip ../../etc/passwd: stays inside the archive path, recorded as written, flagged', async () => {
    const zip = replaceBytes(await zipOf([{ name: 'AAAAAAAAAAAAAAAA', data: Buffer.from('root:x:0:0') }]), 'AAAAAAAAAAAAAAAA', '../../etc/passwd');
    const { outcome, members } = await unpack('slip.zip', zip);
    expect(outcome.status).toBe('done');
    expect(members[0]).toMatchObject({ path: 'slip.zip!/etc/passwd', recordedName: '../../etc/passwd', name: 'passwd', stage: 'pending' });
    expect(members[0]!.flags).toContain('path-traversal');
    expect(await blobText(members[0]!.source)).toBe('root:x:0:0');
  });

  it('absolute paths (leading slash, drive letter) are flagged and made relative', async () => {
    const zip = replaceBytes(
      replaceBytes(await zipOf([{ name: 'AAAAAAAAAAA', data: Buffer.from('1') }, { name: 'BBBBBBBBBBBBBBBBBBB', data: Buffer.from('2') }]), 'AAAAAAAAAAA', '/etc/shadow'),
      'BBBBBBBBBBBBBBBBBBB',
      'C:\\Windows\\evil.dll',
    );
    const { members } = await unpack('abs.zip', zip);
    expect(members.map((m) => [m.path, m.recordedName])).toEqual([
      ['abs.zip!/etc/shadow', '/etc/shadow'],
      ['abs.zip!/Windows/evil.dll', 'C:\\Windows\\evil.dll'],
    ]);
    expect(members.every((m) => m.flags.includes('absolute-path'))).toBe(true);
  });

  it('odd names: backslashes, control characters and NUL are flagged, displayed escaped, stored safely', async () => {
    const zip = replaceBytes(
      await zipOf([{ name: 'dir_sub_XXXZ.txt', data: Buffer.from('odd') }]),
      'dir_sub_XXXZ.txt',
      Buffer.from('dir\\sub\\\u001b\u0007\u0000Z.txt', 'latin1'),
    );
    const { members, outcome } = await unpack('odd.zip', zip);
    expect(outcome.status).toBe('done');
    expect(members[0]).toMatchObject({ path: 'odd.zip!/dir/sub/\\u{1b}\\u{7}\u2400Z.txt', recordedName: 'dir\\sub\\\u001b\u0007\u2400Z.txt' });
    expect(members[0]!.flags).toContain('odd-name');
  });

  it('symlink in a zip: kind symlink, flag link, target recorded, nothing stored or followed', async () => {
    const zip = await zipOf([{ name: 'shadow-link', data: Buffer.from('/etc/shadow'), mode: 0o120777 }]);
    const { members } = await unpack('link.zip', zip);
    expect(members[0]).toMatchObject({ entryKind: 'symlink', stage: 'indexed', sha256: null, source: null });
    expect(members[0]!.flags).toContain('link');
    expect(h.inserted.find((f) => f.fileId === members[0]!.fileId)?.linkTarget).toBe('/etc/shadow');
  });

  it('hardlink, device and fifo entries in a tar are recorded without content', async () => {
    const tarball = await tarOf([
      { name: 'etc/passwd', data: Buffer.from('p') },
      { name: 'hard', type: 'link', linkname: 'etc/passwd' },
      { name: 'soft', type: 'symlink', linkname: '/etc/passwd' },
      { name: 'dev/null', type: 'character-device', devmajor: 1, devminor: 3 },
      { name: 'dev/sda', type: 'block-device', devmajor: 8 },
      { name: 'pipe', type: 'fifo' },
    ]);
    const { members, outcome } = await unpack('special.tar', tarball, { mime: 'application/x-tar' });
    expect(outcome).toMatchObject({ status: 'done', summary: { format: 'tar', memberCount: 6 } });
    expect(members.map((m) => [m.name, m.entryKind, m.stage, m.flags, m.source === null])).toEqual([
      ['passwd', 'file', 'pending', [], false],
      ['hard', 'hardlink', 'indexed', ['link'], true],
      ['soft', 'symlink', 'indexed', ['link'], true],
      ['null', 'device', 'indexed', ['device'], true],
      ['sda', 'device', 'indexed', ['device'], true],
      ['pipe', 'fifo', 'indexed', [], true],
    ]);
    expect(h.inserted.find((f) => f.fileId === members[1]!.fileId)?.linkTarget).toBe('etc/passwd');
  });

  it('encrypted zip entry: recorded as failed (encrypted), never decrypted; the rest unpacks', async () => {
    const zip = markEncrypted(await zipOf([{ name: 'secret.txt', data: Buffer.from('s3cret') }, { name: 'open.txt', data: Buffer.from('open') }]), 0);
    const { members, outcome, custody } = await unpack('enc.zip', zip);
    expect(outcome).toMatchObject({ status: 'done', summary: { failedMembers: 1 } });
    expect(members[0]).toMatchObject({ entryKind: 'file', stage: 'failed', sha256: null, failure: { stage: 'unpack', code: 'encrypted' } });
    expect(members[0]!.flags).toContain('encrypted');
    expect(members[1]).toMatchObject({ stage: 'pending', sha256: sha256('open') });
    expect(custody[0]!.details).toMatchObject({ failedMembers: 1, merkleRoot: merkleRoot([sha256('open')]) });
  });

  it('zip bomb (ratio beyond the limit): that member fails limit-exceeded, others unpack', async () => {
    const zip = await zipOf([{ name: 'zeros.bin', data: Buffer.alloc(4 * 1024 * 1024) }, { name: 'ok.txt', data: Buffer.from('ok') }]);
    const { members, outcome } = await withLimits({ maxCompressionRatio: 100, compressionRatioMinBytes: 1024 * 1024 }, () => unpack('bomb.zip', zip));
    expect(outcome.status).toBe('done');
    expect(members[0]).toMatchObject({ stage: 'failed', failure: { code: 'limit-exceeded', detail: expect.stringMatching(/decompression bomb/) } });
    expect(members[0]!.flags).toContain('limit-exceeded');
    expect(members[1]).toMatchObject({ stage: 'pending' });
    expect(await h.deps.blobs.exists({ container: h.deps.containers.derived, name: derivedNames.content(sha256(Buffer.alloc(4 * 1024 * 1024))) })).toBe(false);
  });

  it('tar.gz bomb: the archive stops with limit-exceeded, the archive is flagged', async () => {
    const bomb = gzip(await tarOf([{ name: 'first.txt', data: Buffer.from('1') }, { name: 'zeros.bin', data: Buffer.alloc(8 * 1024 * 1024) }]));
    const { outcome, parent, members } = await withLimits({ maxCompressionRatio: 100, compressionRatioMinBytes: 1024 * 1024 }, () =>
      unpack('bomb.tar.gz', bomb, { mime: 'application/gzip' }),
    );
    expect(outcome).toMatchObject({ status: 'failed', code: 'limit-exceeded' });
    expect(parent.unpack).toBe('failed');
    expect(parent.flags).toContain('limit-exceeded');
    expect(members[0]).toMatchObject({ name: 'first.txt', stage: 'pending' });
  });

  it('member declaring more than maxMemberBytes fails alone, unread', async () => {
    const zip = await zipOf([{ name: 'big.bin', data: pseudoRandomBytes(20_000) }, { name: 'small.txt', data: Buffer.from('s') }]);
    const { members, outcome } = await withLimits({ maxMemberBytes: 10_000 }, () => unpack('member-limit.zip', zip));
    expect(outcome.status).toBe('done');
    expect(members[0]).toMatchObject({ stage: 'failed', failure: { code: 'limit-exceeded' } });
    expect(members[1]).toMatchObject({ stage: 'pending' });
  });

  it('archive over maxArchiveExpandedBytes stops; members extracted before stay', async () => {
    const zip = await zipOf([1, 2, 3].map((i) => ({ name: `${i}.bin`, data: pseudoRandomBytes(6_000, i) })));
    const { members, outcome, parent } = await withLimits({ maxArchiveExpandedBytes: 10_000 }, () => unpack('expand-limit.zip', zip));
    expect(outcome).toMatchObject({ status: 'failed', code: 'limit-exceeded', detail: expect.stringMatching(/maxArchiveExpandedBytes/) });
    expect(members.map((m) => m.stage)).toEqual(['pending', 'failed']);
    expect(parent).toMatchObject({ unpack: 'failed', memberCount: 2 });
  });

  it('too many entries: the first maxArchiveEntries are recorded, then unpacking stops', async () => {
    const zip = await zipOf(Array.from({ length: 8 }, (_, i) => ({ name: `f${i}.txt`, data: Buffer.from(String(i)) })));
    const { members, outcome, parent, custody } = await withLimits({ maxArchiveEntries: 5 }, () => unpack('many.zip', zip));
    expect(outcome).toMatchObject({ status: 'failed', code: 'limit-exceeded', detail: expect.stringMatching(/maxArchiveEntries/) });
    expect(members).toHaveLength(5);
    expect(parent).toMatchObject({ unpack: 'failed', memberCount: 5 });
    expect(custody[0]!.details).toMatchObject({ memberCount: 5, stoppedBy: { code: 'limit-exceeded' } });
  });

  it('nested archives: unpacked within the depth bound, refused beyond it', async () => {
    const inner = await zipOf([{ name: 'deep.txt', data: Buffer.from('deep') }]);
    const outer = await zipOf([{ name: 'inner.zip', data: inner }]);
    await withLimits({ maxNestingDepth: 1 }, async () => {
      const { members } = await unpack('outer.zip', outer);
      const innerFile = members[0]!;
      expect(innerFile).toMatchObject({ path: 'outer.zip!/inner.zip', depth: 1 });
      // identify would not enqueue this; if asked anyway, unpack refuses.
      await h.index.setIdentification(innerFile.sha256!, { mime: 'application/zip', detectedExt: 'zip', kind: 'archive', tools: [] });
      // identify marks an archive for unpacking with the same write that identifies it.
      await h.index.setUnpack(innerFile.fileId, 'pending');
      const outcome = await unpackStage(h.deps, { caseId: innerFile.caseId, evidenceId: innerFile.evidenceId, fileId: innerFile.fileId }, h.ctx);
      expect(outcome).toMatchObject({ status: 'failed', code: 'limit-exceeded' });
      const after = (await h.index.getFile(innerFile.fileId))!;
      expect(after.flags).toContain('not-unpacked-depth');
      expect(after.unpack).toBe('failed');
      expect(await h.index.listChildren(innerFile.fileId)).toEqual([]);
    });
    const { members } = await unpack('outer2.zip', outer);
    const innerFile = members[0]!;
    await h.index.setIdentification(innerFile.sha256!, { mime: 'application/zip', detectedExt: 'zip', kind: 'archive', tools: [] });
    // identify marks an archive for unpacking with the same write that identifies it.
    await h.index.setUnpack(innerFile.fileId, 'pending');
    expect((await unpackStage(h.deps, { caseId: innerFile.caseId, evidenceId: innerFile.evidenceId, fileId: innerFile.fileId }, h.ctx)).status).toBe('done');
    expect(await h.index.listChildren(innerFile.fileId)).toEqual([
      expect.objectContaining({ path: 'outer2.zip!/inner.zip!/deep.txt', depth: 2, sha256: sha256('deep') }),
    ]);
  });

  it('truncated zip (no central directory): failed corrupt-file, nothing extracted, custody still written', async () => {
    const zip = await zipOf([{ name: 'a.txt', data: Buffer.from('a') }]);
    const { outcome, parent, members, custody } = await unpack('truncated.zip', zip.subarray(0, zip.length - 10));
    expect(outcome).toMatchObject({ status: 'failed', code: 'corrupt-file' });
    expect(parent).toMatchObject({ unpack: 'failed', memberCount: 0 });
    expect(members).toEqual([]);
    expect(custody[0]!.details).toMatchObject({ memberCount: 0, stoppedBy: { code: 'corrupt-file' } });
  });

  it('corrupt central directory part way: members before the damage stay recorded', async () => {
    const zip = breakCentralHeader(await zipOf([1, 2, 3].map((i) => ({ name: `${i}.txt`, data: Buffer.from(String(i)) }))), 2);
    const { outcome, members } = await unpack('broken-cd.zip', zip);
    expect(outcome).toMatchObject({ status: 'failed', code: 'corrupt-file' });
    expect(members.map((m) => [m.name, m.stage])).toEqual([
      ['1.txt', 'pending'],
      ['2.txt', 'pending'],
    ]);
  });

  it('truncated tar: the cut member fails corrupt-file, earlier ones stay, the archive fails corrupt-file', async () => {
    const whole = await tarOf([{ name: 'a.txt', data: Buffer.from('a') }, { name: 'b.bin', data: pseudoRandomBytes(50_000) }]);
    const { outcome, members } = await unpack('cut.tar', whole.subarray(0, 1024 + 20_000), { mime: 'application/x-tar' });
    expect(outcome).toMatchObject({ status: 'failed', code: 'corrupt-file' });
    expect(members.map((m) => [m.name, m.stage, m.failure?.code ?? null])).toEqual([
      ['a.txt', 'pending', null],
      ['b.bin', 'failed', 'corrupt-file'],
    ]);
  });

  it('corrupt member CRC: only that member fails', async () => {
    const zip = corruptCrc(await zipOf([{ name: 'bad.txt', data: Buffer.from('bad') }, { name: 'good.txt', data: Buffer.from('good') }]), 0);
    const { outcome, members } = await unpack('crc.zip', zip);
    expect(outcome.status).toBe('done');
    expect(members[0]).toMatchObject({ stage: 'failed', sha256: null, failure: { code: 'corrupt-file', detail: expect.stringMatching(/CRC-32/) } });
    expect(members[1]).toMatchObject({ stage: 'pending', sha256: sha256('good') });
  });

  it('duplicate names: both occurrences are flagged; identical content is stored once', async () => {
    const zip = await zipOf([
      { name: 'a.txt', data: Buffer.from('same') },
      { name: 'b.txt', data: Buffer.from('same') },
      { name: 'a.txt', data: Buffer.from('other') },
    ]);
    const { members } = await unpack('dups.zip', zip);
    expect(members.map((m) => [m.name, m.flags.includes('duplicate-name')])).toEqual([
      ['a.txt', true],
      ['b.txt', false],
      ['a.txt', true],
    ]);
    expect(members[0]!.source).toEqual(members[1]!.source);
  });

  it('tar.gz: detected by content and unpacked', async () => {
    const tgz = gzip(await tarOf([{ name: './logs/app.log', data: Buffer.from('log line') }]));
    const { outcome, members } = await unpack('logs.tgz', tgz, { mime: null });
    expect(outcome).toMatchObject({ status: 'done', summary: { format: 'tar.gz' } });
    expect(members[0]).toMatchObject({ path: 'logs.tgz!/logs/app.log', sha256: sha256('log line'), flags: [] });
    expect(members[0]!.archiveTimes.modified).toMatchObject({ offsetMinutes: 0, source: 'tar:header' });
  });

  it('ZIP64 archive', async () => {
    const zip = await zipOf([{ name: 'z64.txt', data: Buffer.from('zip64'), forceZip64Format: true }], { forceZip64Format: true });
    const { outcome, members } = await unpack('z64.zip', zip);
    expect(outcome.status).toBe('done');
    expect(members[0]).toMatchObject({ sha256: sha256('zip64') });
  });

  it('empty archive: done with no members and the empty Merkle root', async () => {
    const { outcome, parent, custody } = await unpack('empty.zip', await zipOf([]));
    expect(outcome).toMatchObject({ status: 'done', summary: { memberCount: 0 } });
    expect(parent).toMatchObject({ unpack: 'done', memberCount: 0 });
    expect(custody[0]!.details).toMatchObject({ merkleRoot: merkleRoot([]) });
  });

  it('stored (uncompressed) members are read in place: a span of the evidence blob, no copy; deflated ones are copied', async () => {
    const photo = pseudoRandomBytes(200_000, 31);
    const zip = await zipOf([
      { name: 'DCIM/IMG_0001.JPG', data: photo, compress: false },
      { name: 'notes.txt', data: Buffer.from('deflated '.repeat(100)), compress: true },
      { name: 'empty.bin', data: Buffer.alloc(0), compress: false },
    ]);
    const { archive, members } = await unpack('in-place.zip', zip);
    const root = (await h.index.getFile(archive.fileId))!;
    const [stored, deflated, empty] = members;
    expect(stored!.source).toEqual({ container: root.source!.container, name: root.source!.name, offset: zip.indexOf(photo) });
    expect(sha256(await h.deps.blobs.readRange(stored!.source!, stored!.source!.offset!, photo.length))).toBe(sha256(photo));
    expect((await h.index.getContent(sha256(photo)))!.source).toEqual(stored!.source);
    expect(await h.deps.blobs.exists({ container: h.deps.containers.derived, name: derivedNames.content(sha256(photo)) })).toBe(false);
    expect(deflated!.source).toEqual({ container: h.deps.containers.derived, name: derivedNames.content(deflated!.sha256!) });
    expect(empty).toMatchObject({ size: 0, sha256: sha256(Buffer.alloc(0)) });
  });

  it('a stored zip inside a stored zip: the inner members are spans of the outermost blob', async () => {
    const deep = pseudoRandomBytes(50_000, 32);
    const inner = await zipOf([{ name: 'deep.bin', data: deep, compress: false }]);
    const outer = await zipOf([
      { name: 'pad.bin', data: pseudoRandomBytes(10_000, 33), compress: false },
      { name: 'inner.zip', data: inner, compress: false },
    ]);
    const { archive, members } = await unpack('nested-in-place.zip', outer);
    const root = (await h.index.getFile(archive.fileId))!;
    const innerFile = members[1]!;
    expect(innerFile.source).toMatchObject({ name: root.source!.name, offset: outer.indexOf(inner) });
    await h.index.setIdentification(innerFile.sha256!, { mime: 'application/zip', detectedExt: 'zip', kind: 'archive', tools: [] });
    // identify marks an archive for unpacking with the same write that identifies it.
    await h.index.setUnpack(innerFile.fileId, 'pending');
    const outcome = await unpackStage(h.deps, { caseId: innerFile.caseId, evidenceId: innerFile.evidenceId, fileId: innerFile.fileId }, h.ctx);
    expect(outcome.status).toBe('done');
    const [deepFile] = await h.index.listChildren(innerFile.fileId);
    expect(deepFile!.source).toEqual({ container: root.source!.container, name: root.source!.name, offset: outer.indexOf(deep) });
    expect(sha256(await h.deps.blobs.readRange(deepFile!.source!, deepFile!.source!.offset!, deep.length))).toBe(sha256(deep));
  });

  it('a stored tar inside a stored zip is unpacked from its span', async () => {
    const tar = await tarOf([{ name: 'in-tar.txt', data: Buffer.from('from a tar inside a zip') }]);
    const outer = await zipOf([
      { name: 'pad.bin', data: pseudoRandomBytes(3_000, 34), compress: false },
      { name: 'inner.tar', data: tar, compress: false },
    ]);
    const { members } = await unpack('tar-in-zip.zip', outer);
    const tarFile = members[1]!;
    expect(tarFile.source!.offset).toBe(outer.indexOf(tar));
    await h.index.setIdentification(tarFile.sha256!, { mime: 'application/x-tar', detectedExt: 'tar', kind: 'archive', tools: [] });
    await h.index.setUnpack(tarFile.fileId, 'pending');
    expect((await unpackStage(h.deps, { caseId: tarFile.caseId, evidenceId: tarFile.evidenceId, fileId: tarFile.fileId }, h.ctx)).status).toBe('done');
    const [txt] = await h.index.listChildren(tarFile.fileId);
    expect(txt).toMatchObject({ path: 'tar-in-zip.zip!/inner.tar!/in-tar.txt', sha256: sha256('from a tar inside a zip') });
    expect(await blobText(txt!.source)).toBe('from a tar inside a zip');
  });

  it('a member larger than the buffer is staged, copied to its content name, and the staging blob removed', async () => {
    const big = pseudoRandomBytes(300_000, 11);
    const zip = await zipOf([{ name: 'big.bin', data: big }]);
    const { archive, members } = await withLimits({ maxBufferedMemberBytes: 64 * 1024 }, () => unpack('staged.zip', zip));
    expect(members[0]).toMatchObject({ size: big.length, sha256: sha256(big) });
    const stored = await h.deps.blobs.readRange(members[0]!.source!, 0, big.length + 1);
    expect(sha256(stored)).toBe(sha256(big));
    expect(await h.deps.blobs.exists({ container: h.deps.containers.derived, name: derivedNames.staging(archive.fileId, 0) })).toBe(false);
  });

  it('regression: crash after the first batch, then redelivery, finishes with no lost and no duplicate members', async () => {
    const count = UNPACK_BATCH_SIZE * 2 + 50;
    const zip = await zipOf(Array.from({ length: count }, (_, i) => ({ name: `m/${i}.txt`, data: Buffer.from(`member ${i}`) })));
    const archive = await addArchive(h, 'crash.zip', zip);
    const sentBefore = h.bus.sent.length;
    h.bus.failNextSend = new ExhibitError('bus-unavailable', 'queue down');
    await expect(unpackStage(h.deps, archive, { ...h.ctx, deliveryCount: 1 })).rejects.toMatchObject({ code: 'bus-unavailable' });
    expect((await h.index.listChildren(archive.fileId)).length).toBe(UNPACK_BATCH_SIZE);
    expect((await h.index.getFile(archive.fileId))!.unpack).toBe('pending');

    const outcome = await unpackStage(h.deps, archive, { ...h.ctx, deliveryCount: 2 });
    expect(outcome).toMatchObject({ status: 'done', summary: { memberCount: count } });
    const members = await h.index.listChildren(archive.fileId);
    expect(members).toHaveLength(count);
    expect(new Set(members.map((m) => m.entryIndex))).toEqual(new Set(Array.from({ length: count }, (_, i) => i)));
    // Every member handed off once, in batch messages of at most batchMaxFiles, each with its files' deterministic id.
    const analyse = h.bus.sent.slice(sentBefore).filter((s) => s.queue === 'analyse');
    const identifyIds = analyse.flatMap((s) => filesOf(s.message.body as FileWorkMessage).map((f) => f.fileId));
    expect(identifyIds.length).toBe(new Set(identifyIds).size);
    expect(new Set(identifyIds)).toEqual(new Set(members.map((m) => m.fileId)));
    for (const s of analyse) {
      const ids = filesOf(s.message.body as FileWorkMessage).map((f) => f.fileId);
      expect(ids.length).toBeLessThanOrEqual(LIMITS.batchMaxFiles);
      expect(s.message.messageId).toBe(batchMessageIdFor('analyse', ids));
    }
    const custody = h.custody.events.filter((e) => e.eventKey === `unpacked:${archive.fileId}`);
    expect(custody[0]!.details).toMatchObject({
      memberCount: count,
      merkleRoot: merkleRoot(Array.from({ length: count }, (_, i) => sha256(`member ${i}`))),
    });
  });

  it('regression: a copied member whose upload fails is never recorded without its content; the redelivery finishes', async () => {
    const count = 12;
    const zip = await zipOf(Array.from({ length: count }, (_, i) => ({ name: `d/${i}.txt`, data: Buffer.from(`deflated member ${i} `.repeat(50)) })));
    const archive = await addArchive(h, 'upload-fails.zip', zip);
    const blobs = h.deps.blobs;
    let uploads = 0;
    const upload: typeof blobs.upload = (ref, data, options) => {
      uploads += 1;
      // The fifth member's upload fails while others are still in flight.
      if (uploads === 5) return Promise.reject(new ExhibitError('storage-unavailable', 'storage down'));
      return blobs.upload(ref, data, options);
    };
    h.deps.blobs = new Proxy(blobs, {
      get: (target, prop) => {
        if (prop === 'upload') return upload;
        const value: unknown = Reflect.get(target, prop, target);
        return typeof value === 'function' ? value.bind(target) : value;
      },
    });
    try {
      await expect(unpackStage(h.deps, archive, { ...h.ctx, deliveryCount: 1 })).rejects.toMatchObject({ code: 'storage-unavailable' });
    } finally {
      h.deps.blobs = blobs;
    }
    for (const m of await h.index.listChildren(archive.fileId)) {
      expect(await h.index.getContent(m.sha256!)).not.toBeNull();
      expect(await blobs.exists(m.source!)).toBe(true);
    }
    expect(await unpackStage(h.deps, archive, { ...h.ctx, deliveryCount: 2 })).toMatchObject({ status: 'done', summary: { memberCount: count } });
    const members = await h.index.listChildren(archive.fileId);
    expect(members).toHaveLength(count);
    for (const m of members) {
      expect(await h.index.getContent(m.sha256!)).not.toBeNull();
      expect(await blobs.exists(m.source!)).toBe(true);
    }
  });

  it('unknown file or wrong evidence: skipped', async () => {
    expect(await unpackStage(h.deps, { caseId: 'case-1', evidenceId: 'nope', fileId: 'f-missing' }, h.ctx)).toEqual({ status: 'skipped', reason: 'unknown-subject' });
    const zip = await zipOf([{ name: 'a', data: Buffer.from('a') }]);
    const archive = await addArchive(h, 'other.zip', zip);
    expect(await unpackStage(h.deps, { ...archive, evidenceId: 'someone-else' }, h.ctx)).toEqual({ status: 'skipped', reason: 'unknown-subject' });
  });
});
