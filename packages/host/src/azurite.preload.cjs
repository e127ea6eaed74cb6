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
 * A save serialises the whole database, so it costs O(blobs): ~20,000
 * thumbnails make the blob database ~16 MB of JSON, a few hundred ms of CPU
 * per save, and saving that every second took most of Azurite's CPU in the
 * 4 GiB benchmark (docs/benchmarks.md, "Azurite's cost per request"). So the
 * wait after a save is SAVE_WAIT_FACTOR times what the save took, at least
 * AUTOSAVE_MS and at most AUTOSAVE_MAX_MS (Azurite's own interval): small
 * stores keep the one-second window, and saving never takes more than about a
 * tenth of Azurite's time however large the store grows.
 */
const AUTOSAVE_MS = 1000;
const AUTOSAVE_MAX_MS = 5000;
const SAVE_WAIT_FACTOR = 10;

/** The wait before the next autosave, after one that took `saveMs` (wall time: a loaded machine waits longer). */
function nextAutosaveMs(saveMs, floorMs = AUTOSAVE_MS) {
  return Math.round(Math.min(AUTOSAVE_MAX_MS, Math.max(floorMs, SAVE_WAIT_FACTOR * saveMs)));
}

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
 * cost per request"). The properties are a conjunction, so their order changes
 * only the order of several matches, which Azurite 3.35 either sorts
 * afterwards, gathers into a map, or does not have (its findOne keys are unique):
 * the property whose index holds the fewest documents with the wanted value goes
 * first (a binary search per indexed property), and the others filter those few.
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

/** The query with its narrowest indexed equality first, or the query itself when that is already first or there is none. */
function reorderedQuery(collection, query) {
  // Without adaptive indices an index may be stale until find() rebuilds it; leave those collections alone.
  if (query === null || typeof query !== 'object' || Array.isArray(query) || collection.adaptiveBinaryIndices !== true) return query;
  const keys = Object.keys(query);
  if (keys.length < 2 || collection.data.length === 0) return query;
  let best = -1;
  let bestCount = Infinity;
  keys.forEach((key, i) => {
    const value = query[key];
    // Plain equality on an indexed top-level property only: operators, dotted paths and objects keep LokiJS's own handling.
    if (key.startsWith('$') || key.includes('.') || !collection.binaryIndices[key]) return;
    if (value === undefined || value === null || (typeof value === 'object' && !(value instanceof Date))) return;
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
