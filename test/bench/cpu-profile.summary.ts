/**
 * `npx tsx test/bench/cpu-profile.summary.ts <file.cpuprofile> [--top 25] [--timeline 5]`
 *
 * Where a V8 CPU profile (from `npm run bench -- --cpu-prof`) spent its
 * samples: self time by package (node_modules/<pkg>, packages/<pkg>, node:
 * internals, native) and by function, plus the inclusive time of the
 * functions a stage calls, so the costly call can be named.
 */
import { readFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}

interface CpuProfile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
  startTime: number;
  endTime: number;
}

/** The package a frame belongs to: what a fix would touch. */
function packageOf(url: string, functionName: string): string {
  if (!url) return functionName.startsWith('(') ? functionName : '(native)';
  const nm = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (nm) return nm[1]!;
  const ws = /\/(packages\/[^/]+|functions|test|samples)\//.exec(url);
  if (ws) return ws[1]!;
  if (url.startsWith('node:')) return `node:${url.slice(5).split('/')[0]}`;
  return url;
}

function frameLabel(n: ProfileNode): string {
  const f = n.callFrame;
  const file = f.url.replace(/^.*\/(node_modules|packages)\//, '$1/');
  return `${f.functionName || '(anonymous)'} ${file}:${f.lineNumber + 1}`;
}

function summarise(profile: CpuProfile, top: number, bucketSec: number): string {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const selfUs = new Map<number, number>();
  profile.samples.forEach((id, i) => selfUs.set(id, (selfUs.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0)));
  const totalUs = [...selfUs.values()].reduce((s, v) => s + v, 0);

  const parent = new Map<number, number>();
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);

  const byPackage = new Map<string, number>();
  const byFunction = new Map<string, number>();
  const inclusive = new Map<string, number>();
  const inclusivePackage = new Map<string, number>();
  for (const [id, us] of selfUs) {
    const node = byId.get(id)!;
    const pkg = packageOf(node.callFrame.url, node.callFrame.functionName);
    byPackage.set(pkg, (byPackage.get(pkg) ?? 0) + us);
    const label = frameLabel(node);
    byFunction.set(label, (byFunction.get(label) ?? 0) + us);
    // Inclusive: every distinct workspace frame on the stack gets the sample once.
    const seen = new Set<string>();
    const seenPackages = new Set<string>();
    for (let cur: number | undefined = id; cur !== undefined; cur = parent.get(cur)) {
      const n = byId.get(cur)!;
      const p = packageOf(n.callFrame.url, n.callFrame.functionName);
      if (!seenPackages.has(p) && p !== '(root)') {
        seenPackages.add(p);
        inclusivePackage.set(p, (inclusivePackage.get(p) ?? 0) + us);
      }
      if (!/\/(packages|functions)\//.test(n.callFrame.url) || n.callFrame.url.includes('node_modules')) continue;
      const l = frameLabel(n);
      if (seen.has(l)) continue;
      seen.add(l);
      inclusive.set(l, (inclusive.get(l) ?? 0) + us);
    }
  }
  // Busy share and top packages per time bucket: shows which phase of the run burns the CPU.
  const timeline: string[] = [];
  if (bucketSec > 0) {
    const buckets = new Map<number, Map<string, number>>();
    let t = 0;
    profile.samples.forEach((id, i) => {
      t += profile.timeDeltas[i] ?? 0;
      const b = Math.floor(t / 1e6 / bucketSec);
      const node = byId.get(id)!;
      const pkg = packageOf(node.callFrame.url, node.callFrame.functionName);
      const m = buckets.get(b) ?? new Map<string, number>();
      m.set(pkg, (m.get(pkg) ?? 0) + (profile.timeDeltas[i] ?? 0));
      buckets.set(b, m);
    });
    timeline.push(`timeline (${bucketSec}-s buckets from profile start; busy = not idle):`);
    for (const [b, m] of [...buckets].sort((x, y) => x[0] - y[0])) {
      const all = [...m.values()].reduce((s, v) => s + v, 0);
      const busy = all - (m.get('(idle)') ?? 0);
      const topPkgs = [...m]
        .filter(([k]) => k !== '(idle)')
        .sort((x, y) => y[1] - x[1])
        .slice(0, 4)
        .map(([k, v]) => `${k} ${((100 * v) / all).toFixed(0)}%`)
        .join(', ');
      timeline.push(`  ${String(b * bucketSec).padStart(4)} s  busy ${((100 * busy) / all).toFixed(0).padStart(3)}%  ${topPkgs}`);
    }
  }
  const pct = (us: number) => `${((100 * us) / totalUs).toFixed(1).padStart(5)} %  ${(us / 1e6).toFixed(1).padStart(6)} s`;
  const list = (title: string, m: Map<string, number>) =>
    [title, ...[...m].sort((a, b) => b[1] - a[1]).slice(0, top).map(([k, us]) => `  ${pct(us)}  ${k}`)].join('\n');
  return [
    `profile: ${((profile.endTime - profile.startTime) / 1e6).toFixed(1)} s wall, ${(totalUs / 1e6).toFixed(1)} s sampled`,
    list('self time by package:', byPackage),
    list('inclusive time by package (a sample counts for every package on its stack, e.g. file system calls made by PGlite):', inclusivePackage),
    list('self time by function:', byFunction),
    list('inclusive time of workspace functions (packages/*, functions/*):', inclusive),
    ...(timeline.length > 0 ? [timeline.join('\n')] : []),
  ].join('\n\n');
}

async function main(): Promise<void> {
  const { values, positionals } = parseArgs({ options: { top: { type: 'string', default: '25' }, timeline: { type: 'string', default: '0' } }, allowPositionals: true });
  if (positionals.length === 0) throw new Error('usage: tsx test/bench/cpu-profile.summary.ts <file.cpuprofile> [--top N]');
  for (const file of positionals) {
    const profile = JSON.parse(await readFile(file, 'utf8')) as CpuProfile;
    process.stdout.write(`== ${file}\n${summarise(profile, Number(values.top), Number(values.timeline))}\n\n`);
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
