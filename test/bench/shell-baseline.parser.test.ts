import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { missingToolsMessage, parseShellBaselineOutput, parseTimesDuration } from './shell-baseline.parser.js';

const run = promisify(execFile);
const SCRIPT = fileURLToPath(new URL('./shell-baseline.sh', import.meta.url));

describe('parseShellBaselineOutput', () => {
  it('reads the steps, the totals and the CPU of the tools from `times`', () => {
    const out = [
      'baseline-step hash-archive 1200',
      'baseline-step unzip 800',
      'baseline-files 153',
      'some chatter from a tool',
      'baseline-step hash-members 1500',
      'baseline-failed vipsthumbnail 2',
      'baseline-total 3500',
      '0m0.120s 0m0.080s',
      '1m2.500s 0m3.250s',
      '',
    ].join('\n');
    const r = parseShellBaselineOutput(out);
    expect(r.steps).toEqual([
      { name: 'hash-archive', wallMs: 1200 },
      { name: 'unzip', wallMs: 800 },
      { name: 'hash-members', wallMs: 1500 },
    ]);
    expect(r.totalMs).toBe(3500);
    expect(r.files).toBe(153);
    expect(r.failures).toEqual({ vipsthumbnail: 2 });
    expect(r.missingTools).toEqual([]);
    expect(r.shellCpuSec).toBeCloseTo(0.2, 9);
    expect(r.childrenCpuSec).toBeCloseTo(65.75, 9);
  });

  it('leaves the total and CPU unknown when the script stopped early', () => {
    const r = parseShellBaselineOutput('baseline-missing exiftool\nbaseline-missing /usr/bin/ffmpeg\n');
    expect(r.missingTools).toEqual(['exiftool', '/usr/bin/ffmpeg']);
    expect(r.totalMs).toBeNull();
    expect(r.childrenCpuSec).toBeNull();
  });

  it('refuses a malformed record instead of reading a wrong number', () => {
    expect(() => parseShellBaselineOutput('baseline-total 12.5')).toThrow(/bad number/);
    expect(() => parseShellBaselineOutput('baseline-step unzip')).toThrow(/bad step/);
  });

  it('parses bash durations', () => {
    expect(parseTimesDuration('0m0.004s')).toBeCloseTo(0.004, 9);
    expect(parseTimesDuration('12m1s')).toBe(721);
    expect(() => parseTimesDuration('1.5s')).toThrow();
  });
});

describe('missingToolsMessage', () => {
  it('names the Debian packages to install', () => {
    const m = missingToolsMessage(['exiftool', '/opt/ffmpeg']);
    expect(m).toContain('apt-get install libimage-exiftool-perl ffmpeg ');
    expect(m).toContain('hashdeep unzip libimage-exiftool-perl libvips-tools ffmpeg');
  });
});

describe('shell-baseline.sh', () => {
  it('reports missing tools in the parsed format and runs nothing', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'exhibit-baseline-'));
    try {
      await writeFile(path.join(dir, 'a.zip'), '');
      // Whatever else this machine lacks, a tool of this name cannot be there.
      const err = await run('bash', [SCRIPT, path.join(dir, 'a.zip'), path.join(dir, 'work')], {
        env: { ...process.env, FFMPEG: 'no-such-ffmpeg-for-the-bench-test' },
      }).then(
        () => null,
        (e: { code: number; stdout: string }) => e,
      );
      expect(err?.code).toBe(3);
      expect(parseShellBaselineOutput(err!.stdout).missingTools).toContain('no-such-ffmpeg-for-the-bench-test');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
