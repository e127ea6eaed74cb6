import { z } from 'zod';
import { defineRoute, type RouteDef, type RouteModule } from '../api.types.js';
import { buildOpenApiDocument } from '../openapi.js';
import { renderOpenApiHtml } from '../openapi-html.js';
import { apiIndexSchema } from '../response-schemas.js';

/** Public: these say what exists, never what a case holds. */
export function openApiRoutes(allRoutes: () => readonly RouteDef[]): RouteModule {
  let document: Record<string, unknown> | undefined;
  let html: Buffer | undefined;
  const doc = () => (document ??= buildOpenApiDocument(allRoutes()));
  return [
    defineRoute({
      method: 'GET',
      path: '/openapi.json',
      operationId: 'getOpenApi',
      summary: 'This API described as OpenAPI 3.1',
      access: 'public',
      params: z.strictObject({}),
      query: z.strictObject({}),
      responses: { 200: { description: 'OpenAPI document', schema: z.record(z.string(), z.unknown()) } },
      async handler() {
        return { status: 200, body: doc() };
      },
    }),

    defineRoute({
      method: 'GET',
      path: '/docs',
      operationId: 'getApiDocs',
      summary: 'This API described as one readable, self-contained HTML page',
      access: 'public',
      params: z.strictObject({}),
      query: z.strictObject({}),
      responses: { 200: { description: 'HTML page (no scripts, nothing loaded from elsewhere)', contentType: 'text/html' } },
      async handler() {
        html ??= Buffer.from(renderOpenApiHtml(doc()), 'utf8');
        return {
          status: 200,
          headers: {
            'content-type': 'text/html; charset=utf-8',
            'content-security-policy': "default-src 'none'; style-src 'unsafe-inline'",
            'cache-control': 'no-cache',
          },
          body: html,
        };
      },
    }),

    defineRoute({
      method: 'GET',
      path: '/',
      operationId: 'getApiIndex',
      summary: 'What this API is, where it is described, and its routes',
      access: 'public',
      params: z.strictObject({}),
      query: z.strictObject({}),
      responses: { 200: { description: 'Index of the API', schema: apiIndexSchema } },
      async handler() {
        const info = doc().info as { title: string; version: string };
        const routes = allRoutes().map((r) => ({ method: r.method, path: `/api${r.path === '/' ? '' : r.path}`, summary: r.summary }));
        return {
          status: 200,
          body: { name: info.title, version: info.version, openapi: '/api/openapi.json', docs: '/api/docs', routes } satisfies z.input<typeof apiIndexSchema>,
        };
      },
    }),
  ];
}
