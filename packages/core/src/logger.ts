import pino, { type Logger } from 'pino';

export type { Logger };

/** Secrets that can appear inside strings: SAS signatures, account keys, connection strings, bearer tokens. */
const SECRET_PATTERNS: Array<[RegExp, string]> = [
  [/([?&]sig=)[^&\s"']+/gi, '$1[REDACTED]'],
  [/(AccountKey=)[^;\s"']+/gi, '$1[REDACTED]'],
  [/(SharedAccessKey=)[^;\s"']+/gi, '$1[REDACTED]'],
  [/(SharedAccessSignature=)[^;\s"']+/gi, '$1[REDACTED]'],
  [/(postgres(?:ql)?:\/\/[^:\s/]+:)[^@\s]+@/gi, '$1[REDACTED]@'],
  [/(Bearer\s+)[A-Za-z0-9._~+/-]+=*/g, '$1[REDACTED]'],
];

export function redactSecrets(text: string): string {
  let out = text;
  for (const [re, replacement] of SECRET_PATTERNS) out = out.replace(re, replacement);
  return out;
}

function scrub(value: unknown, depth = 0): unknown {
  if (typeof value === 'string') return redactSecrets(value);
  if (depth > 6 || value === null || typeof value !== 'object') return value;
  if (value instanceof Error) {
    return { type: value.name, message: redactSecrets(value.message), code: (value as { code?: unknown }).code, stack: value.stack ? redactSecrets(value.stack) : undefined };
  }
  if (Array.isArray(value)) return value.map((v) => scrub(v, depth + 1));
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) out[k] = scrub(v, depth + 1);
  return out;
}

/** The one root logger. Everything else uses children of it. */
export function createRootLogger(options: { level?: string; destination?: pino.DestinationStream } = {}): Logger {
  return pino(
    {
      level: options.level ?? 'info',
      base: { app: 'exhibit' },
      redact: {
        paths: [
          'connectionString',
          '*.connectionString',
          'accountKey',
          '*.accountKey',
          'sasUrl',
          '*.sasUrl',
          'url',
          '*.url',
          'token',
          '*.token',
          'authorization',
          '*.authorization',
          'headers.authorization',
          'req.headers.authorization',
        ],
        censor: '[REDACTED]',
      },
      hooks: {
        logMethod(args, method) {
          method.apply(this, args.map((a) => scrub(a)) as Parameters<typeof method>);
        },
      },
      serializers: { err: (err: unknown) => scrub(err) },
    },
    options.destination,
  );
}

export interface InvocationIds {
  caseId?: string;
  evidenceId?: string;
  fileId?: string;
  stage?: string;
  messageId?: string;
  invocationId?: string;
}

export function invocationLogger(root: Logger, ids: InvocationIds): Logger {
  const bindings: Record<string, string> = {};
  for (const [k, v] of Object.entries(ids)) if (v !== undefined) bindings[k] = v;
  return root.child(bindings);
}
