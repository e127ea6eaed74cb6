import { readFileSync } from 'node:fs';
import path from 'node:path';
import { LIMITS } from '@exhibit/core';
import { describe, expect, it } from 'vitest';
import { repoRoot } from './bicep.js';

const hostJson = JSON.parse(readFileSync(path.join(repoRoot, 'host.json'), 'utf8')) as {
  functionTimeout: string;
  extensionBundle: { id: string; version: string };
  extensions: { http: { routePrefix: string }; serviceBus: { maxAutoLockRenewalDuration: string; maxConcurrentCalls: number; autoCompleteMessages: boolean } };
  logging: { applicationInsights: { samplingSettings: { isEnabled: boolean; excludedTypes: string } } };
};

const seconds = (span: string) => {
  const m = /^(?:(\d+)\.)?(\d{2}):(\d{2}):(\d{2})$/.exec(span);
  if (!m) throw new Error(`not a timespan: ${span}`);
  return Number(m[1] ?? 0) * 86400 + Number(m[2]) * 3600 + Number(m[3]) * 60 + Number(m[4]);
};

describe('host.json', () => {
  it('keeps renewing a message lock for as long as a function may run (long videos)', () => {
    const renewal = seconds(hostJson.extensions.serviceBus.maxAutoLockRenewalDuration);
    expect(renewal).toBeGreaterThanOrEqual(30 * 60);
    expect(renewal).toBeGreaterThanOrEqual(seconds(hostJson.functionTimeout));
  });

  it('keeps a batch message locked, and its function alive, until its stage deadline and grace are over', () => {
    // A batch message's files run under one deadline (stage-runner.ts); past it the runner releases the message itself.
    const batchMs = LIMITS.stageDeadlineMs + LIMITS.stageDeadlineGraceMs;
    expect(batchMs).toBeLessThan(seconds(hostJson.extensions.serviceBus.maxAutoLockRenewalDuration) * 1000);
    expect(batchMs).toBeLessThan(seconds(hostJson.functionTimeout) * 1000);
  });

  it('completes on return and abandons on throw, which the trigger adapters rely on', () => {
    expect(hostJson.extensions.serviceBus.autoCompleteMessages).toBe(true);
  });

  it('never samples away failures', () => {
    const sampling = hostJson.logging.applicationInsights.samplingSettings;
    const excluded = sampling.excludedTypes.split(';');
    expect(excluded).toContain('Exception');
    expect(excluded).toContain('Request');
  });

  it('uses extension bundle v4 and leaves the /api prefix to the route', () => {
    expect(hostJson.extensionBundle.id).toBe('Microsoft.Azure.Functions.ExtensionBundle');
    expect(hostJson.extensionBundle.version).toBe('[4.*, 5.0.0)');
    expect(hostJson.extensions.http.routePrefix).toBe('');
  });
});
