// The operations workbook: what was deleted and why, clusters stopped last night, every
// action of a caller, rejected inputs by reason, and the app's metrics. Its queries read
// the fields the app writes (ops/telemetry/fields.py); tests/infra checks them.

param location string
param tags object
param workspaceId string

@description('The environment, shown in the workbook\'s name.')
param environmentName string

resource workbook 'Microsoft.Insights/workbooks@2023-06-01' = {
  name: guid(resourceGroup().id, 'acr-aks-ops-workbook')
  location: location
  tags: tags
  kind: 'shared'
  properties: {
    displayName: 'acr-aks-ops (${environmentName})'
    category: 'workbook'
    sourceId: workspaceId
    serializedData: string(loadJsonContent('workbook.json'))
  }
}

output id string = workbook.id
