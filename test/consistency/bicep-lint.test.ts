import { existsSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { bicepFiles, matchClose, readBicep, stripComments } from './bicep.js';

/**
 * What the Bicep compiler would reject or warn about, checked without it (no
 * compiler runs offline): module paths, module parameters, module outputs,
 * parameters never used, resource symbols declared twice.
 */
interface Declarations {
  params: Map<string, { required: boolean }>;
  outputs: Set<string>;
}

function declarations(file: string): Declarations {
  const src = stripComments(readBicep(file));
  const params = new Map<string, { required: boolean }>();
  // A parameter with a default (`param x int = 365`) is optional.
  for (const m of src.matchAll(/^param\s+(\w+)\s+([^\n]*)$/gm)) params.set(m[1]!, { required: !m[2]!.includes('=') });
  const outputs = new Set([...src.matchAll(/^output\s+(\w+)\s/gm)].map((m) => m[1]!));
  return { params, outputs };
}

/** Keys at the top level of an object literal's text (without its braces). */
function topLevelKeys(objectBody: string): string[] {
  const keys: string[] = [];
  let depth = 0;
  let inString = false;
  let expectKey = true;
  for (let i = 0; i < objectBody.length; i++) {
    const c = objectBody[i]!;
    if (inString) {
      if (c === "'") inString = false;
      continue;
    }
    if (c === "'") inString = true;
    else if ('{[('.includes(c)) depth += 1;
    else if ('}])'.includes(c)) depth -= 1;
    else if (depth === 0 && (c === '\n' || c === ',')) expectKey = true;
    else if (depth === 0 && expectKey && /\w/.test(c)) {
      const m = /^(\w+)\s*:/.exec(objectBody.slice(i));
      if (m) keys.push(m[1]!);
      expectKey = false;
    }
  }
  return keys;
}

interface ModuleUse {
  symbol: string;
  file: string;
  passed: string[];
}

function modules(file: string): ModuleUse[] {
  const src = stripComments(readBicep(file));
  const out: ModuleUse[] = [];
  for (const m of src.matchAll(/^module\s+(\w+)\s+'([^']+)'\s*=\s*/gm)) {
    const open = src.indexOf('{', m.index + m[0].length);
    const body = src.slice(open + 1, matchClose(src, open) - 1);
    const at = /\bparams:\s*\{/.exec(body);
    let passed: string[] = [];
    if (at) {
      const o = at.index + at[0].length - 1;
      passed = topLevelKeys(body.slice(o + 1, matchClose(body, o) - 1));
    }
    out.push({ symbol: m[1]!, file: path.resolve(path.dirname(file), m[2]!), passed });
  }
  return out;
}

describe('Bicep, checked the way the compiler would', () => {
  const files = bicepFiles();

  it('finds the templates', () => {
    expect(files.map((f) => path.basename(f))).toEqual(expect.arrayContaining(['main.bicep', 'resources.bicep', 'roles.bicep']));
  });

  for (const file of files) {
    const name = path.relative(path.dirname(files[0]!), file);

    it(`${name}: modules exist and get exactly the parameters they declare`, () => {
      for (const use of modules(file)) {
        expect(existsSync(use.file), `${use.symbol}: ${use.file}`).toBe(true);
        const declared = declarations(use.file);
        for (const p of use.passed) expect([...declared.params.keys()], `${use.symbol} passes unknown parameter ${p}`).toContain(p);
        for (const [p, { required }] of declared.params) {
          if (required) expect(use.passed, `${use.symbol} misses required parameter ${p}`).toContain(p);
        }
      }
    });

    it(`${name}: reads only outputs its modules declare`, () => {
      const src = stripComments(readBicep(file));
      const byModule = new Map(modules(file).map((m) => [m.symbol, declarations(m.file).outputs]));
      for (const m of src.matchAll(/\b(\w+)!?\.outputs\.(\w+)/g)) {
        const outputs = byModule.get(m[1]!);
        expect(outputs, `${m[0]} names no module`).toBeDefined();
        expect([...outputs!], `${m[0]}`).toContain(m[2]!);
      }
    });

    it(`${name}: uses every parameter and declares each symbol once`, () => {
      const src = stripComments(readBicep(file));
      for (const p of declarations(file).params.keys()) {
        const uses = [...src.matchAll(new RegExp(`\\b${p}\\b`, 'g'))].length;
        expect(uses, `parameter ${p} is never used`).toBeGreaterThan(1);
      }
      const symbols = [...src.matchAll(/^(?:resource|module|var|param)\s+(\w+)\s/gm)].map((m) => m[1]!);
      expect(symbols.filter((s, i) => symbols.indexOf(s) !== i)).toEqual([]);
    });
  }
});
