// Log Analytics and a workspace-based Application Insights. Local (key) authentication is
// off on both, so telemetry is accepted only with an Entra token: the instrumentation key
// inside the connection string is an address, not a credential. With vnetEnabled, they take
// telemetry through the Azure Monitor private link scope only (monitor-private-link.bicep);
// queries stay open to Entra-authenticated readers.

param location string
param tags object
param workspaceName string
param applicationInsightsName string

@description('Days Log Analytics keeps data.')
param retentionInDays int

@allowed([
  'Enabled'
  'Disabled'
])
@description('Disabled with vnetEnabled: telemetry comes in through the Azure Monitor private link scope only.')
param publicNetworkAccessForIngestion string = 'Enabled'

resource workspace 'Microsoft.OperationalInsights/workspaces@2023-09-01' = {
  name: workspaceName
  location: location
  tags: tags
  properties: {
    sku: {
      name: 'PerGB2018'
    }
    retentionInDays: retentionInDays
    features: {
      disableLocalAuth: true
    }
    publicNetworkAccessForIngestion: publicNetworkAccessForIngestion
    publicNetworkAccessForQuery: 'Enabled'
  }
}

resource applicationInsights 'Microsoft.Insights/components@2020-02-02' = {
  name: applicationInsightsName
  location: location
  tags: tags
  kind: 'web'
  properties: {
    Application_Type: 'web'
    WorkspaceResourceId: workspace.id
    IngestionMode: 'LogAnalytics'
    DisableLocalAuth: true
    publicNetworkAccessForIngestion: publicNetworkAccessForIngestion
    publicNetworkAccessForQuery: 'Enabled'
  }
}

// The workspace's own audit log (who queried what), into itself.
resource workspaceDiagnostics 'Microsoft.Insights/diagnosticSettings@2021-05-01-preview' = {
  name: 'to-workspace'
  scope: workspace
  properties: {
    workspaceId: workspace.id
    logs: [
      {
        categoryGroup: 'allLogs'
        enabled: true
      }
    ]
    metrics: [
      {
        category: 'AllMetrics'
        enabled: true
      }
    ]
  }
}

output workspaceId string = workspace.id
output workspaceName string = workspace.name
output applicationInsightsName string = applicationInsights.name
