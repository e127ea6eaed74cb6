import { describe, expect, it } from 'vitest';
import { MemoryBlobSource, tarOf, zipOf } from '../../test/fixtures/archives/archive-fixtures.js';
import { ENTRIES_PER_TURN, type ArchiveReader } from './archive-reader.js';
import { openTarReader } from './tar.reader.js';
import { openZipReader } from './zip.reader.js';

const ENTRIES = 5000;
const names = Array.from({ length: ENTRIES }, (_, i) => `d${i}`);

/**
 * The entry index at which a turn of the event loop scheduled before the
 * listing first ran. Before ENTRIES_PER_TURN, both readers listed all 5000
 * buffered entries without one: the turn came only after the last.
 */
async function firstTurnAt(reader: ArchiveReader): Promise<number | undefined> {
  let turned = false;
  setImmediate(() => {
    turned = true;
  });
  let seen = 0;
  let at: number | undefined;
  for await (const entry of reader.entries()) {
    seen += 1;
    if (turned && at === undefined) at = entry.index;
  }
  expect(seen).toBe(ENTRIES);
  return at;
}

describe('archive listings leave the event loop free', () => {
  it(`regression: zip-5000-directories-listed-without-a-turn-of-the-event-loop — the loop turns every ${ENTRIES_PER_TURN} entries`, async () => {
    const zip = await zipOf(names.map((name) => ({ name, directory: true })));
    const { store, ref } = MemoryBlobSource.of('a.zip', zip);
    const reader = await openZipReader(store, ref, { size: zip.length, maxEntryNameBytes: 4096 });
    const at = await firstTurnAt(reader);
    await reader.close();
    expect(at).toBeDefined();
    expect(at!).toBeLessThanOrEqual(ENTRIES_PER_TURN);
  });

  it(`regression: tar-5000-directories-listed-without-a-turn-of-the-event-loop — the loop turns every ${ENTRIES_PER_TURN} entries`, async () => {
    const tar = await tarOf(names.map((name) => ({ name, type: 'directory' as const })));
    const { store, ref } = MemoryBlobSource.of('a.tar', tar);
    const reader = await openTarReader(store, ref, { gzip: false, maxEntryNameBytes: 4096, maxCompressionRatio: 1000, compressionRatioMinBytes: 1 << 20 });
    const at = await firstTurnAt(reader);
    await reader.close();
    expect(at).toBeDefined();
    expect(at!).toBeLessThanOrEqual(ENTRIES_PER_TURN);
  });
});
