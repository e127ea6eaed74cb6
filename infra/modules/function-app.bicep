// The Functions app: Linux Elastic Premium running our container (Debian's
// ffmpeg is in the image), system-assigned identity, no secrets in settings.
// App settings named EXHIBIT_*, DATABASE_URL and FFMPEG_PATH/FFPROBE_PATH are
// read by loadConfig (packages/core/src/config.ts); the rest by the Functions host.

param location string
param tags object
param appName string
param planName string
@description('Full image reference; empty until the first build, when a stock Functions image keeps the app idle.')
param image string
param registryLoginServer string
param hostStorageAccountName string
param evidenceBlobUrl string
param serviceBusFullyQualifiedNamespace string
param postgresHost string
param databaseName string
param keyVaultUrl string
param custodyKeyName string
param apiAudience string
@description('The review app\'s client id (SPA registration); empty: the API\'s own (loadConfig\'s default).')
param reviewAppClientId string
@description('The scope the review app asks for; empty: api://<audience>/access_as_user (loadConfig\'s default).')
param reviewAppApiScope string
param appInsightsConnectionString string
param maxConcurrentCalls int
param maximumElasticWorkerCount int
@description('VNet integration subnet; empty without private endpoints.')
param subnetId string

var placeholderImage = 'mcr.microsoft.com/azure-functions/node:4-node20-appservice'

resource plan 'Microsoft.Web/serverfarms@2023-12-01' = {
  name: planName
  location: location
  tags: tags
  kind: 'elastic'
  sku: { name: 'EP1', tier: 'ElasticPremium' }
  properties: {
    reserved: true
    maximumElasticWorkerCount: maximumElasticWorkerCount
  }
}

resource app 'Microsoft.Web/sites@2023-12-01' = {
  name: appName
  location: location
  tags: tags
  kind: 'functionapp,linux,container'
  identity: { type: 'SystemAssigned' }
  properties: {
    serverFarmId: plan.id
    httpsOnly: true
    virtualNetworkSubnetId: empty(subnetId) ? null : subnetId
    vnetRouteAllEnabled: !empty(subnetId)
    siteConfig: {
      linuxFxVersion: 'DOCKER|${empty(image) ? placeholderImage : image}'
      acrUseManagedIdentityCreds: true
      minimumElasticInstanceCount: 1
      functionAppScaleLimit: maximumElasticWorkerCount
      functionsRuntimeScaleMonitoringEnabled: !empty(subnetId)
      ftpsState: 'Disabled'
      minTlsVersion: '1.2'
      http20Enabled: true
      appSettings: [
        // Functions host
        { name: 'FUNCTIONS_EXTENSION_VERSION', value: '~4' }
        { name: 'FUNCTIONS_WORKER_RUNTIME', value: 'node' }
        { name: 'WEBSITES_ENABLE_APP_SERVICE_STORAGE', value: 'false' }
        // Pulled with the app's identity (acrUseManagedIdentityCreds); no registry password.
        { name: 'DOCKER_REGISTRY_SERVER_URL', value: 'https://${registryLoginServer}' }
        { name: 'AzureWebJobsStorage__accountName', value: hostStorageAccountName }
        // `/` belongs to the review app (the `site` function's catch-all route), never to the host's own home page.
        { name: 'AzureWebJobsDisableHomepage', value: 'true' }
        { name: 'ServiceBusConnection__fullyQualifiedNamespace', value: serviceBusFullyQualifiedNamespace }
        { name: 'AzureFunctionsJobHost__extensions__serviceBus__maxConcurrentCalls', value: string(maxConcurrentCalls) }
        { name: 'APPLICATIONINSIGHTS_CONNECTION_STRING', value: appInsightsConnectionString }
        { name: 'APPLICATIONINSIGHTS_AUTHENTICATION_STRING', value: 'Authorization=AAD' }
        // Exhibit (loadConfig)
        { name: 'EXHIBIT_LOG_LEVEL', value: 'info' }
        { name: 'EXHIBIT_DATA_DIR', value: '/tmp/exhibit' }
        { name: 'EXHIBIT_INGEST_SAMPLES', value: 'false' }
        { name: 'EXHIBIT_STORAGE_BLOB_URL', value: evidenceBlobUrl }
        { name: 'EXHIBIT_BUS', value: 'service-bus' }
        { name: 'EXHIBIT_SERVICEBUS_NAMESPACE', value: serviceBusFullyQualifiedNamespace }
        // No password: the user is the app's Entra identity, the password an access token fetched at connect time.
        { name: 'DATABASE_URL', value: 'postgres://${uriComponent(appName)}@${postgresHost}:5432/${databaseName}?sslmode=verify-full' }
        { name: 'EXHIBIT_DATABASE_ENTRA_AUTH', value: 'true' }
        { name: 'EXHIBIT_KEY_VAULT_URL', value: keyVaultUrl }
        { name: 'EXHIBIT_CUSTODY_KEY_NAME', value: custodyKeyName }
        { name: 'EXHIBIT_ENTRA_TENANT_ID', value: tenant().tenantId }
        { name: 'EXHIBIT_ENTRA_AUDIENCE', value: apiAudience }
        // The review app (the `site` function) reports these in /app-config.json; empty means loadConfig's default.
        { name: 'EXHIBIT_ENTRA_SPA_CLIENT_ID', value: reviewAppClientId }
        { name: 'EXHIBIT_ENTRA_API_SCOPE', value: reviewAppApiScope }
        { name: 'FFMPEG_PATH', value: '/usr/bin/ffmpeg' }
        { name: 'FFPROBE_PATH', value: '/usr/bin/ffprobe' }
      ]
    }
  }
}

output name string = app.name
output principalId string = app.identity.principalId
output defaultHostName string = app.properties.defaultHostName
