import { readFile } from 'node:fs/promises';
import type { Command } from 'commander';
import { ExhibitError } from '@exhibit/core';
import { parseTrustedKeys, renderCustodyReportHtml, verifyCustody, type CustodyVerification } from '@exhibit/custody';
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
    .option('--offline', 'read the custody and evidence containers directly with the storage credentials of this environment, without the API (and without the index copy)')
    .option('--keys <file>', 'with --offline: trust only the public keys in this file (a keys.json, or a JSON array of keys)')
    .addHelpText('after', '\nExit codes: 0 verified, 1 error, 3 a broken chain or modified evidence.\nThe API route needs the supervisor role on the case.')
    .action(async (target: Target, options: VerifyOptions) => {
      if (options.keys !== undefined && !options.offline) throw new ExhibitError('invalid-argument', '--keys applies to --offline verification only');
      const result = options.offline
        ? await verifyOffline(ctx, target, options)
        : await (await longApi(ctx)).getJson<CustodyVerification>(apiPath('cases', target.caseId, 'custody', 'verify'), {
            query: { evidenceId: target.evidenceId, rehash: options.rehash ? undefined : 'false' },
            abortSignal: ctx.abortSignal,
          });
      ctx.stdout.write(options.json ? JSON.stringify(result, null, 2) + '\n' : renderVerificationForTerminal(result));
      if (!result.ok) ctx.setExitCode(EXIT.integrity);
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
  const s = cfg.storage;
  const connection = s.kind === 'managed-identity' ? { blobUrl: s.blobUrl, credential: azureCredential() } : { connectionString: s.connectionString };
  let trustedKeys;
  if (options.keys !== undefined) {
    let text: string;
    try {
      text = await readFile(options.keys, 'utf8');
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      throw new ExhibitError('invalid-argument', `cannot read ${printable(options.keys)}: ${code === 'ENOENT' ? 'no such file' : (code ?? 'unreadable')}`, { cause: err });
    }
    try {
      trustedKeys = parseTrustedKeys(JSON.parse(text));
    } catch (err) {
      if (err instanceof ExhibitError) throw err;
      throw new ExhibitError('invalid-argument', `${printable(options.keys)} is not JSON`, { cause: err });
    }
  }
  return verifyCustody({
    blobs: createAzureBlobStore(connection),
    log: createAzureAppendLog({ ...connection, container: cfg.containers.custody }),
    sql: null,
    caseId: target.caseId,
    ...(target.evidenceId ? { evidenceId: target.evidenceId } : {}),
    containers: { evidence: cfg.containers.evidence },
    ...(trustedKeys ? { trustedKeys } : {}),
    checkEvidence: options.rehash,
    abortSignal: ctx.abortSignal,
  });
}
