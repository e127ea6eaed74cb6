import { assertValidId, ExhibitError, type AppendLog, type BlobStore, type CustodyEvent, type CustodyRecorder, type Logger } from '@exhibit/core';
import { writeCheckpoints, type CheckpointRun, type CheckpointStore } from './custody-checkpoint.js';
import { CUSTODY_LIMITS } from './custody-entry.js';
import { listIndexedEntries, type CustodySql, type IndexedCustodyEntry } from './custody-index.sql.js';
import { verifyCustody, type CustodyVerification } from './custody-verify.js';
import { CustodyWriter } from './custody-writer.js';
import { registerKey } from './key-registry.js';
import { publicKeyOf, sameKey, type PublicKeyRecord, type Signer } from './signer.js';

/** Verification and reports for the API and the CLI. */
export interface CustodyAudit {
  /** Verifies the case's logs (or one evidence item's) from storage. */
  verify(options: { caseId: string; evidenceId?: string; checkEvidence?: boolean; abortSignal?: AbortSignal }): Promise<CustodyVerification>;
  /** Verification with the verified entries included (up to CUSTODY_LIMITS.maxReportEntries per item), for reports. */
  report(options: { caseId: string; evidenceId?: string; abortSignal?: AbortSignal }): Promise<CustodyVerification>;
  /**
   * Entries from the index copy (fast, for provenance and audit views), e.g.
   * everything recorded about one file occurrence or one content hash.
   * Verification always reads the blobs instead.
   */
  entries(filter: { caseId: string; evidenceId?: string; fileId?: string; sha256?: string; limit?: number }): Promise<IndexedCustodyEntry[]>;
  /** The key this deployment signs with. */
  publicKey(): PublicKeyRecord;
  /** The keys verification trusts (the pinned set or Key Vault's key versions): what `custody keys export` hands out. */
  trustedKeys(): PublicKeyRecord[];
  /** Writes a signed checkpoint of every log whose head moved (all cases, or one). A no-op without a checkpoint store. */
  checkpoint(options?: { caseId?: string; abortSignal?: AbortSignal }): Promise<CheckpointRun>;
  /** Where checkpoints are kept, or null when this deployment keeps none. */
  readonly checkpointStore: CheckpointStore | null;
}

export interface CustodyLog extends CustodyRecorder, CustodyAudit {}

export interface CustodyLogOptions {
  appendLog: AppendLog;
  blobs: BlobStore;
  sql: CustodySql;
  signer: Signer;
  containers: { custody: string; evidence: string };
  logger: Logger;
  /**
   * The keys verification trusts, from a registry outside the custody
   * container (the pinned local set, Key Vault's key versions). Must include
   * the signer's key. Default: the signer's key only. Keys published beside
   * the logs are never trusted.
   */
  trustedKeys?: PublicKeyRecord[];
  /** Append-only store of signed head checkpoints (see custody-checkpoint.ts). */
  checkpoints?: CheckpointStore | null;
  /** Start a new segment after this many entries (default 40,000; at most that). */
  rolloverEntries?: number;
  /** Start a new segment after this many bytes (default 150 MiB). */
  rolloverBytes?: number;
  /** Version recorded on the entries the log writes itself. */
  toolVersion?: string;
  now?: () => Date;
}

/**
 * The custody log: a signed, hash-chained, append-only log per evidence item
 * in the custody container, with a queryable copy in the index.
 */
export function createCustodyLog(options: CustodyLogOptions): CustodyLog {
  if (options.appendLog.container !== options.containers.custody) {
    throw new ExhibitError('invalid-config', `custody append log writes to ${options.appendLog.container}, expected ${options.containers.custody}`);
  }
  const key = publicKeyOf(options.signer);
  const trustedKeys = options.trustedKeys ?? [key];
  if (!trustedKeys.some((k) => sameKey(k, key))) {
    throw new ExhibitError('invalid-config', `the custody signing key ${key.keyId} is not among the trusted keys; entries it signs would not verify`);
  }
  const checkpointStore = options.checkpoints ?? null;
  const writer = new CustodyWriter(
    {
      appendLog: options.appendLog,
      sql: options.sql,
      signer: options.signer,
      logger: options.logger,
      trustedKeys,
      ...(options.toolVersion ? { toolVersion: options.toolVersion } : {}),
      ...(options.rolloverEntries ? { rolloverEntries: options.rolloverEntries } : {}),
      ...(options.rolloverBytes ? { rolloverBytes: options.rolloverBytes } : {}),
      ...(options.now ? { now: options.now } : {}),
    },
    (caseId, o) => registerKey(options.appendLog, caseId, key, { ...o, ...(options.now ? { now: options.now } : {}) }),
  );
  const verify = (o: { caseId: string; evidenceId?: string; checkEvidence?: boolean; abortSignal?: AbortSignal }, collectEntries: number) =>
    verifyCustody({
      blobs: options.blobs,
      log: options.appendLog,
      sql: options.sql,
      caseId: o.caseId,
      ...(o.evidenceId ? { evidenceId: o.evidenceId } : {}),
      containers: { evidence: options.containers.evidence },
      trustedKeys,
      checkpoints: checkpointStore,
      ...(o.checkEvidence === undefined ? {} : { checkEvidence: o.checkEvidence }),
      collectEntries,
      ...(options.now ? { now: options.now } : {}),
      ...(o.abortSignal ? { abortSignal: o.abortSignal } : {}),
    });
  return {
    record: async (event: CustodyEvent, o?: { abortSignal?: AbortSignal }) => {
      await writer.record(event, o);
      // The end of processing is a natural moment to pin the heads; the timer covers everything else.
      if (event.action === 'processing-complete' && checkpointStore) {
        await writeCheckpoints({ sql: options.sql, store: checkpointStore, signer: options.signer, caseId: event.caseId, ...(options.now ? { now: options.now } : {}) }).catch(
          (err: unknown) => options.logger.warn({ err, caseId: event.caseId }, 'custody checkpoint after processing failed; the checkpoint timer will write it'),
        );
      }
    },
    verify: (o) => verify(o, 0),
    report: (o) => verify(o, CUSTODY_LIMITS.maxReportEntries),
    entries: (f) =>
      listIndexedEntries(options.sql, {
        caseId: assertValidId('case', f.caseId),
        ...(f.evidenceId ? { evidenceId: f.evidenceId } : {}),
        ...(f.fileId ? { fileId: f.fileId } : {}),
        ...(f.sha256 ? { sha256: f.sha256 } : {}),
        limit: Math.max(1, Math.min(f.limit ?? CUSTODY_LIMITS.maxReportEntries, CUSTODY_LIMITS.maxReportEntries)),
      }),
    publicKey: () => key,
    trustedKeys: () => [...trustedKeys],
    checkpointStore,
    checkpoint: async (o = {}) =>
      checkpointStore
        ? writeCheckpoints({
            sql: options.sql,
            store: checkpointStore,
            signer: options.signer,
            ...(o.caseId ? { caseId: assertValidId('case', o.caseId) } : {}),
            ...(options.now ? { now: options.now } : {}),
            ...(o.abortSignal ? { abortSignal: o.abortSignal } : {}),
          })
        : { written: [], checkpoints: 0 },
  };
}
