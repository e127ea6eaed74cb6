import { existsSync } from 'node:fs';
import { open, readFile, rm } from 'node:fs/promises';
import path from 'node:path';
import type { Command } from 'commander';
import { ExhibitError, type ExhibitConfig } from '@exhibit/core';
import {
  addTrustedKeys,
  appendLogCheckpointStore,
  createFileCheckpointStore,
  createLocalSigner,
  LOCAL_KEY_FILE,
  publicKeyOf,
  exportCustodyBundle,
  listKeyVaultPublicKeys,
  parseTrustedKeys,
  publicKeyBundle,
  readTrustedKeys,
  renderCustodyReportHtml,
  verifyCustody,
  verifyCustodyBundle,
  type CheckpointStore,
  type CustodyVerification,
  type PublicKeyRecord,
} from '@exhibit/custody';
import { azureCredential, createAzureAppendLog, createAzureBlobStore } from '@exhibit/storage';
import { apiPath, createApiClient, type ApiClient } from '../api/api-client.js';
import { EXIT } from '../cli-error.js';
import type { CliContext } from '../context.js';
import { printable } from '../render/format.js';
import { readToken } from '../token-store.js';
import { parseCaseTarget, WIDTH_DESCRIPTION, WIDTH_FLAGS, widthOption } from './option-parsers.js';
import { createNewOutputFile } from '../output-file.js';
import { renderCustodyReportText, renderVerificationForTerminal } from '../render/custody-report.render.js';
import { outputWidth } from '../render/output-width.js';

/** Verification re-hashes every evidence blob of the case; it may take much longer than a page of search results. */
const VERIFY_TIMEOUT_MS = 60 * 60 * 1000;

type Target = { caseId: string; evidenceId?: string };

interface VerifyOptions {
  json?: boolean;
  rehash: boolean;
  offline?: boolean;
  bundle?: string;
  keys?: string;
}

