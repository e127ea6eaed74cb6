'use strict';
/*
 * Loaded with `node --require` into the Azurite process the local host starts
 * (azurite.process.ts). Plain CommonJS because it runs before Azurite's own
 * entry point, without a TypeScript loader.
 *
 * The host opens an IPC channel to Azurite only to tie their lives together:
 * the channel closes when the host ends, however it ends (a clean stop, a
 * crash, SIGKILL), and then Azurite stops too. It stops through its own
 * SIGTERM handler, which closes the servers and writes the metadata Azurite
 * keeps in memory, so nothing is lost when the host was killed hard.
 */

/*
 * Azurite keeps its metadata (blobs, blocks, queue messages) in LokiJS databases
 * that it saves every 5 s, so a hard kill (kill -9, the OOM killer) loses up to
 * 5 s of writes: queue messages, derived blobs, custody log appends. Saving
 * every AUTOSAVE_MS shrinks that window; LokiJS saves only when something
 * changed, and writes a temporary file that it renames, so a kill during a save
 * keeps the previous one. The host's watchdog and reconciliation make up for
 * what the smaller window still loses (docs/operations.md, "When Azurite dies").
 *
 * The wait after a save grows with what the save took (1-5 s): see
 * azurite.autosave-wait.cjs.
 */
const { AUTOSAVE_MS, nextAutosaveMs } = require('./azurite.autosave-wait.cjs');

/** Per database: the autosave chain's generation and its current wait; kept off the object LokiJS serialises. */
const autosaveState = new WeakMap();
const stateOf = (db) => {
  if (!autosaveState.has(db)) autosaveState.set(db, { generation: 0, delayMs: null });
  return autosaveState.get(db);
};
const Module = require('node:module');
const originalLoad = Module._load;
Module._load = function load(request, parent, isMain) {
  const loaded = originalLoad.call(this, request, parent, isMain);
  if (request !== 'lokijs' || typeof loaded !== 'function' || loaded.__exhibitAutosave) return loaded;
  class FrequentSaveLoki extends loaded {
    constructor(filename, options) {
      const tuned = options && options.autosave
        ? Object.assign({}, options, { autosaveInterval: Math.min(options.autosaveInterval || AUTOSAVE_MS, AUTOSAVE_MS) })
        : options;
      super(filename, tuned);
    }

    /** The wait before the next autosave (ms), null when autosave is off; read by the tests. */
    get autosaveDelayMs() {
      return this.autosave ? stateOf(this).delayMs : null;
    }

    /** LokiJS's autosave, with a timer set again after each save for a wait that grows with what the save took. */
    autosaveEnable(options, callback) {
      this.autosaveDisable();
      this.autosave = true;
      const floorMs = Number.isFinite(this.autosaveInterval) ? this.autosaveInterval : AUTOSAVE_MS;
      // A save's callback must not start a second chain after a disable and enable meanwhile.
      const state = stateOf(this);
      const generation = state.generation;
      const schedule = (delayMs) => {
        state.delayMs = delayMs;
        this.autosaveHandle = setTimeout(tick, delayMs);
      };
      const tick = () => {
        if (generation !== state.generation) return;
        if (!this.autosaveDirty() || this.ignoreAutosave) return schedule(floorMs);
        const started = performance.now();
        this.saveDatabase((err) => {
          if (typeof callback === 'function') callback(err);
          if (generation === state.generation) schedule(nextAutosaveMs(performance.now() - started, floorMs));
        });
      };
      schedule(floorMs);
    }

    autosaveDisable() {
      stateOf(this).generation += 1;
      if (this.autosaveHandle !== undefined && this.autosaveHandle !== null) clearTimeout(this.autosaveHandle);
      this.autosaveHandle = null;
    }
  }
  FrequentSaveLoki.__exhibitAutosave = true;
  narrowestIndexFirst(loaded);
  return FrequentSaveLoki;
};

