import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { readLines, type LogLine } from './line-reader.js';

async function collect(chunks: Buffer[], max = 100): Promise<LogLine[]> {
  const out: LogLine[] = [];
  for await (const line of readLines(Readable.from(chunks), max)) out.push(line);
  return out;
}

describe('readLines', () => {
  it('joins lines split across chunks, including inside a multi-byte character', async () => {
    const bytes = Buffer.from('first\nsecond \u00e9t\u00e9\nthird\n');
    const chunks = [bytes.subarray(0, 3), bytes.subarray(3, 14), bytes.subarray(14, 15), bytes.subarray(15)];
    const lines = await collect(chunks);
    expect(lines.map((l) => l.text)).toEqual(['first', 'second \u00e9t\u00e9', 'third']);
    expect(lines.map((l) => l.offset)).toEqual([0, 6, 19]);
    expect(lines.every((l) => l.terminated && !l.tooLong)).toBe(true);
  });

  it('reports trailing bytes without a newline as unterminated', async () => {
    const lines = await collect([Buffer.from('a\nb')]);
    expect(lines).toEqual([
      { text: 'a', offset: 0, terminated: true, tooLong: false },
      { text: 'b', offset: 2, terminated: false, tooLong: false },
    ]);
  });

  it('skips an over-long line without buffering it and carries on after it', async () => {
    const long = Buffer.alloc(50, 0x41);
    const lines = await collect([Buffer.from('ok\n'), long, long, Buffer.from('\nnext\n')], 60);
    expect(lines.map((l) => [l.text, l.tooLong])).toEqual([
      ['ok', false],
      [null, true],
      ['next', false],
    ]);
  });

  it('marks invalid UTF-8 as null text', async () => {
    const lines = await collect([Buffer.from([0x61, 0xff, 0x0a, 0x62, 0x0a])]);
    expect(lines.map((l) => l.text)).toEqual([null, 'b']);
  });

  it('yields nothing for an empty stream and an empty line for a lone newline', async () => {
    expect(await collect([])).toEqual([]);
    expect((await collect([Buffer.from('\n')])).map((l) => l.text)).toEqual(['']);
  });
});
