// The function app on Flex Consumption (Python 3.11) with its user-assigned identity.
// It deploys from a blob container read with that identity, and its app settings are the
// product settings from main.bicep plus the telemetry plumbing the host reads (hostSettings).
// checkov suppressions are inline on each resource, each with its reason.

param name string
param planName string
param location string
param tags object

@description('Storage account holding the deployment container.')
param storageAccountName string

param deploymentContainerName string

@description('Resource ID of the app\'s user-assigned identity.')
param identityId string

@description('Client ID of that identity, for the host and the SDKs to pick it.')
param identityClientId string

param applicationInsightsName string

@description('The product settings, built in main.bicep.')
param appSettings object

param maximumInstanceCount int
param instanceMemoryMB int

@description('Integration subnet (vnetEnabled); empty: no virtual network.')
param subnetId string = ''

resource storage 'Microsoft.Storage/storageAccounts@2023-05-01' existing = {
  name: storageAccountName
}

resource applicationInsights 'Microsoft.Insights/components@2020-02-02' existing = {
  name: applicationInsightsName
}

var productSettings = [for setting in items(appSettings): {
  name: setting.key
  value: setting.value
}]

// Settings the Functions host owns, as the Azure-Samples Flex quickstarts set them: the
// connection string only addresses the component (its local auth is disabled), and the
// authentication string makes the host send telemetry with the app's Entra identity.
// Listed by name, not looped over: a loop needs its keys and values at deployment start.
var hostSettings = [
  {
    name: 'APPLICATIONINSIGHTS_CONNECTION_STRING'
    value: applicationInsights.properties.ConnectionString
  }
  {
    name: 'APPLICATIONINSIGHTS_AUTHENTICATION_STRING'
    value: 'ClientId=${identityClientId};Authorization=AAD'
  }
]

resource plan 'Microsoft.Web/serverfarms@2024-04-01' = {
  // checkov:skip=CKV_AZURE_225: Flex Consumption zone redundancy exists only in some regions; the app is stateless and its state is in zone-redundant storage
  name: planName
  location: location
  tags: tags
  kind: 'functionapp'
  sku: {
    name: 'FC1'
    tier: 'FlexConsumption'
  }
  properties: {
    reserved: true
  }
}

resource site 'Microsoft.Web/sites@2024-04-01' = {
  // checkov:skip=CKV_AZURE_222: Event Grid and action-group webhooks must reach the app, which has no private endpoint
  // checkov:skip=CKV_AZURE_17: Event Grid and Azure Monitor action groups cannot present client certificates
  // checkov:skip=CKV_AZURE_212: Flex Consumption scales from zero per event; timers and events tolerate a cold start
  // checkov:skip=CKV_AZURE_213: Flex Consumption does not support the platform health check; the health function serves external probes
  name: name
  location: location
  tags: union(tags, {
    'azd-service-name': 'api'
  })
  kind: 'functionapp,linux'
  identity: {
    type: 'UserAssigned'
    userAssignedIdentities: {
      '${identityId}': {}
    }
  }
  properties: {
    serverFarmId: plan.id
    httpsOnly: true
    // Inbound stays public with vnetEnabled too: Event Grid and action-group webhooks call in.
    publicNetworkAccess: 'Enabled'
    virtualNetworkSubnetId: empty(subnetId) ? null : subnetId
    siteConfig: {
      minTlsVersion: '1.2'
      scmMinTlsVersion: '1.2'
      ftpsState: 'Disabled'
      http20Enabled: true
      appSettings: concat(productSettings, hostSettings)
    }
    functionAppConfig: {
      deployment: {
        storage: {
          type: 'blobContainer'
          value: '${storage.properties.primaryEndpoints.blob}${deploymentContainerName}'
          authentication: {
            type: 'UserAssignedIdentity'
            userAssignedIdentityResourceId: identityId
          }
        }
      }
      scaleAndConcurrency: {
        maximumInstanceCount: maximumInstanceCount
        instanceMemoryMB: instanceMemoryMB
      }
      runtime: {
        name: 'python'
        version: '3.11'
      }
    }
  }
}

// azd deploys with an Entra token; publishing with a username and password is never needed.
resource ftpCredentials 'Microsoft.Web/sites/basicPublishingCredentialsPolicies@2024-04-01' = {
  parent: site
  name: 'ftp'
  properties: {
    allow: false
  }
}

resource scmCredentials 'Microsoft.Web/sites/basicPublishingCredentialsPolicies@2024-04-01' = {
  parent: site
  name: 'scm'
  properties: {
    allow: false
  }
}

output id string = site.id
output name string = site.name
output defaultHostName string = site.properties.defaultHostName
