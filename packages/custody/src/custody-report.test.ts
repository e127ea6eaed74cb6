import { describe, expect, it } from 'vitest';
import { renderCustodyReportHtml, renderVerificationText } from './custody-report.js';
import type { CustodyVerification } from './custody-verify.js';

const hostile = '</td><script>alert(1)</script>';

function verification(): CustodyVerification {
  return {
    format: 'exhibit-custody-verification/1',
    caseId: 'C1',
    verifiedAt: '2024-05-01T10:00:00.000Z',
    ok: false,
    keys: { source: 'keys.json', accepted: [{ keyId: 'ed25519:abc', algorithm: 'Ed25519', publicKeyJwk: { kty: 'OKP', crv: 'Ed25519', x: 'abc' } }], rejected: [] },
    items: [
      {
        caseId: 'C1',
        evidenceId: 'E1',
        ok: false,
        verifiedEntries: 3,
        lastSeq: 2,
        headHash: 'a'.repeat(64),
        segments: [{ name: 'C1/E1/000000.jsonl', entries: 3, bytes: 1800 }],
        indexEntries: 5,
        keyIds: ['ed25519:abc'],
        evidence: [{ blobName: `C1/E1/${hostile}`, seq: 1, recordedSha256: 'b'.repeat(64), actualSha256: 'c'.repeat(64), ok: false }],
        firstBreak: { reason: 'bad-signature', seq: 3, expectedSeq: 3, segment: 'C1/E1/000000.jsonl', line: 4, detail: 'signature does not verify' },
        entries: [
          {
            seq: 1,
            time: '2024-05-01T09:00:00.000Z',
            actor: hostile,
            action: 'received',
            subject: { caseId: 'C1', evidenceId: 'E1', blobName: hostile },
            details: { name: hostile },
            tools: [{ name: hostile, version: '1' }],
            keyId: 'ed25519:abc',
            alg: 'Ed25519',
            prevHash: 'd'.repeat(64),
            hash: 'e'.repeat(64),
            segment: 'C1/E1/000000.jsonl',
          },
        ],
        entriesOmitted: 0,
      },
    ],
  };
}

describe('renderVerificationText', () => {
  it('states the verdict and the first break with where it is', () => {
    const text = renderVerificationText(verification());
    expect(text).toContain('Custody verification of case C1: FAILED');
    expect(text).toContain('C1/E1: BROKEN');
    expect(text).toContain('FIRST BREAK bad-signature at seq 3, C1/E1/000000.jsonl line 4: signature does not verify');
    expect(text).toContain(`now ${'c'.repeat(64)}`);
  });
});

describe('renderCustodyReportHtml', () => {
  it('escapes every value taken from a log', () => {
    const html = renderCustodyReportHtml(verification(), { generatedBy: '<i>sue</i>' });
    expect(html).not.toContain('<script>');
    expect(html).not.toContain('<i>sue');
    expect(html).toContain('&lt;/td&gt;&lt;script&gt;alert(1)&lt;/script&gt;');
    expect(html).toContain('e'.repeat(64));
    expect(html).toContain('FAILED');
  });
});

describe('evidence re-hash in the text summary', () => {
  it('says the evidence was not re-hashed rather than that no hashes were recorded', () => {
    const v = verification();
    const notChecked = { ...v, items: v.items.map((i) => ({ ...i, evidence: [], evidenceChecked: false })) };
    expect(renderVerificationText(notChecked)).toContain('index copy 5, evidence not re-hashed');
    const noneRecorded = { ...v, items: v.items.map((i) => ({ ...i, evidence: [], evidenceChecked: true })) };
    expect(renderVerificationText(noneRecorded)).toContain('index copy 5, no evidence hashes recorded');
  });
});
