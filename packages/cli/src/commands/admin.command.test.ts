import { describe, expect, it } from 'vitest';
import { EXIT } from '../cli-error.js';
import { createCliContext } from '../context.js';
import { loadCommandModules } from '../main.js';
import { runCli } from '../program.js';
import { CapturedStream } from '../test-support.js';

async function run(...argv: string[]) {
  const stdout = new CapturedStream();
  const stderr = new CapturedStream();
  // Nothing here may reach the API: an unroutable address makes a slip fail loudly.
  const ctx = createCliContext({ env: { EXHIBIT_API_URL: 'http://127.0.0.1:9/api', EXHIBIT_DATA_DIR: '/nonexistent' }, stdout, stderr });
  const code = await runCli(argv, ctx, await Promise.all(loadCommandModules()));
  return { code, out: stdout.text, err: stderr.text };
}

describe('exhibit admin rejected-blobs (parsing)', () => {
  it('is listed under admin', async () => {
    const { code, out } = await run('admin', '--help');
    expect(code).toBe(EXIT.ok);
    expect(out).toContain('rejected-blobs');
  });

  it.each([
    [['admin', 'rejected-blobs', '--limit', '0'], /integer from 1 to 500/],
    [['admin', 'rejected-blobs', '--limit', '501'], /integer from 1 to 500/],
    [['admin', 'rejected-blobs', '--offset', '-1'], /integer from 0 to/],
    [['admin', 'rejected-blobs', 'extra'], /too many arguments/],
  ])('%j is a usage error (exit 2)', async (argv, message) => {
    const { code, err } = await run(...argv);
    expect(err).toMatch(message);
    expect(code).toBe(EXIT.usage);
  });
});
