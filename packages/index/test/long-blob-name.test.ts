import { createHash, randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LIMITS, type IndexStore } from '@exhibit/core';
import { createPostgresIndex, migrate, openSqlClient, type SqlClient } from '../src/index.js';
import { newUpload } from './fixtures.js';
import { partialMigrations } from './partial-migrations.js';
import { allTargets } from './targets.js';

/** Random CJK: 3 bytes of UTF-8 a character, incompressible to a b-tree. */
const cjk = (chars: number) => Array.from({ length: chars }, () => String.fromCodePoint(0x4e00 + Math.floor(Math.random() * 20_000))).join('');

/** A file name that makes `<caseId>/<evidenceId>/<name>` exactly `chars` long. */
const fileNameOf = (caseId: string, evidenceId: string, chars: number, body: (n: number) => string = cjk) => body(chars - caseId.length - evidenceId.length - 2);

const planOf = async (sql: SqlClient, text: string, params: unknown[]) =>
  (await sql.query<{ 'QUERY PLAN': string }>(`EXPLAIN ${text}`, params)).rows.map((r) => r['QUERY PLAN']).join('\n');

// Regressions long-unicode-blob-name-not-recorded and long-unicode-rejected-blob-not-recorded:
// uploads and rejected_blobs were keyed by the blob name itself, and a b-tree row is at most
// 2,704 bytes; a 1,024-character CJK name is 3,072. Migration 0105 keys them by the name's SHA-256.
describe.each(allTargets())('blob names as long as Azure allows on $name', (target) => {
  let sql: SqlClient;
  let index: IndexStore;
  const CASE = 'case-long-blob';

  beforeAll(async () => {
    sql = await openSqlClient(await target.create());
    index = createPostgresIndex(sql);
    await index.migrate();
  });

  afterAll(async () => {
    await sql?.close();
    await target.dispose();
  });

  it('records an upload whose 1,024-character name is over 3 KB of UTF-8, whole, once', async () => {
    const upload = newUpload(CASE, 'ev1', fileNameOf(CASE, 'ev1', LIMITS.maxBlobNameChars));
    expect(upload.blobName).toHaveLength(LIMITS.maxBlobNameChars);
    expect(Buffer.byteLength(upload.blobName)).toBeGreaterThan(3_000);
    const first = await index.recordUpload(upload);
    expect(first.created).toBe(true);
    expect(first.record.blobName).toBe(upload.blobName);
    const again = await index.recordUpload({ ...upload, etag: '"0x8D0002"' });
    expect(again.created).toBe(false);
    expect(again.record.etag).toBe(first.record.etag);
    expect((await index.getUpload(upload.blobName))?.fileName).toBe(upload.fileName);
    expect((await index.listUploadEtags()).get(upload.blobName)).toBe(first.record.etag);
  });

  it('tells apart names that share all but their last character, and finds only the exact one', async () => {
    const shared = fileNameOf(CASE, 'ev2', LIMITS.maxBlobNameChars - 1);
    const a = newUpload(CASE, 'ev2', `${shared}a`);
    const b = newUpload(CASE, 'ev2', `${shared}b`);
    expect((await index.recordUpload(a)).created).toBe(true);
    expect((await index.recordUpload(b)).created).toBe(true);
    expect((await index.getUpload(a.blobName))?.rootFileId).toBe(a.rootFileId);
    expect((await index.getUpload(b.blobName))?.rootFileId).toBe(b.rootFileId);
    expect(await index.getUpload(`${a.blobName.slice(0, -1)}c`)).toBeNull();
    await index.recordUploadHashes(a.blobName, { md5: '0'.repeat(32), sha1: '0'.repeat(40), sha256: '0'.repeat(64) }, 'no-reference', []);
    expect((await index.getUpload(a.blobName))?.integrity).toBe('no-reference');
    expect((await index.getUpload(b.blobName))?.integrity).toBe('pending');
    // Backslashes are the one byte the digest's decode step treats specially: they must count as themselves.
    const slashes = [newUpload(CASE, 'ev2', 'x\\\\y'), newUpload(CASE, 'ev2', 'x\\y'), newUpload(CASE, 'ev2', '\\x41')];
    for (const u of slashes) expect((await index.recordUpload(u)).created).toBe(true);
    for (const u of slashes) expect((await index.getUpload(u.blobName))?.blobName).toBe(u.blobName);
  });

  it('keys a name by the SHA-256 of its UTF-8 bytes, as Node computes it', async () => {
    for (const name of ['C1/E1/a.jpg', 'C1/E1/日本語😀\\é', cjk(50)]) {
      const { rows } = await sql.query<{ h: string }>(`SELECT encode(utf8_sha256($1), 'hex') AS h`, [name]);
      expect(rows[0]?.h).toBe(createHash('sha256').update(name, 'utf8').digest('hex'));
    }
  });

  it('finds an upload by name through uploads_pkey, not by a scan', async () => {
    // Enough uploads that a scan would cost more than the index, as in any real case.
    await sql.query(
      `INSERT INTO uploads (blob_name, case_id, evidence_id, file_name, root_file_id, size, etag, last_modified)
       SELECT 'plan/E' || i || '/' || repeat('語', 300), 'plan', 'E' || i, repeat('語', 300), 'fplan' || i, 1, '"0x1"', now()
         FROM generate_series(1, 5000) AS i`,
    );
    await sql.exec('ANALYZE uploads');
    const plan = await planOf(sql, `SELECT u.root_file_id FROM uploads u WHERE u.blob_name_sha256 = utf8_sha256($1::text) AND u.blob_name = $1`, ['plan/E77/x']);
    expect(plan).toMatch(/Index Scan using uploads_pkey/);
    expect(plan).not.toMatch(/Seq Scan/);
  });

  it('records a rejected blob with a 1,024-character incompressible name, then counts it', async () => {
    const blob = {
      container: 'evidence',
      blobName: cjk(LIMITS.maxBlobNameChars),
      etag: '"0x8D0009"',
      size: 3,
      lastModified: '2024-05-01T10:00:00.000Z',
      reason: 'not-evidence-name' as const,
      detail: 'at the container root: the name has no <caseId>/<evidenceId>/ prefix',
    };
    expect((await index.recordRejectedBlob(blob)).created).toBe(true);
    const again = await index.recordRejectedBlob(blob);
    expect(again.created).toBe(false);
    expect(again.record).toMatchObject({ blobName: blob.blobName, seenCount: 2 });
    // Another version of the same name is another row; the same version of a name one character longer too.
    expect((await index.recordRejectedBlob({ ...blob, etag: '"0x8D000A"' })).created).toBe(true);
    expect((await index.recordRejectedBlob({ ...blob, blobName: `${blob.blobName}x` })).created).toBe(true);
    const { items } = await index.listRejectedBlobs({ limit: 10 });
    expect(items.filter((r) => r.blobName === blob.blobName)).toHaveLength(2);
  });
});

