import type { RouteModule } from './api.types.js';
import { adminRoutes } from './routes/admin.routes.js';
import { assignmentsRoutes } from './routes/assignments.routes.js';
import { casesRoutes } from './routes/cases.routes.js';
import { custodyRoutes } from './routes/custody.routes.js';
import { filesRoutes } from './routes/files.routes.js';
import { hashSetsRoutes } from './routes/hash-sets.routes.js';
import { meRoutes } from './routes/me.routes.js';
import { uploadsRoutes } from './routes/uploads.routes.js';
import { reviewRoutes } from './routes/review.routes.js';
import { tagsRoutes } from './routes/tags.routes.js';
import { exportsRoutes } from './routes/exports.routes.js';
import { accessEventsRoutes } from './routes/access-events.routes.js';

/**
 * Every route module of the API. To add one:
 *   1. write `routes/<name>.routes.ts` exporting `export const <name>Routes: RouteModule = [defineRoute({...}), ...]`
 *      (each route needs an `access` rule; case routes have `{caseId}` and `caseScoped: true`);
 *   2. add ONE line below;
 *   3. add an expectation per route in packages/api/test/route-access.test.ts — that test fails
 *      for any route without one, so a new route cannot ship without its access being tested.
 * Services a module needs beyond ApiDeps go in ApiExtensions (see api.types.ts).
 * `/openapi.json`, `/docs` and `/` are added by createApi itself (they describe this table).
 */
export const ROUTE_TABLE: readonly RouteModule[] = [
  meRoutes,
  casesRoutes,
  filesRoutes,
  assignmentsRoutes,
  custodyRoutes,
  adminRoutes,
  uploadsRoutes,
  reviewRoutes,
  tagsRoutes,
  exportsRoutes,
  accessEventsRoutes,
  hashSetsRoutes,
];
