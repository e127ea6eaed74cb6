// Moved to @exhibit/core/worker-runtime; kept while branches that import the old subpath are merged.
export * from '@exhibit/core/worker-runtime';