export function register(program: Command, ctx: CliContext): void {
  const custody = program.command('custody').description('chain of custody: verify the signed custody logs, print reports');

  custody
    .command('verify')
    .description('re-verify the custody logs of a case (<case>) or one evidence item (<case>/<evidence>) from storage')
    .argument('<target>', '<caseId> or <caseId>/<evidenceId>', parseCaseTarget)
    .option('--json', 'print the verification as JSON')
    .option('--no-rehash', 'do not re-hash the evidence blobs against the recorded hashes')
    .option(
      '--offline',
      'read the custody and evidence containers and the checkpoints directly with the storage credentials of this environment, without the API ' +
        '(and without the index copy); trusts the pinned keys of the data folder (Key Vault\'s key versions in Azure) or --keys',
    )
    .option('--bundle <file>', 'verify a bundle written by `custody export` with nothing else (no storage, no API); <target> must be its case')
    .option('--keys <file>', 'with --offline or --bundle: trust only the public keys in this file (from `custody keys export`, a keys.json, or a JSON array of keys)')
    .addHelpText('after', '\nExit codes: 0 verified, 1 error, 3 a broken chain or modified evidence.\nThe API route needs the supervisor role on the case.')
    .action(async (target: Target, options: VerifyOptions) => {
      if (options.offline && options.bundle !== undefined) throw new ExhibitError('invalid-argument', '--offline and --bundle are two different sources; give one');
      if (options.keys !== undefined && !options.offline && options.bundle === undefined) {
        throw new ExhibitError('invalid-argument', '--keys applies to --offline or --bundle verification only');
      }
      const result = options.bundle !== undefined
        ? await verifyBundleFile(target, options.bundle, options.keys)
        : options.offline
        ? await verifyOffline(ctx, target, options)
        : await (await longApi(ctx)).getJson<CustodyVerification>(apiPath('cases', target.caseId, 'custody', 'verify'), {
            query: { evidenceId: target.evidenceId, rehash: options.rehash ? undefined : 'false' },
            abortSignal: ctx.abortSignal,
          });
      ctx.stdout.write(options.json ? JSON.stringify(result, null, 2) + '\n' : renderVerificationForTerminal(result));
      if (!result.ok) ctx.setExitCode(EXIT.integrity);
    });

  custody
    .command('export')
    .description(
      'write a self-contained bundle of a case\'s custody (every log segment as stored, the signed checkpoints, the trusted public keys, ' +
        'a manifest with SHA-256 of each part) that `exhibit custody verify --bundle` checks with nothing else',
    )
    .argument('<case>', 'case id', (v: string) => parseCaseTarget(v).caseId)
    .requiredOption('-o, --output <file>', 'bundle file to create (never overwrites)')
    .option('--keys <file>', 'put these public keys in the bundle instead of the pinned ones')
    .action(async (caseId: string, options: { output: string; keys?: string }) => {
      const cfg = ctx.config();
      const trustedKeys = options.keys !== undefined ? await readKeysFile(options.keys) : await configuredTrust(cfg, ctx.abortSignal);
      let file;
      try {
        file = await open(options.output, 'wx', 0o644);
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        throw new ExhibitError(code === 'EEXIST' ? 'conflict' : 'invalid-argument', `cannot create ${printable(options.output)}: ${code === 'EEXIST' ? 'it already exists' : (code ?? 'error')}`, { cause: err });
      }
      let done = false;
      try {
        const { parts } = await exportCustodyBundle({
          log: createAzureAppendLog({ ...storageConnection(cfg), container: cfg.containers.custody }),
          checkpoints: checkpointStore(cfg),
          trustedKeys,
          caseId,
          write: async (line) => void (await file.write(line)),
          abortSignal: ctx.abortSignal,
        });
        await file.sync();
        done = true;
        const segments = parts.filter((p) => p.kind === 'segment').length;
        const checkpoints = parts.some((p) => p.kind === 'checkpoints');
        ctx.stderr.write(`bundle of case ${caseId} saved to ${printable(options.output)}: ${segments} log segment${segments === 1 ? '' : 's'}, ${checkpoints ? 'checkpoints' : 'no checkpoints'}, ${trustedKeys.length} public key${trustedKeys.length === 1 ? '' : 's'} (${trustedKeys.map((k) => k.keyId).join(', ')})\n`);
      } finally {
        await file.close();
        if (!done) await rm(options.output, { force: true });
      }
    });

  const keys = custody.command('keys').description('the public keys custody verification trusts');
  keys
    .command('export')
    .description('write the trusted public keys (the pinned set of the data folder, or Key Vault\'s key versions) for offline verifiers: `verify --keys`')
    .requiredOption('-o, --output <file>', 'file to create (never overwrites)')
    .action(async (options: { output: string }) => {
      const trusted = await configuredTrust(ctx.config(), ctx.abortSignal);
      const out = await createNewOutputFile(options.output);
      try {
        await out.write(Buffer.from(JSON.stringify(publicKeyBundle(trusted), null, 2) + '\n', 'utf8'));
      } finally {
        await out.discard();
      }
      ctx.stderr.write(`${trusted.length} public key${trusted.length === 1 ? '' : 's'} saved to ${printable(options.output)}: ${trusted.map((k) => k.keyId).join(', ')}\n`);
    });

  custody
    .command('trust')
    .description('the pinned key set of the data folder (local deployments; Azure trusts Key Vault\'s key versions)')
    .command('add')
    .description('add public keys (e.g. a new signing key\'s, exported with `custody keys export`) to the pinned set; only this command adds keys')
    .argument('[file]', 'public keys: a key bundle, a keys.json, or a JSON array of keys')
    .option('--signer', "add the public key of this data folder's current signing key (keys/custody-ed25519.pem), e.g. after replacing it on purpose")
    .action(async (file: string | undefined, options: { signer?: boolean }) => {
      const cfg = ctx.config();
      if (cfg.keyVault) throw new ExhibitError('invalid-argument', 'this deployment signs with Key Vault: its trusted keys are the Key Vault key\'s versions, not a pinned file');
      if ((file === undefined) === !options.signer) throw new ExhibitError('invalid-argument', 'give a key file or --signer (one of them)');
      let keys: PublicKeyRecord[];
      if (options.signer) {
        const keyDir = cfg.auth.kind === 'local' ? cfg.auth.keyDir : path.join(cfg.dataDir, 'keys');
        // Never create a key here: only an existing one is pinned.
        if (!existsSync(path.join(keyDir, LOCAL_KEY_FILE))) throw new ExhibitError('invalid-argument', `no custody signing key in ${printable(keyDir)}`);
        keys = [publicKeyOf(await createLocalSigner(keyDir))];
      } else {
        keys = await readKeysFile(file!);
      }
      const added = await addTrustedKeys(cfg.custodyTrust.trustFile, keys);
      ctx.stdout.write(added.length === 0 ? 'every key was already trusted\n' : `now trusted: ${added.join(', ')}\n`);
    });

  custody
    .command('report')
    .description(
      'chain-of-custody report of a case: the verification result and every entry (seq, time, actor, action, subject, hash); ' +
        'as text unless --json or --html',
    )
    .argument('<target>', '<caseId> or <caseId>/<evidenceId>', parseCaseTarget)
    .option('--html <file>', 'save the printable HTML report to this file (never overwrites); the summary is printed')
    .option('--json', 'print the report (verification with entries) as JSON')
    .option(WIDTH_FLAGS, WIDTH_DESCRIPTION, widthOption)
    .addHelpText('after', '\nExit codes: 0 verified, 1 error, 3 a broken chain or modified evidence.')
    .action(async (target: Target, options: { html?: string; json?: boolean; width?: number }) => {
      // Before the request: asking for a report is recorded in each custody log, so a name clash stops the command first.
      const html = options.html === undefined ? undefined : await createNewOutputFile(options.html);
      try {
        const api = await longApi(ctx);
        const result = await api.getJson<CustodyVerification>(apiPath('cases', target.caseId, 'custody', 'report'), {
          query: { evidenceId: target.evidenceId },
          abortSignal: ctx.abortSignal,
        });
        if (html) {
          // Rendered here from the same JSON the API verified, so the report costs one verification.
          await html.write(Buffer.from(renderCustodyReportHtml(result), 'utf8'));
          ctx.stderr.write(`report saved to ${printable(html.path)}\n`);
        }
        if (options.json) ctx.stdout.write(JSON.stringify(result, null, 2) + '\n');
        // With --html the file is the report; the terminal gets the verdict.
        else if (html) ctx.stdout.write(renderVerificationForTerminal(result));
        else ctx.stdout.write(renderCustodyReportText(result, { width: outputWidth(ctx.stdout, options.width) }));
        if (!result.ok) ctx.setExitCode(EXIT.integrity);
      } finally {
        await html?.discard();
      }
    });
}

