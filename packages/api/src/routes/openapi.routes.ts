import { z } from 'zod';
import { defineRoute, type RouteDef, type RouteModule } from '../api.types.js';
import { buildOpenApiDocument } from '../openapi.js';

/** Public: the document says what exists, never what a case holds. */
export function openApiRoutes(allRoutes: () => readonly RouteDef[]): RouteModule {
  let document: Record<string, unknown> | undefined;
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
        document ??= buildOpenApiDocument(allRoutes());
        return { status: 200, body: document };
      },
    }),
  ];
}
