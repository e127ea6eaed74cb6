targetScope = 'subscription'

// Exhibit on Azure: `azd up` provisions this, then infra/scripts/deploy-image.sh
// builds the Functions container in the registry and points the app at it.

@minLength(1)
@maxLength(40)
@description('Name of the azd environment; names and tags every resource.')
param environmentName string

@minLength(1)
@description('Region for every resource.')
param location string

@description('Object id of the person running azd: PostgreSQL Entra administrator and Key Vault administrator for operations. Empty skips both.')
param principalId string = ''

@allowed(['User', 'Group', 'ServicePrincipal'])
param principalType string = 'User'

@minLength(1)
@description('Application (client) id of the Exhibit API app registration: the audience of the v2 access tokens the API accepts.')
param apiAudience string

@description('Application (client) id of the review app\'s own app registration (Single-page application platform, redirect URI = output EXHIBIT_REVIEW_APP_REDIRECT_URI). Empty: the API\'s registration (apiAudience) is also the review app\'s.')
param reviewAppClientId string = ''

@description('Delegated scope the review app asks for. Empty: api://<apiAudience>/access_as_user.')
param reviewAppApiScope string = ''

@description('Object id of the Entra group whose members upload evidence (write without delete on the evidence container). Empty skips.')
param examinerGroupObjectId string = ''

@description('Put storage, Service Bus, Key Vault and PostgreSQL behind private endpoints; the app reaches them through VNet integration.')
param privateEndpoints bool = false

@description('Container image of the Functions app; set by the postprovision hook, empty until the first build.')
param functionsImage string = ''

@minValue(1)
@maxValue(32)
@description('Service Bus messages one instance processes at once (overrides host.json).')
param maxConcurrentCalls int = 4

@minValue(1)
@maxValue(100)
@description('Most Premium plan instances the app scales out to.')
param maximumElasticWorkerCount int = 10

@minValue(1)
@maxValue(146000)
@description('Days custody log blobs are held immutable (time-based retention, unlocked until an administrator locks it).')
param custodyRetentionDays int = 2557

@description('PostgreSQL compute: Burstable B2s is enough for one lab; see docs/deploy.md for sizing.')
param postgresSkuName string = 'Standard_B2s'

@allowed(['Burstable', 'GeneralPurpose', 'MemoryOptimized'])
param postgresSkuTier string = 'Burstable'

@allowed(['Standard_LRS', 'Standard_ZRS', 'Standard_GRS', 'Standard_GZRS', 'Standard_RAGRS', 'Standard_RAGZRS'])
@description('Redundancy of the evidence account.')
param evidenceStorageSku string = 'Standard_ZRS'

var tags = { 'azd-env-name': environmentName, application: 'exhibit' }

resource rg 'Microsoft.Resources/resourceGroups@2024-03-01' = {
  name: 'rg-${environmentName}'
  location: location
  tags: tags
}

module resources 'resources.bicep' = {
  name: 'exhibit-resources'
  scope: rg
  params: {
    environmentName: environmentName
    location: location
    tags: tags
    principalId: principalId
    principalType: principalType
    apiAudience: apiAudience
    reviewAppClientId: reviewAppClientId
    reviewAppApiScope: reviewAppApiScope
    examinerGroupObjectId: examinerGroupObjectId
    privateEndpoints: privateEndpoints
    functionsImage: functionsImage
    maxConcurrentCalls: maxConcurrentCalls
    maximumElasticWorkerCount: maximumElasticWorkerCount
    custodyRetentionDays: custodyRetentionDays
    postgresSkuName: postgresSkuName
    postgresSkuTier: postgresSkuTier
    evidenceStorageSku: evidenceStorageSku
  }
}

output AZURE_LOCATION string = location
output AZURE_TENANT_ID string = tenant().tenantId
output AZURE_RESOURCE_GROUP string = rg.name
output AZURE_CONTAINER_REGISTRY_NAME string = resources.outputs.registryName
output AZURE_CONTAINER_REGISTRY_ENDPOINT string = resources.outputs.registryLoginServer
output FUNCTION_APP_NAME string = resources.outputs.functionAppName
output EXHIBIT_API_URL string = resources.outputs.apiUrl
// The review app is served by the Function app itself (same origin as the API); its sign-in comes back here.
output EXHIBIT_REVIEW_APP_URL string = resources.outputs.reviewAppUrl
output EXHIBIT_REVIEW_APP_REDIRECT_URI string = resources.outputs.reviewAppUrl
output EXHIBIT_STORAGE_BLOB_URL string = resources.outputs.evidenceBlobUrl
output EXHIBIT_SERVICEBUS_NAMESPACE string = resources.outputs.serviceBusNamespace
output EXHIBIT_KEY_VAULT_URL string = resources.outputs.keyVaultUrl
output POSTGRES_HOST string = resources.outputs.postgresHost
output STORAGE_ACCOUNT_NAME string = resources.outputs.evidenceAccountName
