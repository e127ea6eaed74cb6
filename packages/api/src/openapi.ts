import { z } from 'zod';
import type { RouteDef } from './api.types.js';
import { errorSchema } from './response-schemas.js';

type JsonSchema = Record<string, unknown>;

/** OpenAPI 3.1 uses JSON Schema 2020-12, which is what zod emits. */
function jsonSchema(schema: z.ZodType, io: 'input' | 'output'): JsonSchema {
  const { $schema: _ignored, ...rest } = z.toJSONSchema(schema, { io, unrepresentable: 'any' }) as JsonSchema;
  return rest;
}

const json = (schema: JsonSchema) => ({ 'application/json': { schema } });
const errorRef = { $ref: '#/components/schemas/Error' };

function parameters(route: RouteDef): JsonSchema[] {
  const out: JsonSchema[] = [];
  for (const [where, object] of [['path', route.params], ['query', route.query]] as const) {
    const schema = jsonSchema(object, 'input') as { properties?: Record<string, JsonSchema>; required?: string[] };
    for (const [name, property] of Object.entries(schema.properties ?? {})) {
      const { description, ...propertySchema } = property;
      const p: JsonSchema = { name, in: where, required: where === 'path' || (schema.required ?? []).includes(name), schema: propertySchema };
      if (typeof description === 'string') p.description = description;
      out.push(p);
    }
  }
  return out;
}

function responses(route: RouteDef): JsonSchema {
  const out: JsonSchema = {};
  for (const [status, spec] of Object.entries(route.responses)) {
    const r: JsonSchema = { description: spec.description };
    if (spec.schema) r.content = json(jsonSchema(spec.schema, 'output'));
    else if (spec.contentType) r.content = { [spec.contentType]: { schema: { type: 'string', format: 'binary' } } };
    out[status] = r;
  }
  const hasInput = Object.keys(route.params.shape).length + Object.keys(route.query.shape).length > 0 || route.body;
  if (hasInput) out['400'] = { description: 'Invalid or unknown parameters (all are named)', content: json(errorRef) };
  if (route.access !== 'public') {
    out['401'] = { description: 'No valid bearer token', content: json(errorRef) };
    out['403'] = { description: 'Your roles do not allow this', content: json(errorRef) };
    out['503'] = { description: 'A backing service is unavailable; retry later', content: json(errorRef) };
  }
  if (route.access !== 'public' && route.access.caseScoped) {
    out['404'] = { description: 'Not found, or you are not assigned to the case (the same answer)', content: json(errorRef) };
  }
  return out;
}

/** The OpenAPI document, generated from the route table so it cannot drift from it. */
export function buildOpenApiDocument(routes: readonly RouteDef[]): JsonSchema {
  const paths: Record<string, Record<string, JsonSchema>> = {};
  for (const route of routes) {
    const operation: JsonSchema = {
      operationId: route.operationId,
      summary: route.summary,
      tags: [route.path.split('/')[1] === 'cases' && route.path !== '/cases' ? 'case' : 'general'],
      security: route.access === 'public' ? [] : [{ bearer: [] }],
      'x-exhibit-access': route.access,
      parameters: parameters(route),
      responses: responses(route),
    };
    if (route.description) operation.description = route.description;
    if (route.body) operation.requestBody = { required: true, content: json(jsonSchema(route.body, 'input')) };
    (paths[route.path] ??= {})[route.method.toLowerCase()] = operation;
  }
  return {
    openapi: '3.1.0',
    info: {
      title: 'Exhibit API',
      version: '1.0.0',
      description:
        'Evidence processing results, per case. Every case route first checks that the caller is assigned to the case; ' +
        'an unassigned caller gets the same 404 as for a case that does not exist. Searches, views, thumbnails, downloads ' +
        'and assignment changes are written to the chain-of-custody log.',
    },
    servers: [{ url: '/api' }],
    security: [{ bearer: [] }],
    components: {
      securitySchemes: {
        bearer: {
          type: 'http',
          scheme: 'bearer',
          bearerFormat: 'JWT',
          description: 'Entra ID access token (app roles examiner, investigator, supervisor, admin) or, locally, an EdDSA token from `npm run exhibit -- login`.',
        },
      },
      schemas: { Error: jsonSchema(errorSchema, 'output') },
    },
    paths,
  };
}
