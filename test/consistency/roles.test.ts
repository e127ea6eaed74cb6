import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { bicepFiles, infraDir, resources, roleIds, topLevelProperty, unquote, type BicepResource } from './bicep.js';

/** Built-in role ids, checked against every `var roles` in infra/ so a typo cannot grant the wrong role. */
const BUILT_IN_ROLES: Record<string, string> = {
  storageBlobDataReader: '2a2b9908-6ea1-4ae2-8e65-a410df84e7d1',
  storageBlobDataContributor: 'ba92f5b4-2d11-453d-a403-e96b0029c9fe',
  storageBlobDataOwner: 'b7e6dc6d-f1e8-4753-8033-0f276bb0955b',
  storageBlobDelegator: 'db58b8e5-c6ad-4a2a-8342-4190687cbf4a',
  serviceBusDataSender: '69a216fc-b8fb-44d8-bc22-1f3c2cd27a39',
  serviceBusDataReceiver: '4f6d3b9b-027b-4f4c-9142-0e5a2a2247e0',
  keyVaultCryptoUser: '12338af0-0e69-4776-bea7-57ae8d297424',
  acrPull: '7f951dda-4ed3-4680-a7ca-43fe172d538d',
  monitoringMetricsPublisher: '3913510d-42f4-4e42-8a64-420c390055eb',
};

/** Where a role is granted: a resource type and the name it is declared with in roles.bicep. */
type Scope = { type: string; name: string };

const container = (name: string): Scope => ({ type: 'Microsoft.Storage/storageAccounts/blobServices/containers', name: `'${name}'` });

/**
 * Every operation the pipeline's code performs against Azure, the role it
 * needs and the narrowest scope that allows it.
 */
const REQUIRED: Array<{ operation: string; role: string; scope: Scope }> = [
  { operation: 'read evidence (ingest, hash, identify, metadata, thumbnail, unpack)', role: 'storageBlobDataReader', scope: container('evidence') },
  { operation: 'write derived blobs (unpacked members, thumbnails, staging)', role: 'storageBlobDataContributor', scope: container('derived') },
  { operation: 'append custody logs and write keys.json', role: 'storageBlobDataContributor', scope: container('custody') },
  { operation: 'append signed custody checkpoints', role: 'storageBlobDataContributor', scope: container('custody-checkpoints') },
  { operation: 'request a user delegation key for read-only SAS URLs', role: 'storageBlobDelegator', scope: { type: 'Microsoft.Storage/storageAccounts', name: 'evidenceAccountName' } },
  { operation: 'keep Functions host leases, timers and keys (AzureWebJobsStorage)', role: 'storageBlobDataOwner', scope: { type: 'Microsoft.Storage/storageAccounts', name: 'hostStorageAccountName' } },
  { operation: 'send stage messages', role: 'serviceBusDataSender', scope: { type: 'Microsoft.ServiceBus/namespaces', name: 'serviceBusNamespaceName' } },
  { operation: 'receive stage, dead-letter and blob-event messages', role: 'serviceBusDataReceiver', scope: { type: 'Microsoft.ServiceBus/namespaces', name: 'serviceBusNamespaceName' } },
  { operation: 'sign custody entries (ES256)', role: 'keyVaultCryptoUser', scope: { type: 'Microsoft.KeyVault/vaults/keys', name: 'custodyKeyName' } },
  { operation: 'pull the Functions image', role: 'acrPull', scope: { type: 'Microsoft.ContainerRegistry/registries', name: 'registryName' } },
  { operation: 'send telemetry with Entra auth', role: 'monitoringMetricsPublisher', scope: { type: 'Microsoft.Insights/components', name: 'appInsightsName' } },
];

const rolesBicep = path.join(infraDir, 'modules/roles.bicep');

interface Assignment {
  symbol: string;
  role: string;
  principal: string;
  scope: Scope;
}

function assignments(file: string): Assignment[] {
  const all = resources(file);
  const bySymbol = new Map<string, BicepResource>(all.map((r) => [r.symbol, r]));
  return all
    .filter((r) => r.type === 'Microsoft.Authorization/roleAssignments' && !r.existing)
    .map((r) => {
      const scopeSymbol = topLevelProperty(r.body, 'scope') ?? '';
      const target = bySymbol.get(scopeSymbol);
      const roleMatch = /roles\.(\w+)/.exec(r.body);
      const props = /principalId:\s*(\S+)/.exec(r.body);
      return {
        symbol: r.symbol,
        role: roleMatch ? roleMatch[1]! : 'custom',
        principal: props ? props[1]! : '',
        scope: { type: target?.type ?? `unresolved:${scopeSymbol}`, name: topLevelProperty(target?.body ?? '', 'name') ?? '' },
      };
    });
}

describe('the pipeline identity has the roles the code needs, and no more', () => {
  const granted = assignments(rolesBicep).filter((a) => a.principal === 'pipelinePrincipalId');

  it('uses the right built-in role ids everywhere', () => {
    for (const file of bicepFiles()) {
      for (const [name, id] of Object.entries(roleIds(file))) {
        if (BUILT_IN_ROLES[name]) expect(id, `${path.basename(file)}: ${name}`).toBe(BUILT_IN_ROLES[name]);
      }
    }
    for (const name of new Set(REQUIRED.map((r) => r.role))) expect(roleIds(rolesBicep)[name]).toBe(BUILT_IN_ROLES[name]);
  });

  for (const need of REQUIRED) {
    it(`can ${need.operation}`, () => {
      const match = granted.find((a) => a.role === need.role && a.scope.type === need.scope.type && a.scope.name === need.scope.name);
      expect(match, `${need.role} on ${need.scope.type} ${need.scope.name}`).toBeDefined();
    });
  }

  it('grants nothing the table does not ask for', () => {
    const extra = granted.filter((a) => !REQUIRED.some((n) => n.role === a.role && n.scope.type === a.scope.type && n.scope.name === a.scope.name));
    expect(extra.map((a) => `${a.symbol}: ${a.role} on ${a.scope.type} ${a.scope.name}`)).toEqual([]);
  });

  it('cannot change or delete evidence: read-only on its container, no data role on its account', () => {
    const onEvidence = granted.filter((a) => a.scope.type === container('evidence').type && unquote(a.scope.name) === 'evidence');
    expect(onEvidence.map((a) => a.role)).toEqual(['storageBlobDataReader']);
    const onAccount = granted.filter((a) => a.scope.type === 'Microsoft.Storage/storageAccounts' && a.scope.name === 'evidenceAccountName');
    expect(onAccount.map((a) => a.role)).toEqual(['storageBlobDelegator']);
  });

  it('resolves every assignment scope to a declared resource', () => {
    for (const file of bicepFiles()) {
      for (const a of assignments(file)) expect(a.scope.type, `${path.basename(file)}: ${a.symbol}`).not.toMatch(/^unresolved:/);
    }
  });

  it('lets examiners upload without delete', () => {
    const role = resources(rolesBicep).find((r) => r.type === 'Microsoft.Authorization/roleDefinitions');
    expect(role).toBeDefined();
    expect(role!.body).toContain("'Microsoft.Storage/storageAccounts/blobServices/containers/blobs/write'");
    expect(role!.body).not.toMatch(/blobs\/delete|\/\*'/);
    const upload = assignments(rolesBicep).find((a) => a.role === 'custom');
    expect(upload?.scope).toEqual(container('evidence'));
  });
});
