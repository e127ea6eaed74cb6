// The evidence account. Originals are never changed: versioning keeps every
// version, soft delete keeps deleted ones, the evidence container supports
// version-level legal holds, and the custody container is WORM with
// protected appends. No account keys: every caller uses Entra ID.

param location string
param tags object
param accountName string
param skuName string
param custodyRetentionDays int
param privateEndpoints bool

@description('Days deleted blobs and containers stay recoverable.')
param softDeleteDays int = 365

resource account 'Microsoft.Storage/storageAccounts@2023-05-01' = {
  name: accountName
  location: location
  tags: tags
  kind: 'StorageV2'
  sku: { name: skuName }
  properties: {
    accessTier: 'Hot'
    minimumTlsVersion: 'TLS1_2'
    supportsHttpsTrafficOnly: true
    allowBlobPublicAccess: false
    allowSharedKeyAccess: false
    defaultToOAuthAuthentication: true
    allowCrossTenantReplication: false
    isHnsEnabled: false
    publicNetworkAccess: privateEndpoints ? 'Disabled' : 'Enabled'
    networkAcls: {
      defaultAction: privateEndpoints ? 'Deny' : 'Allow'
      bypass: 'AzureServices'
    }
  }
}

resource blobService 'Microsoft.Storage/storageAccounts/blobServices@2023-05-01' = {
  parent: account
  name: 'default'
  properties: {
    isVersioningEnabled: true
    // Every create, overwrite and delete, in order, kept as its own audit trail.
    changeFeed: { enabled: true }
    deleteRetentionPolicy: { enabled: true, days: softDeleteDays }
    containerDeleteRetentionPolicy: { enabled: true, days: softDeleteDays }
  }
}

resource evidenceContainer 'Microsoft.Storage/storageAccounts/blobServices/containers@2023-05-01' = {
  parent: blobService
  name: 'evidence'
  properties: {
    publicAccess: 'None'
    // Legal-hold ready: holds and retention can be placed on individual blob versions.
    immutableStorageWithVersioning: { enabled: true }
  }
}

resource derivedContainer 'Microsoft.Storage/storageAccounts/blobServices/containers@2023-05-01' = {
  parent: blobService
  name: 'derived'
  properties: { publicAccess: 'None' }
}

resource custodyContainer 'Microsoft.Storage/storageAccounts/blobServices/containers@2023-05-01' = {
  parent: blobService
  name: 'custody'
  properties: { publicAccess: 'None' }
}

// Created unlocked: an administrator locks it (irreversible) once retention is agreed; see docs/deploy.md.
resource custodyRetention 'Microsoft.Storage/storageAccounts/blobServices/containers/immutabilityPolicies@2023-05-01' = {
  parent: custodyContainer
  name: 'default'
  properties: {
    immutabilityPeriodSinceCreationInDays: custodyRetentionDays
    allowProtectedAppendWrites: true
  }
}

// Signed checkpoints of every custody log's head (entry count and head hash), one append blob per case.
// Kept apart from the logs and WORM with protected appends: the pipeline adds blocks, never rewrites or
// deletes them, so a log cut short, re-signed or deleted in the custody container no longer matches.
resource checkpointContainer 'Microsoft.Storage/storageAccounts/blobServices/containers@2023-05-01' = {
  parent: blobService
  name: 'custody-checkpoints'
  properties: { publicAccess: 'None' }
}

// Unlocked like the custody policy; lock both together (docs/deploy.md).
resource checkpointRetention 'Microsoft.Storage/storageAccounts/blobServices/containers/immutabilityPolicies@2023-05-01' = {
  parent: checkpointContainer
  name: 'default'
  properties: {
    immutabilityPeriodSinceCreationInDays: custodyRetentionDays
    allowProtectedAppendWrites: true
  }
}

output accountName string = account.name
output accountId string = account.id
output blobEndpoint string = account.properties.primaryEndpoints.blob
