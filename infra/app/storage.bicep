// The app's own storage: host state (AzureWebJobsStorage), the app's tables, queues and
// blob leases, the Flex Consumption deployment package, and the gate's dead letters.
// It is reached with Entra identities only: shared keys, SAS and local users are off.

param name string
param location string
param tags object

@description('Replication; the audit trail lives here.')
param skuName string = 'Standard_ZRS'

@description('Blob container that Flex Consumption deploys the app package from.')
param deploymentContainerName string

@description('Blob container where Event Grid writes gate events it could not deliver.')
param deadLetterContainerName string

@allowed([
  'Enabled'
  'Disabled'
])
@description('Disabled with vnetEnabled: the app reaches the account through its private endpoints only.')
param publicNetworkAccess string = 'Enabled'

resource account 'Microsoft.Storage/storageAccounts@2023-05-01' = {
  // checkov:skip=CKV_AZURE_35: public access follows vnetEnabled (a parameter checkov does not evaluate): off with it, and without it every request needs an Entra token (shared keys are off)
  // checkov:skip=CKV_AZURE_59: as CKV_AZURE_35: publicNetworkAccess is Disabled with vnetEnabled; otherwise Entra-only access and no anonymous blob access
  // checkov:skip=CKV_AZURE_43: the name is main.bicep's 'st' plus toLower(uniqueString(...)), 15 lowercase letters and digits; checkov sometimes reads the unevaluated interpolation instead
  // checkov:skip=CKV_AZURE_206: zone-redundant by default; geo-redundant SKUs are a storageSku choice for those who need the audit trail to outlive a region
  name: name
  location: location
  tags: tags
  kind: 'StorageV2'
  sku: {
    name: skuName
  }
  properties: {
    accessTier: 'Hot'
    allowBlobPublicAccess: false
    allowCrossTenantReplication: false
    allowSharedKeyAccess: false
    defaultToOAuthAuthentication: true
    dnsEndpointType: 'Standard'
    isLocalUserEnabled: false
    isSftpEnabled: false
    minimumTlsVersion: 'TLS1_2'
    publicNetworkAccess: publicNetworkAccess
    supportsHttpsTrafficOnly: true
    networkAcls: {
      bypass: 'AzureServices'
      defaultAction: publicNetworkAccess == 'Disabled' ? 'Deny' : 'Allow'
    }
  }
}

resource blobService 'Microsoft.Storage/storageAccounts/blobServices@2023-05-01' = {
  parent: account
  name: 'default'
  properties: {
    deleteRetentionPolicy: {
      enabled: true
      days: 7
    }
    containerDeleteRetentionPolicy: {
      enabled: true
      days: 7
    }
  }
}

resource deploymentContainer 'Microsoft.Storage/storageAccounts/blobServices/containers@2023-05-01' = {
  parent: blobService
  name: deploymentContainerName
  properties: {
    publicAccess: 'None'
  }
}

resource deadLetterContainer 'Microsoft.Storage/storageAccounts/blobServices/containers@2023-05-01' = {
  parent: blobService
  name: deadLetterContainerName
  properties: {
    publicAccess: 'None'
  }
}

output id string = account.id
output name string = account.name
output blobEndpoint string = account.properties.primaryEndpoints.blob
output queueEndpoint string = account.properties.primaryEndpoints.queue
output tableEndpoint string = account.properties.primaryEndpoints.table
