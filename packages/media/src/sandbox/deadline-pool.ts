// Moved to @exhibit/core/deadline-pool; kept while branches that import the old subpath are merged.
export * from '@exhibit/core/deadline-pool';
