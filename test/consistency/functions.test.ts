import { readFileSync } from 'node:fs';
import path from 'node:path';
import type { HttpFunctionOptions, ServiceBusQueueFunctionOptions, TimerFunctionOptions } from '@azure/functions';
import { createRootLogger } from '@exhibit/core';
import { FUNCTIONS } from '@exhibit/runtime';
import { describe, expect, it } from 'vitest';
import { lazyHost } from '../../functions/src/app-instance.js';
import { registerFunctions } from '../../functions/src/register.js';
import { infraDir, repoRoot, stringArray, variable } from './bicep.js';

function recordRegistrations() {
  const registered = new Map<string, { kind: 'serviceBusQueue' | 'http' | 'timer'; options: unknown }>();
  const host = lazyHost(
    createRootLogger({ level: 'silent' }),
    () => Promise.reject(new Error('not started in this test')),
    () => {
      throw new Error('no configuration in this test');
    },
  );
  registerFunctions(
    {
      serviceBusQueue: (name: string, options: ServiceBusQueueFunctionOptions) => registered.set(name, { kind: 'serviceBusQueue', options }),
      http: (name: string, options: HttpFunctionOptions) => registered.set(name, { kind: 'http', options }),
      timer: (name: string, options: TimerFunctionOptions) => registered.set(name, { kind: 'timer', options }),
    },
    FUNCTIONS,
    host,
  );
  return registered;
}

describe('functions/ registers the runtime function table', () => {
  const registered = recordRegistrations();

  it('registers every function of FUNCTIONS, and nothing else', () => {
    expect([...registered.keys()].sort()).toEqual(FUNCTIONS.map((f) => f.name).sort());
  });

  it('main.ts hands the whole table to registerFunctions', () => {
    const main = readFileSync(path.join(repoRoot, 'functions/src/main.ts'), 'utf8');
    expect(main).toMatch(/registerFunctions\(\s*app\s*,\s*FUNCTIONS\s*,/);
  });

  it('triggers only on Service Bus queues that infra/ creates', () => {
    const bicep = path.join(infraDir, 'modules/service-bus.bicep');
    const declared = new Set([...stringArray(variable(bicep, 'stageQueues') ?? '[]'), (variable(bicep, 'blobEventsQueueName') ?? '').replace(/'/g, '')]);
    const queues = [...registered.values()]
      .filter((r) => r.kind === 'serviceBusQueue')
      .map((r) => (r.options as ServiceBusQueueFunctionOptions).queueName);
    expect(queues.length).toBe(FUNCTIONS.filter((f) => !['http', 'site', 'timer'].includes(f.trigger.kind)).length);
    for (const q of queues) expect(declared, `queue ${q}`).toContain(q.replace(/\/\$deadletterqueue$/, ''));
  });

  it('serves the review app on the catch-all route beside the API, from the same origin', () => {
    const http = [...registered.entries()].filter(([, r]) => r.kind === 'http').map(([name, r]) => [name, (r.options as HttpFunctionOptions).route] as const);
    expect(new Map(http)).toEqual(new Map([['api', 'api/{*path}'], ['site', '{*path}']]));
    // Both routes are relative to the host root only because host.json empties the prefix.
    const hostJson = JSON.parse(readFileSync(path.join(repoRoot, 'host.json'), 'utf8')) as { extensions: { http: { routePrefix: string } } };
    expect(hostJson.extensions.http.routePrefix).toBe('');
  });

  it('gives every timer a six-field NCRONTAB schedule', () => {
    for (const r of registered.values()) {
      if (r.kind !== 'timer') continue;
      expect((r.options as TimerFunctionOptions).schedule.trim().split(/\s+/)).toHaveLength(6);
    }
  });
});
