import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const cache = new Map<string, string>();

/**
 * The installed version of a dependency, for ToolVersion records. Walks the
 * node_modules directories the way Node resolves a bare specifier, because
 * some packages (file-type) do not export their package.json.
 */
export function packageVersion(name: string): string {
  const cached = cache.get(name);
  if (cached !== undefined) return cached;
  let dir = path.dirname(fileURLToPath(import.meta.url));
  let version = 'unknown';
  for (;;) {
    const candidate = path.join(dir, 'node_modules', name, 'package.json');
    if (existsSync(candidate)) {
      const pkg = JSON.parse(readFileSync(candidate, 'utf8')) as { version?: unknown };
      if (typeof pkg.version === 'string') version = pkg.version;
      break;
    }
    const parent = path.dirname(dir);
    if (parent === dir) break;
    dir = parent;
  }
  cache.set(name, version);
  return version;
}
