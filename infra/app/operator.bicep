// Data roles for the person (or pipeline) deploying, so that `ops audit` and the other `ops`
// commands can use the deployed storage from their machine (docs/deploy.md, "Reading the
// audit trail"). Opening the state store creates its tables and its lease container when
// missing, so the table and blob roles are Contributor, on the app's own account only.

param storageAccountName string

@description('Object ID of the deploying user or service principal.')
param principalId string

@allowed([
  'User'
  'ServicePrincipal'
  'Group'
])
param principalType string

var roles = loadJsonContent('../roles.json')

resource storage 'Microsoft.Storage/storageAccounts@2023-05-01' existing = {
  name: storageAccountName
}

resource tables 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(storage.id, principalId, roles.StorageTableDataContributor)
  scope: storage
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.StorageTableDataContributor)
    principalId: principalId
    principalType: principalType
    description: 'storage: the operator reads the audit trail and state tables (ops audit)'
  }
}

resource blobs 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(storage.id, principalId, roles.StorageBlobDataContributor)
  scope: storage
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.StorageBlobDataContributor)
    principalId: principalId
    principalType: principalType
    description: 'storage: the operator\'s ops commands take the same blob leases as the app'
  }
}
