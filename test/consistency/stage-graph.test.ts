import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { FILE_STATES, LIMITS, QUEUE_STEPS, QUEUES, STAGE_NAMES, type FileKind, type QueueName, type UnpackState } from '@exhibit/core';
import { FIRST_QUEUE, queuesAwaited, STAGE_GRAPH, STAGES, unpacks } from '@exhibit/pipeline';
import { FUNCTIONS } from '@exhibit/runtime';
import { describe, expect, it } from 'vitest';
import { infraDir, repoRoot, stringArray, variable } from './bicep.js';

const KINDS: Array<FileKind | null> = [null, 'image', 'video', 'audio', 'archive', 'document', 'other'];
const UNPACK_STATES: UnpackState[] = ['n/a', 'pending', 'done', 'failed'];

/** Every queue the flow can reach from an upload, with the edges walked. */
function walk(): { reached: Set<QueueName>; edges: Array<[QueueName, QueueName]> } {
  const reached = new Set<QueueName>([FIRST_QUEUE]);
  const edges: Array<[QueueName, QueueName]> = [];
  const todo: QueueName[] = [FIRST_QUEUE];
  while (todo.length > 0) {
    const from = todo.pop()!;
    const node = STAGE_GRAPH[from];
    const targets = new Set<QueueName>(node.members ? [node.members] : []);
    for (const kind of KINDS) {
      for (const unpack of UNPACK_STATES) {
        for (const hashPending of [undefined, false, true]) {
          for (const q of node.next({ kind, unpack, ...(hashPending !== undefined ? { hashPending } : {}) })) targets.add(q);
        }
      }
    }
    for (const to of targets) {
      edges.push([from, to]);
      if (!reached.has(to)) {
        reached.add(to);
        todo.push(to);
      }
    }
  }
  return { reached, edges };
}

const sourceFiles = (dir: string): string[] =>
  readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const full = path.join(dir, e.name);
    if (e.isDirectory()) return sourceFiles(full);
    return e.name.endsWith('.ts') && !e.name.endsWith('.test.ts') ? [full] : [];
  });

