// Entra administrators of the PostgreSQL server: the Function App's identity
// (it runs the schema migrations at start-up) and, optionally, the operator.
// One at a time: the server accepts a single administrator change at once.

param serverName string
param appName string
param appPrincipalId string
param operatorPrincipalId string
param operatorPrincipalType string

resource server 'Microsoft.DBforPostgreSQL/flexibleServers@2024-08-01' existing = {
  name: serverName
}

resource appAdministrator 'Microsoft.DBforPostgreSQL/flexibleServers/administrators@2024-08-01' = {
  parent: server
  name: appPrincipalId
  properties: {
    principalType: 'ServicePrincipal'
    // The login name in DATABASE_URL: a managed identity logs in under its app's name.
    principalName: appName
    tenantId: tenant().tenantId
  }
}

resource operatorAdministrator 'Microsoft.DBforPostgreSQL/flexibleServers/administrators@2024-08-01' = if (!empty(operatorPrincipalId)) {
  parent: server
  name: empty(operatorPrincipalId) ? 'unused' : operatorPrincipalId
  dependsOn: [appAdministrator]
  properties: {
    principalType: operatorPrincipalType
    principalName: 'exhibit-operator'
    tenantId: tenant().tenantId
  }
}
