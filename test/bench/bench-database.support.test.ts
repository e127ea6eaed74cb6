import { describe, expect, it } from 'vitest';
import { benchDatabaseName, databaseUrlOf } from './bench-database.support.js';

describe('benchDatabaseName', () => {
  it('is the database the URL names, when it is a plain lower-case name', () => {
    expect(benchDatabaseName('postgres://postgres@127.0.0.1:5432/bench_disk_1')).toBe('bench_disk_1');
  });

  it('refuses names it could not splice into CREATE/DROP DATABASE safely', () => {
    for (const name of ['', 'Bench', '1bench', 'bench-disk', 'bench%3Bdrop', 'a/b']) {
      expect(() => benchDatabaseName(`postgres://postgres@127.0.0.1:5432/${name}`)).toThrow(/--database-url must name a database/);
    }
  });
});

describe('databaseUrlOf', () => {
  it('keeps the server and credentials and swaps the database', () => {
    expect(databaseUrlOf('postgres://user:pw@db.example:6543/bench_x?sslmode=require', 'postgres')).toBe('postgres://user:pw@db.example:6543/postgres?sslmode=require');
  });
});
