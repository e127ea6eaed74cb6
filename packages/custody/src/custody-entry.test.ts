import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { CUSTODY_LIMITS, storedEventKey } from './custody-entry.js';

// Regression long-blob-name-custody-key-refused: `received:<blob name>:<etag>` for a name near
// Azure's 1,024 characters was over the 512 an eventKey may be, so the event was refused and its
// stage retried for ever. A long key is stored in a digest form instead.
describe('storedEventKey', () => {
  const etag = '"0x8DC0FFEE"';
  const keyFor = (name: string) => `received:C1/E1/${name}:${etag}`;

  it('keeps every key up to the limit as given, so keys recorded before still match', () => {
    const name = 'x'.repeat(CUSTODY_LIMITS.maxEventKeyChars - keyFor('').length);
    expect(keyFor(name)).toHaveLength(CUSTODY_LIMITS.maxEventKeyChars);
    expect(storedEventKey(keyFor(name))).toBe(keyFor(name));
    expect(storedEventKey('hash:C1/E1/a.jpg:"0x1"')).toBe('hash:C1/E1/a.jpg:"0x1"');
  });

  it('stores a longer key as <kind>:sha256:<hex of its UTF-8>, the same every time', () => {
    const key = keyFor('語'.repeat(1000));
    const stored = storedEventKey(key);
    expect(stored).toBe(`received:sha256:${createHash('sha256').update(key, 'utf8').digest('hex')}`);
    expect(storedEventKey(key)).toBe(stored);
    expect(stored.length).toBeLessThanOrEqual(CUSTODY_LIMITS.maxEventKeyChars);
  });

  it('gives keys that differ only past the limit different stored keys', () => {
    const shared = 'a'.repeat(600);
    expect(storedEventKey(keyFor(`${shared}1`))).not.toBe(storedEventKey(keyFor(`${shared}2`)));
    expect(storedEventKey(`received:${shared}:"0x1"`)).not.toBe(storedEventKey(`received:${shared}:"0x2"`));
  });

  it('names a kind only when the key starts with a plain word', () => {
    expect(storedEventKey(`${'Z'.repeat(600)}`)).toMatch(/^event:sha256:[0-9a-f]{64}$/);
    expect(storedEventKey(`evidence-changed:${'n'.repeat(600)}:gone`)).toMatch(/^evidence-changed:sha256:[0-9a-f]{64}$/);
  });
});
