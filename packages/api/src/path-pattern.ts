/**
 * Route patterns like '/cases/{caseId}/files/{fileId}'. A `{name}` matches
 * exactly one non-empty segment; segments are percent-decoded once, after
 * splitting, so an encoded '/' stays inside its segment.
 */
export interface CompiledPattern {
  pattern: string;
  segments: Array<{ literal: string } | { param: string }>;
  paramNames: string[];
}

export function compilePattern(pattern: string): CompiledPattern {
  if (!pattern.startsWith('/')) throw new Error(`route pattern must start with '/': ${pattern}`);
  // The root itself ('/api' with nothing after it).
  if (pattern === '/') return { pattern, segments: [], paramNames: [] };
  const segments = pattern
    .slice(1)
    .split('/')
    .map((s): CompiledPattern['segments'][number] => {
      const m = /^\{([A-Za-z][A-Za-z0-9]*)\}$/.exec(s);
      if (m?.[1]) return { param: m[1] };
      if (s.includes('{') || s.includes('}') || s === '') throw new Error(`bad route pattern segment '${s}' in ${pattern}`);
      return { literal: s };
    });
  const paramNames = segments.flatMap((s) => ('param' in s ? [s.param] : []));
  if (new Set(paramNames).size !== paramNames.length) throw new Error(`repeated parameter in ${pattern}`);
  return { pattern, segments, paramNames };
}

/**
 * Returns the decoded parameters, or null when the path does not fit. A
 * segment that is not valid percent-encoding does not fit anything.
 */
export function matchPattern(compiled: CompiledPattern, path: string): Record<string, string> | null {
  const trimmed = path.length > 1 && path.endsWith('/') ? path.slice(0, -1) : path;
  if (!trimmed.startsWith('/')) return null;
  if (compiled.segments.length === 0) return trimmed === '/' ? {} : null;
  const parts = trimmed.slice(1).split('/');
  if (parts.length !== compiled.segments.length) return null;
  const params: Record<string, string> = {};
  for (let i = 0; i < parts.length; i++) {
    const seg = compiled.segments[i]!;
    const raw = parts[i]!;
    if (raw === '') return null;
    let decoded: string;
    try {
      decoded = decodeURIComponent(raw);
    } catch {
      return null;
    }
    if ('literal' in seg) {
      if (decoded !== seg.literal) return null;
    } else {
      params[seg.param] = decoded;
    }
  }
  return params;
}
