import { describe, expect, it } from 'vitest';
import { EXIT } from '../src/cli-error.js';
import { closedPipe, runCliProcess } from './cli-process.js';


describe('writing to a closed pipe (`exhibit … | head`)', () => {
  it('exits quietly with the command\'s own code when stdout is closed, without a stack trace', async () => {
    const pipe = await closedPipe();
    try {
      const res = await runCliProcess(['--help'], { stdout: pipe.end });
      expect(res.err).toBe('');
      expect(res.signal).toBeNull();
      expect(res.code).toBe(EXIT.ok);
    } finally {
      pipe.close();
    }
  }, 60_000);

  it('keeps the exit code of a failed command when stderr is closed too', async () => {
    const out = await closedPipe();
    const err = await closedPipe();
    try {
      const usage = await runCliProcess(['search', 'C1', '--hash', 'abc'], { stdout: out.end, stderr: err.end });
      expect(usage.signal).toBeNull();
      expect(usage.code).toBe(EXIT.usage);
      const unreachable = await runCliProcess(['status', 'C1'], { stdout: out.end, stderr: err.end });
      expect(unreachable.code).toBe(EXIT.error);
    } finally {
      out.close();
      err.close();
    }
  }, 60_000);

  it('still reports a real error on an open stderr while stdout is closed', async () => {
    const pipe = await closedPipe();
    try {
      const res = await runCliProcess(['status', 'C1'], { stdout: pipe.end });
      expect(res.err).toMatch(/^exhibit: cannot reach the Exhibit API at http:\/\/127\.0\.0\.1:9\/api/);
      expect(res.err).not.toMatch(/EPIPE|at .*\.ts:\d+/);
      expect(res.code).toBe(EXIT.error);
    } finally {
      pipe.close();
    }
  }, 60_000);
});
