// Azure Monitor private link scope (vnetEnabled): the app sends its telemetry to the
// workspace and Application Insights through a private endpoint, and both refuse ingestion
// from public networks. Queries stay open, so that operators, the workbook and the alert
// rules can read from the portal (with Entra authentication only: local auth is off).

param name string
param workspaceName string
param applicationInsightsName string
param tags object

resource workspace 'Microsoft.OperationalInsights/workspaces@2023-09-01' existing = {
  name: workspaceName
}

resource applicationInsights 'Microsoft.Insights/components@2020-02-02' existing = {
  name: applicationInsightsName
}

resource scope 'Microsoft.Insights/privateLinkScopes@2021-07-01-preview' = {
  name: name
  location: 'global'
  tags: tags
  properties: {
    accessModeSettings: {
      ingestionAccessMode: 'PrivateOnly'
      queryAccessMode: 'Open'
    }
  }
}

resource scopedWorkspace 'Microsoft.Insights/privateLinkScopes/scopedResources@2021-07-01-preview' = {
  parent: scope
  name: 'workspace'
  properties: {
    linkedResourceId: workspace.id
  }
}

resource scopedComponent 'Microsoft.Insights/privateLinkScopes/scopedResources@2021-07-01-preview' = {
  parent: scope
  name: 'application-insights'
  properties: {
    linkedResourceId: applicationInsights.id
  }
}

output id string = scope.id
