// The Functions host's own account (AzureWebJobsStorage: leases, timer
// schedule, host keys) and Event Grid's dead letters. Kept apart from the
// evidence account so the app's broad rights here never reach evidence.

param location string
param tags object
param accountName string
param privateEndpoints bool

resource account 'Microsoft.Storage/storageAccounts@2023-05-01' = {
  name: accountName
  location: location
  tags: tags
  kind: 'StorageV2'
  sku: { name: 'Standard_LRS' }
  properties: {
    minimumTlsVersion: 'TLS1_2'
    supportsHttpsTrafficOnly: true
    allowBlobPublicAccess: false
    allowSharedKeyAccess: false
    defaultToOAuthAuthentication: true
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
}

resource eventDeadLetters 'Microsoft.Storage/storageAccounts/blobServices/containers@2023-05-01' = {
  parent: blobService
  name: 'event-deadletters'
  properties: { publicAccess: 'None' }
}

output accountName string = account.name
output accountId string = account.id
output eventDeadLetterContainerName string = eventDeadLetters.name
