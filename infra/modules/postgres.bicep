// Azure Database for PostgreSQL flexible server, Entra authentication only:
// there is no password to store or leak. Administrators are set after the
// Function App exists (postgres-admins.bicep), since it is one of them.

param location string
param tags object
param serverName string
param databaseName string
param skuName string
param skuTier string
param privateEndpoints bool

resource server 'Microsoft.DBforPostgreSQL/flexibleServers@2024-08-01' = {
  name: serverName
  location: location
  tags: tags
  sku: { name: skuName, tier: skuTier }
  properties: {
    version: '16'
    authConfig: {
      activeDirectoryAuth: 'Enabled'
      passwordAuth: 'Disabled'
      tenantId: tenant().tenantId
    }
    storage: { storageSizeGB: 64, autoGrow: 'Enabled' }
    backup: { backupRetentionDays: 35, geoRedundantBackup: 'Disabled' }
    highAvailability: { mode: 'Disabled' }
    network: { publicNetworkAccess: privateEndpoints ? 'Disabled' : 'Enabled' }
  }
}

resource database 'Microsoft.DBforPostgreSQL/flexibleServers/databases@2024-08-01' = {
  parent: server
  name: databaseName
  properties: { charset: 'UTF8', collation: 'en_US.utf8' }
}

// Extensions the index's migrations may create (Azure's allow-list): pg_trgm
// for path search (0001), vector (pgvector), which migration 0025 creates where
// it can; since 0085 no index uses it (PDQ search is exact by multi-index
// hashing, no extension), so it may be left out. Without them the migrations
// still apply.
// After the database, so the server is not busy with two changes at once.
resource extensions 'Microsoft.DBforPostgreSQL/flexibleServers/configurations@2024-08-01' = {
  parent: server
  name: 'azure.extensions'
  properties: { value: 'PG_TRGM,VECTOR', source: 'user-defined' }
  dependsOn: [database]
}

// Without private endpoints, only Azure services may connect (0.0.0.0 is Azure's own rule), and every login needs an Entra token.
resource allowAzure 'Microsoft.DBforPostgreSQL/flexibleServers/firewallRules@2024-08-01' = if (!privateEndpoints) {
  parent: server
  name: 'AllowAllAzureServicesAndResourcesWithinAzureIps'
  properties: { startIpAddress: '0.0.0.0', endIpAddress: '0.0.0.0' }
}

output serverName string = server.name
output serverId string = server.id
output fullyQualifiedDomainName string = server.properties.fullyQualifiedDomainName
output databaseName string = database.name