/** The CLI's API client, with a timeout fit for verifying a whole case. */
async function longApi(ctx: CliContext): Promise<ApiClient> {
  const cfg = ctx.config();
  const token = cfg.cli.token ?? (await readToken(cfg.dataDir));
  return createApiClient({ baseUrl: cfg.api.baseUrl, token, timeoutMs: VERIFY_TIMEOUT_MS });
}

/**
 * Verification by anyone with read access to storage: the blobs are the
 * record, so no API, index or signing key is needed; only the public keys.
 */
async function verifyOffline(ctx: CliContext, target: Target, options: VerifyOptions): Promise<CustodyVerification> {
  const cfg = ctx.config();
  const connection = storageConnection(cfg);
  // Never the keys beside the logs: whoever can write there could have added one.
  const trustedKeys = options.keys !== undefined ? await readKeysFile(options.keys) : await configuredTrust(cfg, ctx.abortSignal);
  return verifyCustody({
    blobs: createAzureBlobStore(connection),
    log: createAzureAppendLog({ ...connection, container: cfg.containers.custody }),
    sql: null,
    checkpoints: checkpointStore(cfg),
    caseId: target.caseId,
    ...(target.evidenceId ? { evidenceId: target.evidenceId } : {}),
    containers: { evidence: cfg.containers.evidence },
    trustedKeys,
    checkEvidence: options.rehash,
    abortSignal: ctx.abortSignal,
  });
}

async function verifyBundleFile(target: Target, file: string, keysFile: string | undefined): Promise<CustodyVerification> {
  let bytes: Buffer;
  try {
    bytes = await readFile(file);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new ExhibitError('invalid-argument', `cannot read ${printable(file)}: ${code === 'ENOENT' ? 'no such file' : (code ?? 'unreadable')}`, { cause: err });
  }
  const trustedKeys = keysFile !== undefined ? await readKeysFile(keysFile) : undefined;
  const result = await verifyCustodyBundle(bytes, { ...(trustedKeys ? { trustedKeys } : {}), ...(target.evidenceId ? { evidenceId: target.evidenceId } : {}) });
  if (result.caseId !== target.caseId) throw new ExhibitError('invalid-argument', `${printable(file)} is the bundle of case ${result.caseId}, not ${target.caseId}`);
  return result;
}

function storageConnection(cfg: ExhibitConfig) {
  const s = cfg.storage;
  return s.kind === 'managed-identity' ? { blobUrl: s.blobUrl, credential: azureCredential() } : { connectionString: s.connectionString };
}

function checkpointStore(cfg: ExhibitConfig): CheckpointStore {
  const where = cfg.custodyTrust.checkpoints;
  return where.kind === 'directory' ? createFileCheckpointStore(where.dir) : appendLogCheckpointStore(createAzureAppendLog({ ...storageConnection(cfg), container: where.container }));
}

/** The trusted keys of this environment: Key Vault's key versions, or the data folder's pinned set. */
async function configuredTrust(cfg: ExhibitConfig, abortSignal: AbortSignal | undefined): Promise<PublicKeyRecord[]> {
  if (cfg.keyVault) {
    return listKeyVaultPublicKeys({ vaultUrl: cfg.keyVault.url, keyName: cfg.keyVault.keyName, credential: azureCredential(), ...(abortSignal ? { abortSignal } : {}) });
  }
  const pinned = await readTrustedKeys(cfg.custodyTrust.trustFile);
  if (!pinned) {
    throw new ExhibitError(
      'invalid-argument',
      `no trusted custody keys: ${printable(cfg.custodyTrust.trustFile)} does not exist (it is created when the host first starts). ` +
        'Give the keys with --keys <file> (from `exhibit custody keys export`); keys found beside the logs are never trusted',
    );
  }
  return pinned;
}

async function readKeysFile(file: string): Promise<PublicKeyRecord[]> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new ExhibitError('invalid-argument', `cannot read ${printable(file)}: ${code === 'ENOENT' ? 'no such file' : (code ?? 'unreadable')}`, { cause: err });
  }
  try {
    return parseTrustedKeys(JSON.parse(text));
  } catch (err) {
    if (err instanceof ExhibitError) throw err;
    throw new ExhibitError('invalid-argument', `${printable(file)} is not JSON`, { cause: err });
  }
}
