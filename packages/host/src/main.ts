import { mkdirSync } from 'node:fs';
import path from 'node:path';
import pino from 'pino';
import { createRootLogger, errorMessage, loadConfig, type EvidenceStatus } from '@exhibit/core';
import { createAzureBlobStore } from '@exhibit/storage';
import { acquireDataFolderLock } from './data-folder.lock.js';
import { dataFolderLockPorts, startLocalHost, type LocalHost } from './local-host.js';
import { DEMO_USERS } from '@exhibit/runtime';
import { ingestSamples } from './samples.ingest.js';


let shuttingDown = false;

/**
 * `npm start`: the embedded stack in one process tree. Logs go to
 * <data dir>/logs/host.log as JSON; the terminal gets a short human summary.
 */
async function main(): Promise<void> {
  const config = loadConfig();
  // Before anything in the data folder is opened (the log file included): a second
  // start on a folder in use must leave it exactly as it was.
  const lock = await acquireDataFolderLock(config.dataDir, dataFolderLockPorts(config));
  process.on('exit', () => lock.release());

  const logDir = path.join(config.dataDir, 'logs');
  mkdirSync(logDir, { recursive: true });
  const logFile = path.join(logDir, 'host.log');
  const logger = createRootLogger({ level: config.logLevel, destination: pino.destination({ dest: logFile, sync: false, mkdir: true }) });
  const say = (line = '') => process.stdout.write(`${line}\n`);
  if (lock.tookOverFrom) {
    logger.warn({ previous: lock.tookOverFrom }, 'took over the data folder lock of a host that did not stop cleanly');
  }

  // Signals are handled from here on, so a stop requested while the stack is still
  // starting waits for it to be up and then stops it cleanly (Azurite included).
  let starting: Promise<LocalHost> | undefined;
  const shutdown = async (signal: string) => {
    if (shuttingDown) return;
    shuttingDown = true;
    say(`\n${signal}: stopping (work in progress is finished or handed back to the queue)…`);
    const host = await starting?.catch(() => undefined);
    await host?.stop();
    logger.flush();
    process.exit(0);
  };
  // `npm start` forwards SIGINT and SIGTERM to this process (its script execs node, so
  // nothing sits in between); a Ctrl+C in the terminal delivers SIGINT here as well, and
  // closing the terminal SIGHUP, after which the summary has nowhere to go (the log has it all).
  process.stdout.on('error', () => undefined);
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(signal, () => void shutdown(signal));

  // Storage (Azurite) died and would not stay up, or PGlite failed in its process (a WebAssembly trap, a kill): stop loudly
  // with a non-zero exit rather than serve frozen progress.
  const stopLoudly = (lost: 'storage' | 'index', reason: string) => {
    if (shuttingDown) return;
    shuttingDown = true;
    const what = lost === 'storage' ? 'storage (Azurite)' : 'the index';
    const logs = lost === 'storage' ? `${logFile} and the Azurite log in ${config.dataDir}/azurite/azurite.log` : logFile;
    process.stderr.write(`exhibit: ${what} could not be kept running: ${reason}\nexhibit: stopping; see ${logs}\n`);
    void starting
      ?.then((host) => host.stop())
      .catch(() => undefined)
      .finally(() => {
        logger.flush();
        process.exit(1);
      });
  };

  say(`Exhibit local stack — data in ${config.dataDir}`);
  if (lock.tookOverFrom) say(`  (the previous host, pid ${lock.tookOverFrom.pid}, did not stop cleanly; its lock was taken over)`);
  say(`  storage: ${config.storage.kind === 'embedded-azurite' ? `Azurite (blob :${config.storage.blobPort}, queue :${config.storage.queuePort})` : config.storage.kind}`);
  say(`  index:   ${config.database.kind === 'pglite' ? 'PGlite (embedded PostgreSQL, in an index process of its own)' : 'PostgreSQL (DATABASE_URL)'}`);
  say(`  logs:    ${logFile}`);
  starting = startLocalHost(config, {
    logger,
    dataFolderLock: lock,
    onIndexBusyWait: ({ pid, port, waitMs }) =>
      say(
        port === null
          ? `  index:   an index process an earlier host left (pid ${pid}) may still be opening the index; waiting up to ${Math.round(waitMs / 1000)} s for it to end…`
          : `  index:   an index process an earlier host left (pid ${pid}, port ${port}) is busy and does not answer; waiting up to ${Math.round(waitMs / 1000)} s for it…`,
      ),
    onStorageLost: (reason) => stopLoudly('storage', reason),
    onIndexLost: (reason) => stopLoudly('index', reason),
  });
  const host = await starting;
  if (shuttingDown) return;
  const index = host.indexProcess();
  if (index) say(`  index process: pid ${index.pid}, 127.0.0.1:${index.port} (log: ${path.join(logDir, 'index-process.log')})`);
  say(`  API:     ${host.apiUrl}  (OpenAPI: ${host.apiUrl}/openapi.json)`);
  say(`  review:  ${host.appUrl}${host.appBuilt ? '' : '  (not built yet: run `npm run build`)'}`);

  if (!config.worker.ingestSamples) {
    say('Ready. Upload evidence to container "evidence" as <caseId>/<evidenceId>/<file name>.');
    return;
  }
  if (config.storage.kind === 'managed-identity') return;
  const uploader = createAzureBlobStore({ connectionString: config.storage.connectionString });
  const { manifest, uploaded } = await ingestSamples(uploader, config.containers.evidence, logger);
  // So the commands printed below work on a fresh machine: demo users on the sample case only.
  for (const [user, role] of DEMO_USERS) {
    const { changed } = await host.app.access.assign(manifest.caseId, user, { role, by: 'local-host:sample-setup' });
    if (changed) logger.info({ caseId: manifest.caseId, user, role }, 'demo user assigned to the sample case');
  }
  say(uploaded > 0 ? `Uploaded the sample extraction (case ${manifest.caseId}); processing…` : `Sample extraction already uploaded (case ${manifest.caseId}).`);
  await host.scanNow();

  const started = Date.now();
  const statuses = new Map<string, EvidenceStatus>();
  for (;;) {
    let allComplete = true;
    for (const ev of manifest.evidence) {
      const status = await host.app.index.evidenceStatus(manifest.caseId, ev.evidenceId);
      if (status) statuses.set(ev.evidenceId, status);
      if (!status?.complete) allComplete = false;
    }
    if (allComplete || shuttingDown) break;
    if (Date.now() - started > 10 * 60 * 1000) {
      say('Still processing after 10 minutes; see the log and `npm run exhibit -- status`.');
      break;
    }
    await new Promise((r) => setTimeout(r, 500));
  }
  if (shuttingDown) return;
  say('');
  say(
    uploaded > 0
      ? `Case ${manifest.caseId} processed in ${((Date.now() - started) / 1000).toFixed(1)} s:`
      : `Case ${manifest.caseId} (kept from an earlier run):`,
  );
  for (const [evidenceId, s] of statuses) {
    const integrity = s.uploads.map((u) => `${u.fileName}: ${u.integrity}`).join(', ');
    say(`  ${evidenceId}: ${s.files.total} files, ${s.files.byStage.indexed} indexed, ${s.files.byStage.failed} failed, ${s.findings.length} ${s.findings.length === 1 ? 'finding' : 'findings'} — ${s.complete ? 'complete' : 'incomplete'}`);
    say(`    integrity: ${integrity}`);
    for (const f of s.failures.slice(0, 5)) say(`    failed: ${f.path} (${f.stage}: ${f.code}) ${f.detail.slice(0, 100)}`);
  }
  say('');
  say(`Open ${host.appUrl} in a browser and sign in as alice, erin or sam (the demo users on this case);`);
  say('or, in another terminal:');
  say(`  npm run exhibit -- login --user alice --role investigator`);
  say(`  npm run exhibit -- status ${manifest.caseId}`);
  say(`  npm run exhibit -- search ${manifest.caseId} --kind image --has-gps`);
  say(`  npm run exhibit -- login --user sam --role supervisor`);
  say(`  npm run exhibit -- custody verify ${manifest.caseId}`);
  say('Press Ctrl+C to stop; state is kept in the data folder and survives a restart.');
}

main().catch((err: unknown) => {
  // Work cut short by a stop (the sample summary, say) is no failure; the stop exits.
  if (shuttingDown) return;
  process.stderr.write(`exhibit: ${errorMessage(err)}\n`);
  process.exit(1);
});
