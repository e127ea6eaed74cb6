export { createApi, ANONYMOUS } from './api.js';
export { startHttpServer, type HttpServerHandle } from './http-server.node.js';
export { createStaticSite, siteSecurityHeaders, safeRelativePath, type SiteHandler, type SiteRequest } from './static-site.node.js';
export { issueLocalToken, createLocalTokenVerifier, LOCAL_TOKEN_ISSUER, LOCAL_TOKEN_AUDIENCE, type IssuedToken } from './auth/local-token.js';
export { loadLocalSigningKey, LOCAL_KEY_FILE, LOCAL_PUBLIC_JWK_FILE, type LocalSigningKey } from './auth/local-key.js';
export { createEntraTokenVerifier, type EntraVerifierOptions } from './auth/entra-token.js';
export { createTokenVerifier } from './auth/token-verifier.js';
export { buildOpenApiDocument } from './openapi.js';
export { renderOpenApiHtml } from './openapi-html.js';
export { reviewOf } from './review-deps.js';
export { ROUTE_TABLE } from './route-table.js';
export { API_LIMITS } from './api-limits.js';
export { defineRoute } from './api.types.js';
export type {
  AccessRule,
  Api,
  ApiDeps,
  ApiExtensions,
  ApiRequest,
  ApiResponse,
  CaseAccess,
  HttpMethod,
  Principal,
  RouteContext,
  RouteDef,
  RouteModule,
  TokenVerifier,
} from './api.types.js';
export type { AccessStore, CaseAssignment, AssignmentChange, Role } from '@exhibit/core';
export { ROLES } from '@exhibit/core';
export * as responseSchemas from './response-schemas.js';
export { errorResponse } from './http-errors.js';
