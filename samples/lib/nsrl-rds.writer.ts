import Database from 'better-sqlite3';

/**
 * An SQLite database in the layout of an NSRL RDS v3 release (the "full"
 * layout: a VERSION row, METADATA with one row per file name and package, and
 * the FILE view over it), for the sample case's known-good set and for the
 * import benchmark. Only the columns the importer reads and their neighbours
 * are written; a real release has more tables (PACKAGE, OS, MFG, ...).
 */
export interface NsrlRow {
  sha256: string;
  sha1: string;
  md5: string;
  fileName: string;
  size: number;
  packageId: number;
}

export function writeNsrlRdsV3(file: string, version: { version: string; buildSet: string; releaseDate: string; description: string }, rows: Iterable<NsrlRow>): number {
  const db = new Database(file);
  try {
    // Deterministic bytes for the same rows: no WAL, no journal left behind.
    db.pragma('journal_mode = OFF');
    db.pragma('synchronous = OFF');
    db.exec(`
      CREATE TABLE VERSION (version TEXT, build_set TEXT, build_date TEXT, release_date TEXT, description TEXT);
      CREATE TABLE METADATA (sha256 VARCHAR NOT NULL, sha1 VARCHAR NOT NULL, md5 VARCHAR NOT NULL, crc32 VARCHAR, file_name TEXT, file_size INTEGER, package_id INTEGER);
      CREATE VIEW FILE AS SELECT sha256, sha1, md5, crc32, file_name, file_size, package_id FROM METADATA;
    `);
    db.prepare('INSERT INTO VERSION VALUES (?, ?, ?, ?, ?)').run(version.version, version.buildSet, version.releaseDate, version.releaseDate, version.description);
    // NSRL publishes digests in upper case.
    const insert = db.prepare('INSERT INTO METADATA VALUES (?, ?, ?, NULL, ?, ?, ?)');
    let n = 0;
    let batch: NsrlRow[] = [];
    const flush = db.transaction((rs: NsrlRow[]) => {
      for (const r of rs) insert.run(r.sha256.toUpperCase(), r.sha1.toUpperCase(), r.md5.toUpperCase(), r.fileName, r.size, r.packageId);
    });
    for (const r of rows) {
      batch.push(r);
      n += 1;
      if (batch.length === 50_000) {
        flush(batch);
        batch = [];
      }
    }
    flush(batch);
    return n;
  } finally {
    db.close();
  }
}
