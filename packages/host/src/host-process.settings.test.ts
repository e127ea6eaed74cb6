import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { HOST_MALLOC_ENV, HOST_NODE_FLAGS } from './host-process.settings.js';

describe('HOST_MALLOC_ENV and HOST_NODE_FLAGS', () => {
  it('is what `npm start` sets before it execs the host (the tests and benches start the host with the same)', () => {
    const pkg = JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { scripts: Record<string, string> };
    const start = pkg.scripts.start!;
    const settings = Object.entries(HOST_MALLOC_ENV).map(([name, value]) => `${name}=${value}`);
    expect(start).toBe(['exec env', ...settings, 'node', ...HOST_NODE_FLAGS, '--import tsx packages/host/src/main.ts'].join(' '));
  });
});
