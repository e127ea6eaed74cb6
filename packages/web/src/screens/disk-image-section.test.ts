import { createElement } from 'react';
import { renderToStaticMarkup } from 'react-dom/server';
import { describe, expect, it } from 'vitest';
import type { DiskImage } from '../lib/api-types';
import { DiskImagesSection } from './disk-image-section';

/**
 * The Disk image section rendered as the browser gets it (react-dom/server), for what the browser test
 * (test/browser/disk-image-volumes.browser.test.ts) cannot make with real tools in reasonable time: each integrity
 * verdict against the damage flag, problems read anyway, and hostile text in every evidence-controlled field.
 */
const raw: DiskImage = {
  fileId: 'f1',
  path: 'card.dd',
  format: 'raw',
  mediaBytes: 8388608,
  segmentCount: 1,
  segments: [{ name: 'C/EX/card.dd', size: 8388608, etag: null }],
  volumes: [{ index: 0, offset: 1048576, size: 7340032, scheme: 'mbr', type: '0x0c', label: 'FAT32 (LBA)', fileSystem: 'fat32', problem: null, entries: 40 }],
  volumeProblems: [],
  volumeIssues: [],
  mediaDamaged: false,
  ewfHeader: null,
  storedHashes: null,
  computedHashes: null,
  integrity: 'no-reference',
  mismatches: [],
  integrityDetail: null,
};
const ewf: DiskImage = { ...raw, path: 'card.E01', format: 'ewf', storedHashes: { md5: 'a'.repeat(32) } };

function html(d: DiskImage): string {
  return renderToStaticMarkup(createElement(DiskImagesSection, { evidenceId: 'EX', images: [d] }));
}

