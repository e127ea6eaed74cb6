import { execFileSync, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { openHashSetFile } from './hash-set-file.js';
import type { HashSetRow, RowError } from './hash-set.types.js';
import { readLines } from './line-reader.js';

const dir = mkdtempSync(path.join(tmpdir(), 'exhibit-hashsets-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const has = (tool: string) => spawnSync(tool, ['--version'], { stdio: 'ignore' }).error === undefined;
const digest = (algo: string, s: string) => createHash(algo).update(s).digest('hex');

let n = 0;
async function read(content: string | Buffer, name = `f${n++}`): Promise<{ format: string; version: string | null; rows: HashSetRow[]; errors: RowError[] }> {
  const file = path.join(dir, name);
  writeFileSync(file, content);
  return readFile(file);
}
async function readFile(file: string) {
  const reader = await openHashSetFile(file);
  const rows: HashSetRow[] = [];
  const errors: RowError[] = [];
  for await (const batch of reader.rows((e) => errors.push(e))) rows.push(...batch);
  return { format: reader.info.format, version: reader.info.sourceVersion, rows, errors };
}
const reasons = (errors: RowError[]) => errors.map((e) => `${e.line}:${e.reason}`);

const MD5 = digest('md5', 'a');
const SHA1 = digest('sha1', 'a');
const SHA256 = digest('sha256', 'a');

describe('line reader', () => {
  it('reports over-long lines without buffering them, and CR endings', async () => {
    const lines = [];
    for await (const l of readLines([Buffer.from('ab\r\n' + 'x'.repeat(50)), Buffer.from('y'.repeat(50) + '\nlast')], 80)) lines.push(l);
    expect(lines.map((l) => [l.number, l.text, l.cr, l.tooLong])).toEqual([[1, 'ab', true, false], [2, '', false, true], [3, 'last', false, false]]);
  });
});

describe('one hash per line', () => {
  it('reads MD5, SHA-1 and SHA-256 lines, upper or lower case, skipping blanks and comments', async () => {
    const r = await read(`# my list\n${MD5.toUpperCase()}\n\n${SHA1}\n${SHA256}\n`);
    expect(r.format).toBe('hash-list');
    expect(r.errors).toEqual([]);
    expect(r.rows.map((x) => [x.md5, x.sha1, x.sha256])).toEqual([[MD5, null, null], [null, SHA1, null], [null, null, SHA256]]);
  });

  it('reports each malformed row with its line number', async () => {
    const r = await read(`${MD5}\n${MD5.slice(0, 31)}z\n${MD5}00\n\ufeff${MD5}\n${MD5} extra\n${'a'.repeat(70_000)}\n${MD5}\n`);
    expect(reasons(r.errors)).toEqual(['2:bad-hex', '3:wrong-length', '4:bom', '5:field-count', '6:line-too-long']);
    expect(r.rows).toHaveLength(2);
  });

  it('accepts a BOM at the start and CRLF throughout, but not CRLF inside an LF file', async () => {
    expect((await read(`\ufeff${MD5}\r\n${SHA1}\r\n`)).errors).toEqual([]);
    expect(reasons((await read(`${MD5}\n${SHA1}\r\n${SHA256}\n`)).errors)).toEqual(['2:crlf']);
  });
});

describe('checksum tools', () => {
  it.skipIf(!has('md5sum'))('reads real md5sum, sha1sum and sha256sum output (text, binary and --tag)', async () => {
    const data = path.join(dir, 'data.bin');
    writeFileSync(data, 'a');
    for (const [tool, field, value] of [['md5sum', 'md5', MD5], ['sha1sum', 'sha1', SHA1], ['sha256sum', 'sha256', SHA256]] as const) {
      for (const args of [[], ['-b'], ['--tag']]) {
        const out = execFileSync(tool, [...args, data], { cwd: dir });
        const r = await read(out);
        expect(r.format).toBe('checksum-list');
        expect(r.errors).toEqual([]);
        expect(r.rows.map((x) => x[field])).toEqual([value]);
      }
    }
  });

  it('reports a line without a file name, and a --tag line whose digest length contradicts its algorithm', async () => {
    const r = await read(`${MD5}  a.txt\n${MD5}\nSHA256 (b.txt) = ${MD5}\n`);
    expect(r.format).toBe('checksum-list');
    expect(reasons(r.errors)).toEqual(['2:field-count', '3:wrong-length']);
  });
});

describe('hashdeep', () => {
  it.skipIf(!has('hashdeep'))('reads real hashdeep output, including a file name with commas', async () => {
    const data = path.join(dir, 'a, b.txt');
    writeFileSync(data, 'a');
    const out = execFileSync('hashdeep', ['-c', 'md5,sha1,sha256', data], { cwd: dir });
    const r = await read(out);
    expect(r.format).toBe('hashdeep');
    expect(r.errors).toEqual([]);
    expect(r.rows).toEqual([{ md5: MD5, sha1: SHA1, sha256: SHA256, size: 1, category: null, extra: null }]);
  });

  it('reports rows short of the header', async () => {
    const r = await read(`%%%% HASHDEEP-1.0\n%%%% size,md5,sha256,filename\n## comment\n1,${MD5},${SHA256},a.txt\n1,${MD5}\n`);
    expect(reasons(r.errors)).toEqual(['5:field-count']);
    expect(r.rows).toHaveLength(1);
  });
});

describe('HashKeeper and ICSE', () => {
  it('reads HashKeeper (the hash column is MD5)', async () => {
    const header = '"file_id","hashset_id","file_name","directory","hash","file_size","date_modified","time_modified","time_zone","comments","date_accessed","time_accessed"';
    const r = await read(`${header}\n1,7,"a, b.txt","C:\\",${MD5},1,,,,,,\n2,7,"c.txt","C:\\",${MD5},1\n`);
    expect(r.format).toBe('hashkeeper');
    expect(r.rows).toEqual([{ md5: MD5, sha1: null, sha256: null, size: 1, category: null, extra: null }]);
    expect(reasons(r.errors)).toEqual(['3:field-count']);
  });

  it('reads an ICSE ;-separated export with categories', async () => {
    const r = await read(`MD5;SHA1;Category;FileName\n${MD5};${SHA1};1;a.jpg\n;${SHA1};2;b.jpg\n${MD5};;x;c.jpg\n${MD5};${SHA1}\n`);
    expect(r.format).toBe('icse-csv');
    expect(r.rows.map((x) => [x.md5, x.sha1, x.category])).toEqual([[MD5, SHA1, 1], [null, SHA1, 2]]);
    expect(reasons(r.errors)).toEqual(['4:bad-value', '5:field-count']);
  });
});

describe('Project VIC / CAID VICS JSON', () => {
  const entry = (o: Record<string, unknown>) => ({ MediaID: 1, Category: 1, MD5: MD5.toUpperCase(), SHA1: SHA1, MediaSize: 1, Series: 'S', VictimIdentified: true, Tags: 'T', PhotoDNA: 'AAAA', ...o });

  it('reads the 1.x model, keeping PhotoDNA and the other fields as data', async () => {
    const doc = { 'odata.metadata': 'http://github.com/VICSDATAMODEL/ProjectVic.svc/$metadata#Media', value: [entry({})] };
    const r = await read(JSON.stringify(doc));
    expect(r.format).toBe('vics-json');
    expect(r.version).toMatch(/^VICS 1\.x/);
    expect(r.errors).toEqual([]);
    expect(r.rows).toEqual([{ md5: MD5, sha1: SHA1, sha256: null, category: 1, size: 1,
      extra: { mediaId: 1, series: 'S', victimIdentified: true, tags: 'T', photoDna: 'AAAA' } }]);
  });

  it('reads the 2.0 model with hashes under MediaFiles, and reports bad entries by position', async () => {
    const doc = {
      '@odata.context': 'http://github.com/VICSDATAMODEL/ProjectVic.svc/v2.0/$metadata#Media',
      value: [
        { MediaID: 1, Category: 2, MediaFiles: [{ MD5: MD5, SHA1: SHA1 }] },
        entry({ MD5: 'xyz' }),
        entry({ Category: 'high' }),
        { MediaID: 4, PhotoDNA: 'AAAA' },
      ],
    };
    const r = await read(JSON.stringify(doc, null, 2));
    expect(r.version).toMatch(/^VICS 2\.0/);
    expect(r.rows.map((x) => [x.md5, x.category])).toEqual([[MD5, 2]]);
    expect(r.errors.map((e) => `${e.unit} ${e.line}:${e.reason}`)).toEqual(['entry 2:bad-hex', 'entry 3:bad-value', 'entry 4:no-hash']);
  });

  it('refuses a document that is not JSON to the end', async () => {
    await expect(read(`{"odata.metadata":"x","value":[{"MD5":"${MD5}"},`)).rejects.toThrow(/not valid JSON/);
  });
});

describe('NSRL RDS v3', () => {
  it.skipIf(!has('sqlite3'))('reads the distinct hashes of a full-layout release (FILE view over METADATA) and its version', async () => {
    const db = path.join(dir, 'RDS_2024.03.1_modern.db');
    const sql = `
      CREATE TABLE VERSION (version TEXT, build_set TEXT, build_date TEXT, release_date TEXT, description TEXT);
      INSERT INTO VERSION VALUES ('2024.03.1', 'modern', '2024-03-01', '2024-03-15', 'test');
      CREATE TABLE METADATA (sha256 VARCHAR NOT NULL, sha1 VARCHAR NOT NULL, md5 VARCHAR NOT NULL, crc32 VARCHAR, file_name TEXT, file_size INTEGER, package_id INTEGER);
      CREATE VIEW FILE AS SELECT sha256, sha1, md5, crc32, file_name, file_size, package_id FROM METADATA;
      INSERT INTO METADATA VALUES ('${SHA256.toUpperCase()}', '${SHA1.toUpperCase()}', '${MD5.toUpperCase()}', '00000000', 'a.txt', 1, 1);
      INSERT INTO METADATA VALUES ('${SHA256.toUpperCase()}', '${SHA1.toUpperCase()}', '${MD5.toUpperCase()}', '00000000', 'a-copy.txt', 1, 2);
      INSERT INTO METADATA VALUES ('${'B'.repeat(63)}', '${'C'.repeat(40)}', '${'D'.repeat(32)}', '00000000', 'bad.txt', 1, 3);`;
    execFileSync('sqlite3', [db, sql]);
    const r = await readFile(db);
    expect(r.format).toBe('nsrl-rds-v3');
    expect(r.version).toBe('2024.03.1 modern 2024-03-15');
    expect(r.rows).toEqual([{ md5: MD5, sha1: SHA1, sha256: SHA256, category: null, size: null, extra: null }]);
    expect(r.errors.map((e) => `${e.unit} ${e.line}:${e.reason}`)).toEqual(['row 2:wrong-length']);
  });

  it.skipIf(!has('sqlite3'))('refuses an SQLite file that is not an RDS', async () => {
    const db = path.join(dir, 'other.db');
    execFileSync('sqlite3', [db, 'CREATE TABLE t (x);']);
    await expect(readFile(db)).rejects.toThrow(/without NSRL RDS v3 hashes/);
  });
});

describe('PDQ hash lists', () => {
  const P1 = '484f6007e00fe16bf9683efc16b496961e0b6f366b947c3c9f6991698169c297';
  const P2 = 'f'.repeat(64);
  const readPdq = async (content: string) => {
    const file = path.join(dir, `pdq${n++}`);
    writeFileSync(file, content);
    const reader = await openHashSetFile(file, { format: 'pdq-list' });
    const rows: HashSetRow[] = [];
    const errors: RowError[] = [];
    for await (const batch of reader.rows((e) => errors.push(e))) rows.push(...batch);
    return { format: reader.info.format, rows, errors };
  };
  const pdqOf = (rows: HashSetRow[]) => rows.map((r) => [r.pdq, r.pdqQuality, r.extra?.label ?? null, r.md5, r.sha1, r.sha256]);

  it("detects the reference tool's <hash>,<quality>,<path> layout (what exhibit pdq prints), paths with commas kept whole", async () => {
    const r = await read(`${P1.toUpperCase()},100,/cases/a, b/IMG_0001.jpg\n# comment\n\n${P2},49,x.png\n`);
    expect(r.format).toBe('pdq-list');
    expect(r.errors).toEqual([]);
    expect(pdqOf(r.rows)).toEqual([[P1, 100, '/cases/a, b/IMG_0001.jpg', null, null, null], [P2, 49, 'x.png', null, null, null]]);
  });

  it('reads <hash>,<quality>, <hash>,<label> and bare hashes in one list', async () => {
    const r = await read(`${P1},87\n${P2},series 12: scene\n${P1}\n`);
    expect(r.format).toBe('pdq-list');
    expect(r.errors).toEqual([]);
    expect(pdqOf(r.rows)).toEqual([[P1, 87, null, null, null, null], [P2, null, 'series 12: scene', null, null, null], [P1, null, null, null, null, null]]);
  });

  it('reads bare 64-hex lines as SHA-256 unless told they are PDQ (content cannot tell them apart)', async () => {
    expect((await read(`${P1}\n${P2}\n`)).format).toBe('hash-list');
    const r = await readPdq(`${P1}\n${P2}\n`);
    expect(r.format).toBe('pdq-list');
    expect(pdqOf(r.rows)).toEqual([[P1, null, null, null, null, null], [P2, null, null, null, null, null]]);
  });

  it('reports each malformed row with its line number', async () => {
    const r = await read(
      [
        `${P1},100,ok.jpg`,
        `${P1.slice(0, 63)}z,100,bad-hex.jpg`,
        `${P1.slice(0, 62)},100,short.jpg`,
        `${P1}00,100,long.jpg`,
        `${P1},101,quality-over.jpg`,
        `${P1},0100,four-digits.jpg`,
        `${P1},`,
        `${P1},50,`,
        `\ufeff${P1},100,bom.jpg`,
        `${P1},100,${'p'.repeat(5000)}`,
        `${P1},100,crlf.jpg\r`,
        `${P2},0,flat.png`,
        '',
      ].join('\n'),
    );
    expect(r.format).toBe('pdq-list');
    expect(reasons(r.errors)).toEqual(['2:bad-hex', '3:wrong-length', '4:wrong-length', '5:bad-value', '6:bad-value', '7:field-count', '8:field-count', '9:bom', '10:bad-value', '11:crlf']);
    expect(pdqOf(r.rows)).toEqual([[P1, 100, 'ok.jpg', null, null, null], [P2, 0, 'flat.png', null, null, null]]);
  });

  it('reports MD5 and SHA-1 lengths in a list read as PDQ', async () => {
    const r = await readPdq(`${MD5}\n${SHA1}\n${P1}\n`);
    expect(reasons(r.errors)).toEqual(['1:wrong-length', '2:wrong-length']);
    expect(r.rows).toHaveLength(1);
  });
});

describe('format detection', () => {
  it('refuses unknown content with the list of supported formats, and UTF-16 with how to convert', async () => {
    await expect(read('hello world\n')).rejects.toThrow(/not a supported hash-set file.*Supported: NSRL/);
    await expect(read(Buffer.from('\ufeffabc', 'utf16le'))).rejects.toThrow(/UTF-16/);
    await expect(read('{"a": 1}')).rejects.toThrow(/not Project VIC/);
  });
});