describe('migration 0105 on a database with uploads and rejected blobs', () => {
  const migrations = partialMigrations('migrate-0105');
  afterAll(() => migrations.dispose());

  it('keys the rows already there by digest, keeping every name as it was', async () => {
    migrations.add((m) => m < '0105');
    const sql = await openSqlClient({ kind: 'pglite', dataDir: 'memory://' });
    try {
      await migrate(sql, { migrationsDir: migrations.url });
      const old = newUpload('C1', 'E1', `old-${randomBytes(4).toString('hex')}.jpg`);
      // As the code before 0105 wrote it.
      await sql.query(
        `INSERT INTO uploads (blob_name, case_id, evidence_id, file_name, root_file_id, size, etag, last_modified)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
        [old.blobName, old.caseId, old.evidenceId, old.fileName, old.rootFileId, old.size, old.etag, old.lastModified],
      );
      await sql.query(
        `INSERT INTO rejected_blobs (container, blob_name, etag, size, last_modified, reason, detail)
         VALUES ('evidence', 'IMG_1.JPG', '"0x1"', 1, now(), 'not-evidence-name', 'at the container root')`,
      );
      migrations.add((m) => m >= '0105');
      await migrate(sql, { migrationsDir: migrations.url });
      const index = createPostgresIndex(sql);
      expect((await index.getUpload(old.blobName))?.rootFileId).toBe(old.rootFileId);
      expect((await index.recordUpload(old)).created).toBe(false);
      const seen = await index.recordRejectedBlob({
        container: 'evidence', blobName: 'IMG_1.JPG', etag: '"0x1"', size: 1, lastModified: '2024-05-01T10:00:00.000Z', reason: 'not-evidence-name', detail: 'x',
      });
      expect(seen).toMatchObject({ created: false, record: { seenCount: 2 } });
    } finally {
      await sql.close();
    }
  });
});