/*
 * Azurite looks a blob up with findOne({ accountName, containerName, name, snapshot })
 * (and a listing with find({ accountName, containerName })). LokiJS applies such
 * an object's properties in their written order and uses an index only for the
 * first: accountName, which every blob of the one account shares, so each lookup
 * copied the positions of all the account's blobs and then compared the rest of
 * the properties on each, O(blobs) per request. With ~20,000 thumbnails in
 * `derived`, every GET, PUT and HEAD paid that (docs/benchmarks.md, "Azurite's
 * cost per request"). The property whose index holds the fewest documents with
 * the wanted value goes first (a binary search per indexed property), and the
 * others filter those few.
 *
 * The properties are a conjunction, so the reorder never changes which
 * documents match, but it can change their order: LokiJS returns the matches
 * in the order its first property yields them, for an indexed equality the
 * index's order among equal values, for an operator the range of another
 * index or the collection's order. So a query is reordered only when its first
 * property is already a plain equality on an indexed property, the shape of
 * Azurite's lookups and its listings by container; then the matches came back
 * in the same order as without the preload in every case compared (random
 * inserts, updates, removes and queries, before and after a save and load;
 * and azurite.preload.test.ts). A query that starts with an operator, as
 * listBlobs's { name: { $regex }, accountName, containerName }, is left as it
 * is: reordered, a blob's snapshots came back in another order.
 */
function narrowestIndexFirst(Loki) {
  const Resultset = Loki.Resultset;
  if (!Resultset || Resultset.prototype.find.__exhibitNarrowest) return;
  const find = Resultset.prototype.find;
  function findNarrowestFirst(query, firstOnly) {
    return find.call(this, this.filterInitialized ? query : reorderedQuery(this.collection, query), firstOnly);
  }
  findNarrowestFirst.__exhibitNarrowest = true;
  Resultset.prototype.find = findNarrowestFirst;
}

/** A plain equality on an indexed top-level property: the only kind the reorder moves, or moves in front of. */
function isIndexedEquality(collection, key, value) {
  // Operators, dotted paths and objects keep LokiJS's own handling.
  if (key.startsWith('$') || key.includes('.') || !collection.binaryIndices[key]) return false;
  return !(value === undefined || value === null || (typeof value === 'object' && !(value instanceof Date)));
}

/** The query with its narrowest indexed equality first, or the query itself when that is already first or the query does not start with one. */
function reorderedQuery(collection, query) {
  // Without adaptive indices an index may be stale until find() rebuilds it; leave those collections alone.
  if (query === null || typeof query !== 'object' || Array.isArray(query) || collection.adaptiveBinaryIndices !== true) return query;
  const keys = Object.keys(query);
  if (keys.length < 2 || collection.data.length === 0) return query;
  // Only then does the order of the matches stay the same (see above).
  if (!isIndexedEquality(collection, keys[0], query[keys[0]])) return query;
  let best = -1;
  let bestCount = Infinity;
  keys.forEach((key, i) => {
    const value = query[key];
    if (!isIndexedEquality(collection, key, value)) return;
    const [low, high] = collection.calculateRange('$eq', key, value);
    const count = high - low + 1;
    if (count < bestCount) {
      best = i;
      bestCount = count;
    }
  });
  if (best <= 0) return query;
  // LokiJS's index search for $eq compares each candidate again with ===, so ordering keeps strict equality
  // ('01' does not find '1', though the index holds them equal as numbers).
  const reordered = { [keys[best]]: query[keys[best]] };
  for (const key of keys) if (key !== keys[best]) reordered[key] = query[key];
  return reordered;
}

let stopping = false;

function onSignal(signal) {
  // A repeated signal must not cut short the shutdown the first one started.
  if (stopping) return;
  stopping = true;
  // Azurite's handler listens for 'message', which keeps the channel (and so the
  // process) alive; drop it so Azurite exits once its servers are closed.
  if (process.connected) process.disconnect();
  // Azurite registers its own handler only once its servers listen. Before that
  // there is nothing to save, and this listener must not keep it from stopping.
  if (process.listenerCount(signal) === 1) process.exit(0);
}

process.on('SIGINT', () => onSignal('SIGINT'));
process.on('SIGTERM', () => onSignal('SIGTERM'));
process.on('disconnect', () => {
  if (!stopping) process.kill(process.pid, 'SIGTERM');
});
