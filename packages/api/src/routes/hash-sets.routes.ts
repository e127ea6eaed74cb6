import { z } from 'zod';
import { ExhibitError } from '@exhibit/core';
import { defineRoute, type ApiDeps, type RouteModule } from '../api.types.js';
import { OPERATIONS_ADMINS } from '../access-policy.js';

/** What these routes need of the index's hash sets (packages/index's HashSetStore provides it). */
export interface HashSetAdmin {
  list(options?: { includeSuperseded?: boolean }): Promise<HashSetView[]>;
  setEnabled(name: string, enabled: boolean): Promise<HashSetView>;
  rematch(setId: number): Promise<number>;
  remove(name: string): Promise<number>;
}

declare module '../api.types.js' {
  interface ApiExtensions {
    /** Hash-set administration (docs/known-files.md). */
    hashSets?: HashSetAdmin;
  }
}

const hashSetSchema = z.object({
  setId: z.number().int(),
  name: z.string(),
  version: z.string().nullable(),
  kind: z.enum(['known-good', 'known-bad', 'notable']),
  format: z.string(),
  sourceVersion: z.string().nullable(),
  categoryNames: z.record(z.string(), z.string()),
  sourceFileName: z.string(),
  sourceSha256: z.string(),
  sourceSize: z.number(),
  rowCount: z.number(),
  rejectedRows: z.number().describe('Malformed rows left out (imported with --skip-bad-rows); 0 otherwise'),
  importedBy: z.string(),
  importedAt: z.string(),
  activatedAt: z.string().nullable(),
  state: z.enum(['loading', 'matching', 'active', 'superseded']),
  enabled: z.boolean(),
  matchDone: z.boolean().describe('False while the re-match of existing cases is still running (or was interrupted)'),
  maxDistance: z.number().int().nullable().optional().describe("A PDQ list's limit in bits (a content within it matches); null for exact-digest sets"),
  matchedContents: z.number().describe('Distinct contents, across all cases, that match the set'),
});
type HashSetView = z.input<typeof hashSetSchema>;

const hashSetListSchema = z.object({ items: z.array(hashSetSchema) });
const removedSchema = z.object({ name: z.string(), removed: z.boolean() });
const name = z
  .string()
  .regex(/^[A-Za-z0-9][A-Za-z0-9 ._()-]{0,99}$/, 'must be a hash set name')
  .describe('Hash set name');
const access = { roles: OPERATIONS_ADMINS, caseScoped: false } as const;

/** 503 (the standard body) when this deployment was composed without hash sets. */
function sets(deps: ApiDeps): HashSetAdmin {
  const service = deps.extensions?.hashSets;
  if (!service) throw new ExhibitError('tool-unavailable', 'hash sets are not configured');
  return service;
}

/**
 * Hash sets are system-wide (not case data): admins list, enable, disable and
 * remove them. Importing is the CLI's (`exhibit hashset import`), which reads
 * the file where it lies instead of uploading tens of gigabytes.
 */
export const hashSetsRoutes: RouteModule = [
  defineRoute({
    method: 'GET',
    path: '/admin/hash-sets',
    operationId: 'listHashSets',
    summary: 'The hash sets in force (and any being built)',
    access,
    params: z.strictObject({}),
    query: z.strictObject({ all: z.enum(['true', 'false']).optional().describe('Also list superseded versions') }),
    responses: { 200: { description: 'Hash sets, by name', schema: hashSetListSchema } },
    async handler({ deps, query }) {
      const items = await sets(deps).list({ includeSuperseded: query.all === 'true' });
      return { status: 200, body: { items } satisfies z.input<typeof hashSetListSchema> };
    },
  }),
  defineRoute({
    method: 'POST',
    path: '/admin/hash-sets/{name}/enable',
    operationId: 'enableHashSet',
    summary: 'Use the set again; every existing case is re-matched in the background',
    description:
      'Answers at once; the re-match runs in this process, resumably (matchDone=false until it ends; after an interruption ' +
      '`exhibit hashset rematch` finishes it).',
    access,
    params: z.strictObject({ name }),
    query: z.strictObject({}),
    responses: { 202: { description: 'Enabled; re-match started', schema: hashSetSchema } },
    async handler({ deps, params, logger }) {
      const set = await sets(deps).setEnabled(params.name, true);
      void sets(deps)
        .rematch(set.setId)
        .then((added) => logger.info({ set: set.name, added }, 'hash set re-match finished'))
        .catch((err: unknown) => logger.error({ err, set: set.name }, 'hash set re-match stopped; exhibit hashset rematch resumes it'));
      return { status: 202, body: set };
    },
  }),
  defineRoute({
    method: 'POST',
    path: '/admin/hash-sets/{name}/disable',
    operationId: 'disableHashSet',
    summary: 'Stop using the set; its matches are withdrawn at once',
    access,
    params: z.strictObject({ name }),
    query: z.strictObject({}),
    responses: { 200: { description: 'Disabled', schema: hashSetSchema } },
    async handler({ deps, params }) {
      return { status: 200, body: await sets(deps).setEnabled(params.name, false) };
    },
  }),
  defineRoute({
    method: 'DELETE',
    path: '/admin/hash-sets/{name}',
    operationId: 'removeHashSet',
    summary: 'Remove the set, its hashes and its matches',
    access,
    params: z.strictObject({ name }),
    query: z.strictObject({}),
    responses: { 200: { description: 'Removed', schema: removedSchema } },
    async handler({ deps, params }) {
      await sets(deps).remove(params.name);
      return { status: 200, body: { name: params.name, removed: true } };
    },
  }),
];
