// Key Vault (RBAC) holding the custody signing key. Key Vault has no Ed25519,
// so Azure custody entries are signed ES256 with an HSM-backed P-256 key; the
// custody verifier accepts both (each case's keys.json names the algorithm).

param location string
param tags object
param vaultName string
param keyName string
param privateEndpoints bool
param administratorPrincipalId string
param administratorPrincipalType string

var keyVaultAdministrator = '00482a5a-887f-4fb3-b363-3b7fe8e74483'

resource vault 'Microsoft.KeyVault/vaults@2023-07-01' = {
  name: vaultName
  location: location
  tags: tags
  properties: {
    tenantId: tenant().tenantId
    // Premium for HSM-protected keys: the signing key never exists outside an HSM.
    sku: { family: 'A', name: 'premium' }
    enableRbacAuthorization: true
    enableSoftDelete: true
    softDeleteRetentionInDays: 90
    enablePurgeProtection: true
    publicNetworkAccess: privateEndpoints ? 'Disabled' : 'Enabled'
    networkAcls: {
      defaultAction: privateEndpoints ? 'Deny' : 'Allow'
      bypass: 'AzureServices'
    }
  }
}

resource custodyKey 'Microsoft.KeyVault/vaults/keys@2023-07-01' = {
  parent: vault
  name: keyName
  properties: {
    kty: 'EC-HSM'
    curveName: 'P-256'
    keyOps: ['sign', 'verify']
    attributes: { enabled: true, exportable: false }
  }
}

resource operatorIsAdministrator 'Microsoft.Authorization/roleAssignments@2022-04-01' = if (!empty(administratorPrincipalId)) {
  name: guid(vault.id, administratorPrincipalId, keyVaultAdministrator)
  scope: vault
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', keyVaultAdministrator)
    principalId: administratorPrincipalId
    principalType: administratorPrincipalType
  }
}

output vaultName string = vault.name
output vaultId string = vault.id
output vaultUri string = vault.properties.vaultUri
output keyName string = custodyKey.name
