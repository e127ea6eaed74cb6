// Log Analytics and workspace-based Application Insights. The app sends
// telemetry with Entra auth (local auth disabled), so no key can leak.

param location string
param tags object
param token string

resource workspace 'Microsoft.OperationalInsights/workspaces@2023-09-01' = {
  name: 'log-exhibit-${token}'
  location: location
  tags: tags
  properties: {
    sku: { name: 'PerGB2018' }
    // Operations history for incident review; custody itself lives in the custody container.
    retentionInDays: 90
  }
}

resource appInsights 'Microsoft.Insights/components@2020-02-02' = {
  name: 'appi-exhibit-${token}'
  location: location
  tags: tags
  kind: 'web'
  properties: {
    Application_Type: 'web'
    WorkspaceResourceId: workspace.id
    DisableLocalAuth: true
  }
}

output workspaceId string = workspace.id
output appInsightsName string = appInsights.name
output appInsightsConnectionString string = appInsights.properties.ConnectionString
