import { Validator } from '@seriousme/openapi-schema-validator';
import { describe, expect, it } from 'vitest';
import type { RouteDef } from './api.types.js';
import { buildOpenApiDocument } from './openapi.js';
import { ROUTE_TABLE } from './route-table.js';
import { openApiRoutes } from './routes/openapi.routes.js';

const routes: RouteDef[] = [];
routes.push(...openApiRoutes(() => routes), ...ROUTE_TABLE.flat());
const doc = buildOpenApiDocument(routes) as {
  openapi: string;
  paths: Record<string, Record<string, { operationId: string; security: unknown[]; parameters: Array<{ name: string; in: string; required: boolean }>; responses: Record<string, unknown>; requestBody?: unknown }>>;
};

describe('OpenAPI document', () => {
  it('is a valid OpenAPI 3.1 document', async () => {
    const result = await new Validator().validate(structuredClone(doc) as never);
    expect(result.errors ?? []).toEqual([]);
    expect(result.valid).toBe(true);
    expect(doc.openapi).toBe('3.1.0');
  });

  it('describes every route of the table with its path parameters and security', () => {
    expect(routes.length).toBeGreaterThanOrEqual(12);
    const documented = Object.entries(doc.paths).flatMap(([p, ops]) => Object.keys(ops).map((m) => `${m.toUpperCase()} ${p}`));
    expect(documented.sort()).toEqual(routes.map((r) => `${r.method} ${r.path}`).sort());
    for (const route of routes) {
      const op = doc.paths[route.path]![route.method.toLowerCase()]!;
      expect(op.operationId).toBe(route.operationId);
      const pathParams = [...route.path.matchAll(/\{(\w+)\}/g)].map((m) => m[1]);
      expect(op.parameters.filter((p) => p.in === 'path').map((p) => p.name)).toEqual(pathParams);
      expect(op.parameters.filter((p) => p.in === 'path').every((p) => p.required)).toBe(true);
      expect(op.security).toEqual(route.access === 'public' ? [] : [{ bearer: [] }]);
      if (route.access !== 'public') expect(Object.keys(op.responses)).toContain('401');
      if (route.access !== 'public' && route.access.caseScoped) expect(Object.keys(op.responses)).toContain('404');
      expect(Boolean(op.requestBody)).toBe(Boolean(route.body));
    }
  });

  it('lists every search parameter as an optional query parameter', () => {
    const search = doc.paths['/cases/{caseId}/files']!.get!;
    const query = search.parameters.filter((p) => p.in === 'query');
    expect(query.map((p) => p.name).sort()).toEqual(
      [
        'evidenceId', 'kind', 'mime', 'takenFrom', 'takenTo', 'takenLocalFrom', 'takenLocalTo', 'takenOffset', 'make', 'model', 'hasGps', 'bbox', 'hash',
        'path', 'extMismatch', 'stage', 'duplicates', 'tag', 'tagged', 'known', 'includeKnownGood', 'sort', 'order', 'limit', 'offset', 'cursor',
      ].sort(),
    );
    expect(query.every((p) => !p.required)).toBe(true);
  });

  it('gives map, timeline and export exactly the search filter, plus their own parameters', () => {
    const names = (path: string) => doc.paths[path]!.get!.parameters.filter((p) => p.in === 'query').map((p) => p.name);
    const filter = names('/cases/{caseId}/files').filter((n) => !['sort', 'order', 'limit', 'offset', 'cursor'].includes(n)).sort();
    expect(names('/cases/{caseId}/map').sort()).toEqual([...filter, 'zoom'].sort());
    expect(names('/cases/{caseId}/timeline').sort()).toEqual([...filter, 'bucket'].sort());
    expect(names('/cases/{caseId}/export').sort()).toEqual([...filter, 'format'].sort());
  });

  it('documents that a download URL is a revocable API link, when a SAS is given instead, and the content route that streams the bytes', () => {
    const op = doc.paths['/cases/{caseId}/files/{fileId}/download']!.get! as unknown as { description: string; responses: Record<string, unknown> };
    expect(op.description).toMatch(/unassigning them ends the link at\s+once/);
    expect(op.description).toMatch(/Only whole-blob files over 1 GiB get a read-only storage SAS/);
    expect(op.description).toMatch(/A SAS cannot be revoked/);
    const schema = findObjectWith(op.responses['200'], 'range') as { required?: string[]; properties: Record<string, unknown> };
    expect(schema.required).toContain('range');
    expect(JSON.stringify(schema.properties.range)).toContain('"null"');
    expect(JSON.stringify(schema.properties.range)).not.toMatch(/"offset"/);
    const content = doc.paths['/cases/{caseId}/files/{fileId}/content']!.get! as unknown as { description: string; responses: Record<string, unknown> };
    expect(content.description).toMatch(/no\s+Range header or parameter can widen it/);
    expect(JSON.stringify(content.responses['200'])).toContain('application/octet-stream');
  });

  it('shows the offset of a source wherever a source is shown', () => {
    const detail = doc.paths['/cases/{caseId}/files/{fileId}']!.get!.responses['200'];
    // Blob sources only (a recorded time's `source` is a string): file, content and provenance link.
    const sources = collect(detail, 'source')
      .map((s) => JSON.stringify(s))
      .filter((s) => s.includes('"container"'));
    expect(sources.length).toBeGreaterThanOrEqual(3);
    for (const s of sources) expect(s).toContain('"offset"');
  });

  it('is public only for itself: the document, its HTML rendering and the index at /api', () => {
    expect(routes.filter((r) => r.access === 'public').map((r) => r.path).sort()).toEqual(['/', '/docs', '/openapi.json']);
  });
});

/** The first JSON-schema object under `node` whose properties include `key`. */
function findObjectWith(node: unknown, key: string): unknown {
  if (!node || typeof node !== 'object') return undefined;
  const props = (node as { properties?: Record<string, unknown> }).properties;
  if (props && key in props) return node;
  for (const v of Object.values(node)) {
    const found = findObjectWith(v, key);
    if (found) return found;
  }
  return undefined;
}

/** Every schema found as property `key` of an object schema under `node`. */
function collect(node: unknown, key: string, out: unknown[] = []): unknown[] {
  if (!node || typeof node !== 'object') return out;
  const props = (node as { properties?: Record<string, unknown> }).properties;
  if (props && key in props && typeof props[key] === 'object') out.push(props[key]);
  for (const v of Object.values(node)) collect(v, key, out);
  return out;
}
