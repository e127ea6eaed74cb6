import { readFileSync } from 'node:fs';
import path from 'node:path';
import { loadConfig } from '@exhibit/core';
import { describe, expect, it } from 'vitest';
import { SERVICE_BUS_CONNECTION } from '../../functions/src/settings.js';
import { infraDir, matchClose, readBicep, repoRoot, stripComments } from './bicep.js';

interface AppSetting {
  name: string;
  /** The literal value, or null when Bicep computes it at deployment. */
  literal: string | null;
  expression: string;
}

function functionAppSettings(): AppSetting[] {
  const src = stripComments(readBicep(path.join(infraDir, 'modules/function-app.bicep')));
  const at = src.indexOf('appSettings:');
  expect(at).toBeGreaterThan(0);
  const open = src.indexOf('[', at);
  const block = src.slice(open + 1, matchClose(src, open) - 1);
  return [...block.matchAll(/\{\s*name:\s*'([^']+)'\s*,\s*value:\s*(.+?)\s*\}\s*$/gm)].map((m) => {
    const expression = m[2]!;
    const literal = /^'([^'$]*)'$/.exec(expression);
    return { name: m[1]!, literal: literal ? literal[1]! : null, expression };
  });
}

/** What the deployment would put there, shape kept: interpolations become 'x'. */
function sampleValue(setting: AppSetting): string {
  if (setting.literal !== null) return setting.literal;
  const quoted = /^'(.*)'$/.exec(setting.expression);
  if (quoted) return quoted[1]!.replace(/\$\{[^}]*\}/g, 'x');
  return `deployment-value-of-${setting.name}`;
}

/** Every setting name the config schema knows (EXHIBIT_*, DATABASE_URL, FFMPEG_PATH, ...). */
function configSettingNames(): Set<string> {
  const src = readFileSync(path.join(repoRoot, 'packages/core/src/config.ts'), 'utf8');
  const schema = src.slice(src.indexOf('const envSchema'), src.indexOf('export interface ExhibitConfig'));
  return new Set([...schema.matchAll(/^\s+([A-Z][A-Z0-9_]+):/gm)].map((m) => m[1]!));
}

describe('Function App settings in infra/ match loadConfig', () => {
  const settings = functionAppSettings();
  const env = Object.fromEntries(settings.map((s) => [s.name, sampleValue(s)]));

  it('sets each name once', () => {
    const names = settings.map((s) => s.name);
    expect(names.length).toBeGreaterThan(10);
    expect(new Set(names).size).toBe(names.length);
  });

  it('configures Azure mode: managed identity storage, Service Bus by namespace, PostgreSQL with Entra, Key Vault signing, Entra tokens', () => {
    const config = loadConfig(env, { cwd: '/' });
    expect(config.storage.kind).toBe('managed-identity');
    expect(config.bus).toEqual({ kind: 'service-bus', namespace: env.EXHIBIT_SERVICEBUS_NAMESPACE });
    expect(config.database).toMatchObject({ kind: 'postgres', entraAuth: true });
    expect(config.keyVault).toBeDefined();
    expect(config.auth.kind).toBe('entra');
    expect(config.media.ffmpegPath).toBe('/usr/bin/ffmpeg');
    expect(config.media.ffprobePath).toBe('/usr/bin/ffprobe');
    expect(config.worker.ingestSamples).toBe(false);
  });

  it('hands the review app its Entra registration, with loadConfig\'s defaults when the parameters are left empty', () => {
    const byName = new Map(settings.map((s) => [s.name, s.expression]));
    expect(byName.get('EXHIBIT_ENTRA_SPA_CLIENT_ID')).toBe('reviewAppClientId');
    expect(byName.get('EXHIBIT_ENTRA_API_SCOPE')).toBe('reviewAppApiScope');
    const empty = loadConfig({ ...env, EXHIBIT_ENTRA_AUDIENCE: 'api-app-id', EXHIBIT_ENTRA_SPA_CLIENT_ID: '', EXHIBIT_ENTRA_API_SCOPE: '' }, { cwd: '/' });
    expect(empty.auth).toMatchObject({ kind: 'entra', web: { clientId: 'api-app-id', scope: 'api://api-app-id/access_as_user' } });
    const parameters = readFileSync(path.join(infraDir, 'main.parameters.json'), 'utf8');
    expect(parameters).toContain('"reviewAppClientId": { "value": "${EXHIBIT_ENTRA_SPA_CLIENT_ID=}" }');
    expect(parameters).toContain('"reviewAppApiScope": { "value": "${EXHIBIT_ENTRA_API_SCOPE=}" }');
  });

  it('spells every Exhibit setting the way loadConfig reads it', () => {
    const known = configSettingNames();
    expect(known.has('EXHIBIT_STORAGE_BLOB_URL')).toBe(true);
    const ours = settings.map((s) => s.name).filter((n) => n.startsWith('EXHIBIT_') || n === 'DATABASE_URL' || n.startsWith('FFMPEG') || n.startsWith('FFPROBE'));
    for (const name of ours) expect(known, `${name} is not read by loadConfig`).toContain(name);
  });

  it('holds no secret: no keys, passwords or connection strings with credentials', () => {
    for (const s of settings) {
      expect(s.name).not.toMatch(/KEY$|PASSWORD|SECRET|SAS/i);
      expect(s.expression).not.toMatch(/listKeys|AccountKey=|SharedAccessKey|password=/i);
    }
    const database = new URL(env.DATABASE_URL!);
    expect(database.password).toBe('');
    expect(database.username).not.toBe('');
  });

  it('gives the Service Bus triggers an identity-based connection under the name they use', () => {
    const names = settings.map((s) => s.name);
    expect(names).toContain(`${SERVICE_BUS_CONNECTION}__fullyQualifiedNamespace`);
    expect(names).not.toContain(SERVICE_BUS_CONNECTION);
    expect(names).toContain('AzureWebJobsStorage__accountName');
    expect(names).not.toContain('AzureWebJobsStorage');
  });
});
