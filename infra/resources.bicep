// Everything in one resource group. Modules in dependency order; the pipeline
// identity's permissions are all in modules/roles.bicep.

param environmentName string
param location string
param tags object
param principalId string
param principalType string
param apiAudience string
param reviewAppClientId string
param reviewAppApiScope string
param examinerGroupObjectId string
param privateEndpoints bool
param functionsImage string
param maxConcurrentCalls int
param maximumElasticWorkerCount int
param custodyRetentionDays int
param postgresSkuName string
param postgresSkuTier string
param evidenceStorageSku string

var token = toLower(uniqueString(subscription().id, resourceGroup().id, environmentName))
var custodyKeyName = 'custody-signing'
var databaseName = 'exhibit'

module monitoring 'modules/monitoring.bicep' = {
  name: 'monitoring'
  params: { location: location, tags: tags, token: token }
}

module storage 'modules/storage.bicep' = {
  name: 'storage'
  params: {
    location: location
    tags: tags
    accountName: 'stev${token}'
    skuName: evidenceStorageSku
    custodyRetentionDays: custodyRetentionDays
    privateEndpoints: privateEndpoints
  }
}

module hostStorage 'modules/host-storage.bicep' = {
  name: 'host-storage'
  params: { location: location, tags: tags, accountName: 'stfn${token}', privateEndpoints: privateEndpoints }
}

module serviceBus 'modules/service-bus.bicep' = {
  name: 'service-bus'
  params: { location: location, tags: tags, namespaceName: 'sb-exhibit-${token}', privateEndpoints: privateEndpoints }
}

module events 'modules/events.bicep' = {
  name: 'events'
  params: {
    location: location
    tags: tags
    topicName: 'evgt-exhibit-${token}'
    evidenceAccountName: storage.outputs.accountName
    serviceBusNamespaceName: serviceBus.outputs.namespaceName
    blobEventsQueueName: serviceBus.outputs.blobEventsQueueName
    hostStorageAccountName: hostStorage.outputs.accountName
    deadLetterContainerName: hostStorage.outputs.eventDeadLetterContainerName
  }
}

module keyVault 'modules/key-vault.bicep' = {
  name: 'key-vault'
  params: {
    location: location
    tags: tags
    vaultName: 'kv-exhibit-${take(token, 11)}'
    keyName: custodyKeyName
    privateEndpoints: privateEndpoints
    administratorPrincipalId: principalId
    administratorPrincipalType: principalType
  }
}

module registry 'modules/registry.bicep' = {
  name: 'registry'
  params: { location: location, tags: tags, registryName: 'crexhibit${token}' }
}

module postgres 'modules/postgres.bicep' = {
  name: 'postgres'
  params: {
    location: location
    tags: tags
    serverName: 'psql-exhibit-${token}'
    databaseName: databaseName
    skuName: postgresSkuName
    skuTier: postgresSkuTier
    privateEndpoints: privateEndpoints
  }
}

module network 'modules/network.bicep' = if (privateEndpoints) {
  name: 'network'
  params: {
    location: location
    tags: tags
    token: token
    evidenceAccountId: storage.outputs.accountId
    hostStorageAccountId: hostStorage.outputs.accountId
    serviceBusNamespaceId: serviceBus.outputs.namespaceId
    keyVaultId: keyVault.outputs.vaultId
    postgresServerId: postgres.outputs.serverId
  }
}

module functionApp 'modules/function-app.bicep' = {
  name: 'function-app'
  params: {
    location: location
    tags: tags
    appName: 'func-exhibit-${token}'
    planName: 'plan-exhibit-${token}'
    image: functionsImage
    registryLoginServer: registry.outputs.loginServer
    hostStorageAccountName: hostStorage.outputs.accountName
    evidenceBlobUrl: storage.outputs.blobEndpoint
    serviceBusFullyQualifiedNamespace: serviceBus.outputs.fullyQualifiedNamespace
    postgresHost: postgres.outputs.fullyQualifiedDomainName
    databaseName: databaseName
    keyVaultUrl: keyVault.outputs.vaultUri
    custodyKeyName: custodyKeyName
    apiAudience: apiAudience
    reviewAppClientId: reviewAppClientId
    reviewAppApiScope: reviewAppApiScope
    appInsightsConnectionString: monitoring.outputs.appInsightsConnectionString
    maxConcurrentCalls: maxConcurrentCalls
    maximumElasticWorkerCount: maximumElasticWorkerCount
    subnetId: privateEndpoints ? network!.outputs.functionsSubnetId : ''
  }
}

module roles 'modules/roles.bicep' = {
  name: 'roles'
  params: {
    pipelinePrincipalId: functionApp.outputs.principalId
    evidenceAccountName: storage.outputs.accountName
    hostStorageAccountName: hostStorage.outputs.accountName
    serviceBusNamespaceName: serviceBus.outputs.namespaceName
    keyVaultName: keyVault.outputs.vaultName
    custodyKeyName: custodyKeyName
    registryName: registry.outputs.registryName
    appInsightsName: monitoring.outputs.appInsightsName
    examinerGroupObjectId: examinerGroupObjectId
  }
}

module postgresAdmins 'modules/postgres-admins.bicep' = {
  name: 'postgres-admins'
  params: {
    serverName: postgres.outputs.serverName
    appName: functionApp.outputs.name
    appPrincipalId: functionApp.outputs.principalId
    operatorPrincipalId: principalId
    operatorPrincipalType: principalType
  }
}

output registryName string = registry.outputs.registryName
output registryLoginServer string = registry.outputs.loginServer
output functionAppName string = functionApp.outputs.name
output apiUrl string = 'https://${functionApp.outputs.defaultHostName}/api'
output reviewAppUrl string = 'https://${functionApp.outputs.defaultHostName}/'
output evidenceBlobUrl string = storage.outputs.blobEndpoint
output evidenceAccountName string = storage.outputs.accountName
output serviceBusNamespace string = serviceBus.outputs.fullyQualifiedNamespace
output keyVaultUrl string = keyVault.outputs.vaultUri
output postgresHost string = postgres.outputs.fullyQualifiedDomainName