describe('the stage graph (packages/pipeline/src/stage-graph.ts)', () => {
  const { reached, edges } = walk();

  it('reaches every queue from an upload, and every queue has a node and a stage', () => {
    expect([...reached].sort()).toEqual([...QUEUES].sort());
    expect(Object.keys(STAGE_GRAPH).sort()).toEqual([...QUEUES].sort());
    expect(Object.keys(STAGES).sort()).toEqual([...QUEUES].sort());
    // hash → analyse → {unpack, index}; unpack's members → analyse; index ends a chain. An uploaded
    // archive hashed in its unpack's read: hash → unpack → analyse, or back to hash when the read ended without the hash.
    expect(edges.map(([a, b]) => `${a}>${b}`).sort()).toEqual(['analyse>index', 'analyse>unpack', 'hash>analyse', 'hash>unpack', 'unpack>analyse', 'unpack>hash']);
    expect(STAGE_GRAPH.index.next({ kind: 'image', unpack: 'n/a' })).toEqual([]);
    expect(STAGE_GRAPH.hash.next({ kind: null, unpack: 'n/a' })).toEqual(['analyse']);
    expect(STAGE_GRAPH.hash.next({ kind: 'archive', unpack: 'pending' })).toEqual(['unpack']);
    // A nested archive's unpack sends nothing on; only an uploaded archive it hashed goes on.
    expect(STAGE_GRAPH.unpack.next({ kind: 'archive', unpack: 'done' })).toEqual([]);
    expect(STAGE_GRAPH.unpack.next({ kind: 'archive', unpack: 'done', hashPending: false })).toEqual(['analyse']);
    expect(STAGE_GRAPH.unpack.next({ kind: 'archive', unpack: 'failed', hashPending: true })).toEqual(['hash']);
  });

  it('runs every step of the lifecycle in exactly one queue, in lifecycle order', () => {
    const steps = QUEUES.flatMap((q) => [...QUEUE_STEPS[q]]);
    expect([...steps].sort()).toEqual(STAGE_NAMES.filter((s) => s !== 'ingest').sort());
    for (const q of QUEUES) {
      const own = [...QUEUE_STEPS[q]];
      expect(own).toEqual([...own].sort((a, b) => STAGE_NAMES.indexOf(a) - STAGE_NAMES.indexOf(b)));
    }
  });

  it('has a queue function and a dead-letter function in the function table for every queue it reaches', () => {
    const queueFns = FUNCTIONS.filter((f) => f.trigger.kind === 'queue').map((f) => (f.trigger as { queue: QueueName }).queue);
    const deadLetterFns = FUNCTIONS.filter((f) => f.trigger.kind === 'dead-letter').map((f) => (f.trigger as { queue: QueueName }).queue);
    expect([...queueFns].sort()).toEqual([...reached].sort());
    expect([...deadLetterFns].sort()).toEqual([...reached].sort());
  });

  it('sends only to queues infra/ creates, and infra/ creates no queue the graph does not use', () => {
    const declared = stringArray(variable(path.join(infraDir, 'modules/service-bus.bicep'), 'stageQueues') ?? '[]');
    expect([...declared].sort()).toEqual([...reached].sort());
  });

  it('re-drives a stalled file of every state to a queue the graph has', () => {
    for (const stage of [...FILE_STATES, 'failed'] as const) {
      for (const unpack of UNPACK_STATES) {
        for (const hashPending of [false, true]) {
          for (const q of queuesAwaited({ stage, unpack, hashPending })) expect(reached.has(q), `${stage}/${unpack}/${hashPending} → ${q}`).toBe(true);
        }
      }
    }
    expect(queuesAwaited({ stage: 'pending', unpack: 'n/a', hashPending: true })).toEqual(['hash']);
    expect(queuesAwaited({ stage: 'described', unpack: 'n/a', hashPending: false })).toEqual(['analyse']);
    expect(queuesAwaited({ stage: 'thumbnailed', unpack: 'pending', hashPending: false })).toEqual(['index', 'unpack']);
    expect(queuesAwaited({ stage: 'indexed', unpack: 'done', hashPending: false })).toEqual([]);
  });

  it('batches per-file work only, and says for every batched queue when a file is done there', () => {
    const batched = QUEUES.filter((q) => STAGE_GRAPH[q].body === 'files');
    expect([...batched].sort()).toEqual(['analyse', 'index']);
    for (const q of QUEUES) expect(typeof STAGE_GRAPH[q].done === 'function', q).toBe(STAGE_GRAPH[q].body === 'files');
    // Only analyse reads the files' bytes, so only its batches are bounded by bytes.
    expect(QUEUES.filter((q) => STAGE_GRAPH[q].batchBytes)).toEqual(['analyse']);
    // Done on a queue means the file waits on none of that queue's steps any more (queuesAwaited reads the
    // state only, as for an image or a video: another kind, once identified, has no analyse step left).
    for (const stage of [...FILE_STATES, 'failed'] as const) {
      for (const kind of ['image', 'video'] as const) {
        const waits = queuesAwaited({ stage, unpack: 'n/a', hashPending: false });
        for (const q of batched) {
          if (STAGE_GRAPH[q].done!({ stage }, { kind })) expect(waits, `${stage}/${kind} done on ${q}`).not.toContain(q);
        }
      }
    }
  });

  it('ends an audio file\'s analyse at its metadata, an image\'s or video\'s at its thumbnail, anything else\'s at identify (ANALYSE_STEPS)', () => {
    const done = (stage: (typeof FILE_STATES)[number], kind: FileKind | null) => STAGE_GRAPH.analyse.done!({ stage }, { kind });
    expect(done('identified', 'audio')).toBe(false);
    expect(done('described', 'audio')).toBe(true);
    expect(done('described', 'video')).toBe(false);
    expect(done('thumbnailed', 'image')).toBe(true);
    expect(done('identified', 'document')).toBe(true);
    expect(done('pending', null)).toBe(false);
  });

  it('unpacks archives only above the nesting limit', () => {
    expect(unpacks('archive', LIMITS.maxNestingDepth - 1, LIMITS)).toBe(true);
    expect(unpacks('archive', LIMITS.maxNestingDepth, LIMITS)).toBe(false);
    expect(unpacks('image', 0, LIMITS)).toBe(false);
  });
});

describe('stages never send', () => {
  const pipelineSrc = path.join(repoRoot, 'packages/pipeline/src');
  const runner = path.join(pipelineSrc, 'stage-runner.ts');

  it('no pipeline source but the stage runner imports the bus port, the bus adapters or a sending helper', () => {
    const offenders: string[] = [];
    for (const file of sourceFiles(pipelineSrc)) {
      if (file === runner) continue;
      const text = readFileSync(file, 'utf8');
      const imports = [...text.matchAll(/^import[^;]*?from\s+'([^']+)'/gms)].map((m) => m[0]);
      for (const line of imports) {
        if (/\bBus\b|BusReceiver|OutgoingMessage/.test(line) || /'@exhibit\/bus'|messaging\.js|stage-runner\.js/.test(line)) offenders.push(`${path.relative(repoRoot, file)}: ${line.replace(/\s+/g, ' ')}`);
      }
      if (/\.bus\b|\bsendWork\b/.test(text)) offenders.push(`${path.relative(repoRoot, file)}: uses a bus`);
    }
    expect(offenders).toEqual([]);
  });

  it('sends from nowhere else either: outside the bus adapters, only the stage runner calls send on a bus', () => {
    const offenders: string[] = [];
    for (const pkg of ['core', 'pipeline', 'runtime', 'host', 'api', 'index', 'custody', 'media', 'storage', 'cli']) {
      for (const file of sourceFiles(path.join(repoRoot, 'packages', pkg, 'src'))) {
        if (file === runner) continue;
        if (/\bbus\.send\(/.test(readFileSync(file, 'utf8'))) offenders.push(path.relative(repoRoot, file));
      }
    }
    for (const file of sourceFiles(path.join(repoRoot, 'functions/src'))) if (/\bbus\.send\(/.test(readFileSync(file, 'utf8'))) offenders.push(path.relative(repoRoot, file));
    expect(offenders).toEqual([]);
  });
});
