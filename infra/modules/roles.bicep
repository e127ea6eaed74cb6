// Least privilege for the pipeline (the Function App's identity), one
// assignment per operation the code performs, each at the narrowest scope.
// test/consistency/roles.test.ts keeps this file and the code in step. The
// evidence container gets Reader only: the app cannot alter or delete evidence.

param pipelinePrincipalId string
param evidenceAccountName string
param hostStorageAccountName string
param serviceBusNamespaceName string
param keyVaultName string
param custodyKeyName string
param registryName string
param appInsightsName string
@description('Entra group of examiners who upload evidence; empty skips.')
param examinerGroupObjectId string

var roles = {
  storageBlobDataReader: '2a2b9908-6ea1-4ae2-8e65-a410df84e7d1'
  storageBlobDataContributor: 'ba92f5b4-2d11-453d-a403-e96b0029c9fe'
  storageBlobDataOwner: 'b7e6dc6d-f1e8-4753-8033-0f276bb0955b'
  storageBlobDelegator: 'db58b8e5-c6ad-4a2a-8342-4190687cbf4a'
  serviceBusDataSender: '69a216fc-b8fb-44d8-bc22-1f3c2cd27a39'
  serviceBusDataReceiver: '4f6d3b9b-027b-4f4c-9142-0e5a2a2247e0'
  keyVaultCryptoUser: '12338af0-0e69-4776-bea7-57ae8d297424'
  acrPull: '7f951dda-4ed3-4680-a7ca-43fe172d538d'
  monitoringMetricsPublisher: '3913510d-42f4-4e42-8a64-420c390055eb'
}

resource evidenceAccount 'Microsoft.Storage/storageAccounts@2023-05-01' existing = {
  name: evidenceAccountName
}

resource evidenceBlobs 'Microsoft.Storage/storageAccounts/blobServices@2023-05-01' existing = {
  parent: evidenceAccount
  name: 'default'
}

resource evidenceContainer 'Microsoft.Storage/storageAccounts/blobServices/containers@2023-05-01' existing = {
  parent: evidenceBlobs
  name: 'evidence'
}

resource derivedContainer 'Microsoft.Storage/storageAccounts/blobServices/containers@2023-05-01' existing = {
  parent: evidenceBlobs
  name: 'derived'
}

resource custodyContainer 'Microsoft.Storage/storageAccounts/blobServices/containers@2023-05-01' existing = {
  parent: evidenceBlobs
  name: 'custody'
}

resource checkpointContainer 'Microsoft.Storage/storageAccounts/blobServices/containers@2023-05-01' existing = {
  parent: evidenceBlobs
  name: 'custody-checkpoints'
}

resource hostAccount 'Microsoft.Storage/storageAccounts@2023-05-01' existing = {
  name: hostStorageAccountName
}

resource namespace 'Microsoft.ServiceBus/namespaces@2022-10-01-preview' existing = {
  name: serviceBusNamespaceName
}

resource vault 'Microsoft.KeyVault/vaults@2023-07-01' existing = {
  name: keyVaultName
}

resource custodyKey 'Microsoft.KeyVault/vaults/keys@2023-07-01' existing = {
  parent: vault
  name: custodyKeyName
}

resource registry 'Microsoft.ContainerRegistry/registries@2023-07-01' existing = {
  name: registryName
}

resource appInsights 'Microsoft.Insights/components@2020-02-02' existing = {
  name: appInsightsName
}

// Hash, identify, describe, thumbnail: read evidence, never write it.
resource readEvidence 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(evidenceContainer.id, pipelinePrincipalId, roles.storageBlobDataReader)
  scope: evidenceContainer
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.storageBlobDataReader)
    principalId: pipelinePrincipalId
    principalType: 'ServicePrincipal'
  }
}

// Unpacked members (content/), thumbnails, staging.
resource writeDerived 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(derivedContainer.id, pipelinePrincipalId, roles.storageBlobDataContributor)
  scope: derivedContainer
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.storageBlobDataContributor)
    principalId: pipelinePrincipalId
    principalType: 'ServicePrincipal'
  }
}

