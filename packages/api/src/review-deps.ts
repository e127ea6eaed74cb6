import { ExhibitError, type ReviewStore } from '@exhibit/core';
import type { ApiDeps } from './api.types.js';

declare module './api.types.js' {
  interface ApiExtensions {
    /** Map, timeline, tags, exports and access events (packages/index's createPostgresReviewStore). */
    review?: ReviewStore;
  }
}

/** 503 (the standard body) when this deployment was composed without the review store. */
export function reviewOf(deps: ApiDeps): ReviewStore {
  const service = deps.extensions?.review;
  if (!service) throw new ExhibitError('tool-unavailable', 'the review store is not configured');
  return service;
}