/** The text of the element with this data-testid (no nested element of the same tag in these). */
function textOf(markup: string, testId: string): string {
  const m = new RegExp(`<(\\w+)[^>]*data-testid="${testId}"[^>]*>([\\s\\S]*?)</\\1>`).exec(markup);
  if (!m) throw new Error(`no ${testId}`);
  return m[2]!.replace(/<[^>]+>/g, '').replace(/&#x27;/g, "'").replace(/&quot;/g, '"').replace(/&amp;/g, '&');
}

function plain(markup: string): string {
  return markup.replace(/<[^>]+>/g, ' ').replace(/&#x27;/g, "'").replace(/&amp;/g, '&').replace(/\s+/g, ' ');
}

describe('media damaged', () => {
  it("media-damaged-no-claimed-for-unchecked-media: 'no' only when the stored-hash check read the media whole", () => {
    const unread: Array<[string, DiskImage]> = [
      ['raw image', raw],
      ['VHD', { ...raw, format: 'vhd-dynamic' }],
      ['E01 with no stored hash', { ...ewf, storedHashes: null }],
      ['check given up', { ...ewf, integrity: 'failed', integrityDetail: 'the stored-hash check was given up (hash-state-unusable): saved state unreadable' }],
      ['check stopped', { ...ewf, integrity: 'failed', integrityDetail: 'the stored-hash check was stopped (evidence-changed): segment blob changed' }],
    ];
    for (const [what, d] of unread) expect(textOf(html(d), 'disk-media-damaged'), what).toBe('not known: the media was not read whole');
    expect(textOf(html({ ...ewf, integrity: 'pending' }), 'disk-media-damaged')).toBe('not known yet: the media has not been read whole');
    expect(textOf(html({ ...ewf, integrity: 'verified' }), 'disk-media-damaged')).toBe('no');
    expect(textOf(html({ ...ewf, integrity: 'mismatch', mismatches: ['md5'] }), 'disk-media-damaged')).toBe('no');
    // The flag says yes whatever the verdict (a split raw set whose middle piece lost its tail stores no hash).
    expect(textOf(html({ ...raw, format: 'split-raw', integrity: 'failed', mediaDamaged: true }), 'disk-media-damaged')).toMatch(/^yes: /);
    const { mediaDamaged: _, ...before } = ewf;
    expect(textOf(html(before), 'disk-media-damaged')).toBe('not reported by this server');
  });
});

describe('integrity in words', () => {
  it('says of a mismatch only that the media read does not match the stored hash, and of lost media that it could not be read whole', () => {
    expect(textOf(html({ ...ewf, integrity: 'mismatch', mismatches: ['md5'] }), 'disk-integrity')).toBe(
      'MISMATCH (md5): the media data read does not match the hash stored in the image',
    );
    expect(textOf(html({ ...raw, format: 'split-raw', integrity: 'failed', mediaDamaged: true }), 'disk-integrity')).toBe(
      'MEDIA NOT READABLE WHOLE: the media could not be read whole',
    );
  });
});

describe('volume problems', () => {
  it('volume-problems-read-anyway-said-not-read: the heading claims nothing the message contradicts; each message says what was read', () => {
    const issues: DiskImage['volumeIssues'] = [
      { kind: 'problem', where: 'mbr 0', code: 'corrupt-file', message: 'partition at sector 2048 of 16384 sectors runs past the end of the 8388608-byte disk: read as far as the disk goes' },
      { kind: 'problem', where: 'gpt entries', code: 'corrupt-file', message: 'GPT entry array CRC-32 mismatch; entries read anyway' },
      { kind: 'problem', where: 'ebr 4', code: 'limit-exceeded', message: 'more than 128 logical partitions' },
    ];
    const m = html({ ...raw, volumeIssues: issues, volumeProblems: issues.map((i) => `${i.where}: problem ${i.code}: ${i.message}`) });
    const intro = /<h5>Volume problems<\/h5><p[^>]*>([^<]*)<\/p>/.exec(m)?.[1];
    expect(intro).toBe('Faults found in the volume system, each as recorded with the entry it concerns.');
    expect(intro).not.toMatch(/not read|not listed/);
    const listed = plain(textOf(m, 'volume-problems'));
    expect(listed).toContain('MBR 0 (corrupt-file): partition at sector 2048 of 16384 sectors runs past the end of the 8388608-byte disk: read as far as the disk goes');
    expect(listed).toContain('GPT entries (corrupt-file): GPT entry array CRC-32 mismatch; entries read anyway');
    expect(listed).toContain('EBR 4 (limit-exceeded): more than 128 logical partitions');
  });
});

describe('text read from evidence', () => {
  it('bidi-override-in-segment-name-reorders-review-app-text: no bidi or control character reaches the page, each shown as \\uXXXX', () => {
    const RLO = '\u202e';
    const d: DiskImage = {
      ...ewf,
      path: `exhibit-${RLO}10E.exe`,
      format: 'split-raw',
      segmentCount: 3,
      segments: [
        { name: `C/EX/a${RLO}.001`, size: 1, etag: null },
        { name: 'C/EX/b.002', size: 1, etag: null },
        { name: `C/EX/c\u2066.003`, size: 1, etag: null },
      ],
      volumes: [
        { index: 0, offset: 1048576, size: 7340032, scheme: 'gpt', type: `ebd0a0a2${RLO}`, label: `Data${RLO}gnissim elif`, fileSystem: null, problem: { code: 'corrupt-file', message: `boot sector${RLO} bad` }, entries: 0 },
      ],
      ewfHeader: { examiner: `J. Smith${RLO} :detpurroc`, notes: 'line one\nline two\x1b[2J' },
      integrity: 'failed',
      integrityDetail: `the media could not be read whole to check the stored hashes: chunk 3 ${RLO}fails`,
      volumeIssues: [
        { kind: 'problem', where: `gpt${RLO} 1`, code: 'corrupt-file', message: `entry ${RLO}ends before it starts` },
        { kind: 'note', where: 'mbr 0', code: 'read-past-entry', message: `volume 0${RLO}: read on` },
      ],
    };
    const m = html(d);
    // eslint-disable-next-line no-control-regex
    expect(m.match(/[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g)).toBeNull();
    const text = plain(m);
    for (const shown of [
      'exhibit-\\u202e10E.exe',
      'a\\u202e.001',
      'c\\u2066.003',
      'ebd0a0a2\\u202e',
      'Data\\u202egnissim elif',
      'boot sector\\u202e bad',
      'J. Smith\\u202e :detpurroc',
      'line one\\u000aline two\\u001b[2J',
      'chunk 3 \\u202efails',
      'GPT\\u202e 1',
      'entry \\u202eends before it starts',
      'volume 0\\u202e: read on',
    ]) {
      expect(text, shown).toContain(shown);
    }
  });
});
