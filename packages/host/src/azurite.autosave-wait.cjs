'use strict';
/*
 * The autosave's wait, apart from azurite.preload.cjs so that it can be tested
 * as a function: requiring the preload itself would patch Module._load and
 * install signal handlers in the requiring process. Plain CommonJS for the same
 * reason as the preload (it runs before Azurite, without a TypeScript loader).
 *
 * A save serialises the whole database, so it costs O(blobs): ~20,000
 * thumbnails make the blob database ~24 MB of JSON, a few hundred ms of CPU
 * per save, and saving that every second took most of Azurite's CPU in the
 * 4 GiB benchmark (docs/benchmarks.md, "Azurite's cost per request"). So the
 * wait after a save is SAVE_WAIT_FACTOR times what the save took, at least
 * AUTOSAVE_MS and at most AUTOSAVE_MAX_MS (Azurite's own interval): small
 * stores keep the one-second window, and saving takes about a tenth of
 * Azurite's time at most while a save takes under 0.5 s (past that the 5-s
 * cap lets it take more).
 */
const AUTOSAVE_MS = 1000;
const AUTOSAVE_MAX_MS = 5000;
const SAVE_WAIT_FACTOR = 10;

/**
 * The wait before the next autosave, after one that took `saveMs` (wall time:
 * a loaded machine, or a stalled event loop, waits longer, up to the ceiling).
 */
function nextAutosaveMs(saveMs, floorMs = AUTOSAVE_MS) {
  return Math.round(Math.min(AUTOSAVE_MAX_MS, Math.max(floorMs, SAVE_WAIT_FACTOR * saveMs)));
}

module.exports = { AUTOSAVE_MS, AUTOSAVE_MAX_MS, SAVE_WAIT_FACTOR, nextAutosaveMs };
