import { readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * Just enough Bicep reading for consistency checks: resource declarations
 * with their bodies, top-level `name:`/`scope:`/`parent:` and variables. No
 * compiler runs here (there is none offline), so these tests read the text
 * the deployment will read.
 */
export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const infraDir = path.join(repoRoot, 'infra');

export interface BicepResource {
  file: string;
  symbol: string;
  type: string;
  existing: boolean;
  condition: string | null;
  body: string;
}

export function bicepFiles(): string[] {
  const out: string[] = [];
  const walk = (dir: string) => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const full = path.join(dir, entry.name);
      if (entry.isDirectory()) walk(full);
      else if (entry.name.endsWith('.bicep')) out.push(full);
    }
  };
  walk(infraDir);
  return out.sort();
}

export function readBicep(file: string): string {
  return readFileSync(file, 'utf8');
}

/** Source with comments blanked out (same length), so offsets still line up. */
export function stripComments(src: string): string {
  let out = '';
  let i = 0;
  let inString = false;
  while (i < src.length) {
    const c = src[i]!;
    if (inString) {
      out += c;
      if (c === '\\') {
        out += src[i + 1] ?? '';
        i += 2;
        continue;
      }
      if (c === "'") inString = false;
      i += 1;
    } else if (c === "'") {
      inString = true;
      out += c;
      i += 1;
    } else if (src.startsWith('//', i)) {
      const end = src.indexOf('\n', i);
      const stop = end < 0 ? src.length : end;
      out += ' '.repeat(stop - i);
      i = stop;
    } else if (src.startsWith('/*', i)) {
      const end = src.indexOf('*/', i + 2);
      const stop = end < 0 ? src.length : end + 2;
      out += src.slice(i, stop).replace(/[^\n]/g, ' ');
      i = stop;
    } else {
      out += c;
      i += 1;
    }
  }
  return out;
}

/** Index just past the brace or bracket that closes the one at `open`. */
export function matchClose(src: string, open: number): number {
  const pairs: Record<string, string> = { '{': '}', '[': ']', '(': ')' };
  const stack: string[] = [];
  let inString = false;
  for (let i = open; i < src.length; i++) {
    const c = src[i]!;
    if (inString) {
      if (c === '\\') i += 1;
      else if (c === "'") inString = false;
      continue;
    }
    if (c === "'") inString = true;
    else if (pairs[c]) stack.push(pairs[c]!);
    else if (c === stack[stack.length - 1]) {
      stack.pop();
      if (stack.length === 0) return i + 1;
    }
  }
  throw new Error(`unbalanced bracket at offset ${open}`);
}

const RESOURCE_RE = /^resource\s+(\w+)\s+'([^'@]+)@[^']+'\s+(existing\s+)?=\s*(\[\s*for\b[^:]*:\s*)?(if\s*\()?/gm;

export function resources(file: string): BicepResource[] {
  const src = stripComments(readBicep(file));
  const out: BicepResource[] = [];
  for (const m of src.matchAll(RESOURCE_RE)) {
    let at = m.index + m[0].length;
    let condition: string | null = null;
    if (m[5]) {
      const close = matchClose(src, at - 1);
      condition = src.slice(at, close - 1).trim();
      at = close;
    }
    const open = src.indexOf('{', at);
    const close = matchClose(src, open);
    out.push({ file, symbol: m[1]!, type: m[2]!, existing: Boolean(m[3]), condition, body: src.slice(open + 1, close - 1) });
  }
  return out;
}

/** A property at the top level of a resource body (not inside nested objects). */
export function topLevelProperty(body: string, key: string): string | null {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < body.length; i++) {
    const c = body[i]!;
    if (inString) {
      if (c === "'") inString = false;
      continue;
    }
    if (c === "'") inString = true;
    else if ('{[('.includes(c)) depth += 1;
    else if ('}])'.includes(c)) depth -= 1;
    else if (depth === 0 && body.startsWith(`${key}:`, i) && /[\s{]/.test(body[i - 1] ?? '\n')) {
      const rest = body.slice(i + key.length + 1);
      const end = rest.search(/\n/);
      return (end < 0 ? rest : rest.slice(0, end)).trim();
    }
  }
  return null;
}

/** `var name = <literal>` as text, e.g. an array literal. */
export function variable(file: string, name: string): string | null {
  const src = stripComments(readBicep(file));
  const m = new RegExp(`^var\\s+${name}\\s*=\\s*`, 'm').exec(src);
  if (!m) return null;
  const start = m.index + m[0].length;
  const c = src[start];
  if (c === '[' || c === '{') return src.slice(start, matchClose(src, start));
  const end = src.indexOf('\n', start);
  return src.slice(start, end < 0 ? undefined : end).trim();
}

/** Single-quoted strings of an array literal, e.g. ['a', 'b']. */
export function stringArray(literal: string): string[] {
  return [...literal.matchAll(/'([^']*)'/g)].map((m) => m[1]!);
}

/** The role GUIDs of a `var roles = { key: 'guid' }` block. */
export function roleIds(file: string): Record<string, string> {
  const literal = variable(file, 'roles');
  if (!literal) return {};
  const out: Record<string, string> = {};
  for (const m of literal.matchAll(/(\w+)\s*:\s*'([0-9a-f-]{36})'/g)) out[m[1]!] = m[2]!;
  return out;
}

export function unquote(value: string | null): string | null {
  if (value === null) return null;
  const m = /^'([^']*)'$/.exec(value.trim());
  return m ? m[1]! : value.trim();
}
