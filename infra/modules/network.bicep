// Only with privateEndpoints=true: a VNet, the Function App's integration
// subnet, and private endpoints (with private DNS) for every data service, so
// evidence, messages, keys and the index are unreachable from the internet.

param location string
param tags object
param token string
param evidenceAccountId string
param hostStorageAccountId string
param serviceBusNamespaceId string
param keyVaultId string
param postgresServerId string

resource vnet 'Microsoft.Network/virtualNetworks@2023-11-01' = {
  name: 'vnet-exhibit-${token}'
  location: location
  tags: tags
  properties: {
    addressSpace: { addressPrefixes: ['10.40.0.0/16'] }
    subnets: [
      {
        name: 'functions'
        properties: {
          addressPrefix: '10.40.1.0/24'
          delegations: [{ name: 'web', properties: { serviceName: 'Microsoft.Web/serverFarms' } }]
        }
      }
      {
        name: 'private-endpoints'
        properties: {
          addressPrefix: '10.40.2.0/24'
          privateEndpointNetworkPolicies: 'Disabled'
        }
      }
    ]
  }
}

var endpoints = [
  { name: 'evidence-blob', target: evidenceAccountId, group: 'blob', zone: 'privatelink.blob.${environment().suffixes.storage}' }
  { name: 'host-blob', target: hostStorageAccountId, group: 'blob', zone: 'privatelink.blob.${environment().suffixes.storage}' }
  { name: 'host-queue', target: hostStorageAccountId, group: 'queue', zone: 'privatelink.queue.${environment().suffixes.storage}' }
  { name: 'host-table', target: hostStorageAccountId, group: 'table', zone: 'privatelink.table.${environment().suffixes.storage}' }
  { name: 'servicebus', target: serviceBusNamespaceId, group: 'namespace', zone: 'privatelink.servicebus.windows.net' }
  { name: 'keyvault', target: keyVaultId, group: 'vault', zone: 'privatelink.vaultcore.azure.net' }
  { name: 'postgres', target: postgresServerId, group: 'postgresqlServer', zone: 'privatelink.postgres.database.azure.com' }
]

var zoneNames = union(map(endpoints, e => e.zone), [])

resource zones 'Microsoft.Network/privateDnsZones@2020-06-01' = [
  for zone in zoneNames: {
    name: zone
    location: 'global'
    tags: tags
  }
]

resource zoneLinks 'Microsoft.Network/privateDnsZones/virtualNetworkLinks@2020-06-01' = [
  for (zone, i) in zoneNames: {
    parent: zones[i]
    name: 'vnet-link'
    location: 'global'
    properties: {
      registrationEnabled: false
      virtualNetwork: { id: vnet.id }
    }
  }
]

resource privateEndpoints 'Microsoft.Network/privateEndpoints@2023-11-01' = [
  for e in endpoints: {
    name: 'pe-${e.name}-${token}'
    location: location
    tags: tags
    properties: {
      subnet: { id: '${vnet.id}/subnets/private-endpoints' }
      privateLinkServiceConnections: [
        {
          name: e.name
          properties: { privateLinkServiceId: e.target, groupIds: [e.group] }
        }
      ]
    }
  }
]

resource dnsGroups 'Microsoft.Network/privateEndpoints/privateDnsZoneGroups@2023-11-01' = [
  for (e, i) in endpoints: {
    parent: privateEndpoints[i]
    name: 'default'
    dependsOn: [zones]
    properties: {
      privateDnsZoneConfigs: [
        {
          name: replace(e.zone, '.', '-')
          properties: { privateDnsZoneId: resourceId('Microsoft.Network/privateDnsZones', e.zone) }
        }
      ]
    }
  }
]

output functionsSubnetId string = '${vnet.id}/subnets/functions'