// Custody logs (append blobs under WORM) and each case's keys.json.
resource writeCustody 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(custodyContainer.id, pipelinePrincipalId, roles.storageBlobDataContributor)
  scope: custodyContainer
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.storageBlobDataContributor)
    principalId: pipelinePrincipalId
    principalType: 'ServicePrincipal'
  }
}

// Signed checkpoints of the custody logs' heads (append blobs under WORM with protected appends).
resource appendCheckpoints 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(checkpointContainer.id, pipelinePrincipalId, roles.storageBlobDataContributor)
  scope: checkpointContainer
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.storageBlobDataContributor)
    principalId: pipelinePrincipalId
    principalType: 'ServicePrincipal'
  }
}

// User-delegation SAS for ffmpeg reads and downloads. Only at account scope can a
// delegation key be requested; the role carries no data access of its own.
resource delegateSas 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(evidenceAccount.id, pipelinePrincipalId, roles.storageBlobDelegator)
  scope: evidenceAccount
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.storageBlobDelegator)
    principalId: pipelinePrincipalId
    principalType: 'ServicePrincipal'
  }
}

// The Functions host's leases, timers and keys (a separate account: no evidence there).
resource hostStorage 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(hostAccount.id, pipelinePrincipalId, roles.storageBlobDataOwner)
  scope: hostAccount
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.storageBlobDataOwner)
    principalId: pipelinePrincipalId
    principalType: 'ServicePrincipal'
  }
}

// Stages queue the next stage's work.
resource sendMessages 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(namespace.id, pipelinePrincipalId, roles.serviceBusDataSender)
  scope: namespace
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.serviceBusDataSender)
    principalId: pipelinePrincipalId
    principalType: 'ServicePrincipal'
  }
}

// Triggers on the stage queues, their dead-letter queues and the blob-events queue.
resource receiveMessages 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(namespace.id, pipelinePrincipalId, roles.serviceBusDataReceiver)
  scope: namespace
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.serviceBusDataReceiver)
    principalId: pipelinePrincipalId
    principalType: 'ServicePrincipal'
  }
}

// Sign custody entries with the one key, nothing else in the vault.
resource signCustody 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(custodyKey.id, pipelinePrincipalId, roles.keyVaultCryptoUser)
  scope: custodyKey
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.keyVaultCryptoUser)
    principalId: pipelinePrincipalId
    principalType: 'ServicePrincipal'
  }
}

resource pullImage 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(registry.id, pipelinePrincipalId, roles.acrPull)
  scope: registry
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.acrPull)
    principalId: pipelinePrincipalId
    principalType: 'ServicePrincipal'
  }
}

// Telemetry with Entra auth (Application Insights local auth is disabled).
resource publishTelemetry 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(appInsights.id, pipelinePrincipalId, roles.monitoringMetricsPublisher)
  scope: appInsights
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.monitoringMetricsPublisher)
    principalId: pipelinePrincipalId
    principalType: 'ServicePrincipal'
  }
}

// Examiners upload evidence: read and write blobs, but no delete (a custom role;
// the built-in Contributor could delete). Overwrites only add versions.
resource uploaderRole 'Microsoft.Authorization/roleDefinitions@2022-04-01' = {
  name: guid(resourceGroup().id, 'exhibit-evidence-uploader')
  properties: {
    roleName: 'Exhibit Evidence Uploader (${resourceGroup().name})'
    description: 'Upload and read evidence blobs; cannot delete them.'
    type: 'CustomRole'
    assignableScopes: [resourceGroup().id]
    permissions: [
      {
        actions: ['Microsoft.Storage/storageAccounts/blobServices/containers/read']
        notActions: []
        dataActions: [
          'Microsoft.Storage/storageAccounts/blobServices/containers/blobs/read'
          'Microsoft.Storage/storageAccounts/blobServices/containers/blobs/write'
          'Microsoft.Storage/storageAccounts/blobServices/containers/blobs/add/action'
        ]
        notDataActions: []
      }
    ]
  }
}

resource examinersUpload 'Microsoft.Authorization/roleAssignments@2022-04-01' = if (!empty(examinerGroupObjectId)) {
  name: guid(evidenceContainer.id, examinerGroupObjectId, 'exhibit-evidence-uploader')
  scope: evidenceContainer
  properties: {
    roleDefinitionId: uploaderRole.id
    principalId: examinerGroupObjectId
    principalType: 'Group'
  }
}
