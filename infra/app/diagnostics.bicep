// Diagnostic settings: every resource of the app that has resource logs or platform metrics
// sends them to the app's Log Analytics workspace. Storage logs are per service (blob,
// queue, table); the account itself has metrics only. Registries, which live in the
// estate, get theirs from infra/estate/registry.bicep; the virtual network and its security
// groups, from infra/app/network.bicep.

param workspaceId string
param functionAppName string
param storageAccountName string
param topicName string

var name = 'to-workspace'
var allLogs = [
  {
    categoryGroup: 'allLogs'
    enabled: true
  }
]
var allMetrics = [
  {
    category: 'AllMetrics'
    enabled: true
  }
]
var transactions = [
  {
    category: 'Transaction'
    enabled: true
  }
]

resource site 'Microsoft.Web/sites@2024-04-01' existing = {
  name: functionAppName
}

resource account 'Microsoft.Storage/storageAccounts@2023-05-01' existing = {
  name: storageAccountName
}

resource blobService 'Microsoft.Storage/storageAccounts/blobServices@2023-05-01' existing = {
  parent: account
  name: 'default'
}

resource queueService 'Microsoft.Storage/storageAccounts/queueServices@2023-05-01' existing = {
  parent: account
  name: 'default'
}

resource tableService 'Microsoft.Storage/storageAccounts/tableServices@2023-05-01' existing = {
  parent: account
  name: 'default'
}

resource topic 'Microsoft.EventGrid/topics@2025-02-15' existing = {
  name: topicName
}

resource siteDiagnostics 'Microsoft.Insights/diagnosticSettings@2021-05-01-preview' = {
  name: name
  scope: site
  properties: {
    workspaceId: workspaceId
    logs: allLogs
    metrics: allMetrics
  }
}

resource accountDiagnostics 'Microsoft.Insights/diagnosticSettings@2021-05-01-preview' = {
  name: name
  scope: account
  properties: {
    workspaceId: workspaceId
    metrics: transactions
  }
}

resource blobDiagnostics 'Microsoft.Insights/diagnosticSettings@2021-05-01-preview' = {
  name: name
  scope: blobService
  properties: {
    workspaceId: workspaceId
    logs: allLogs
    metrics: transactions
  }
}

resource queueDiagnostics 'Microsoft.Insights/diagnosticSettings@2021-05-01-preview' = {
  name: name
  scope: queueService
  properties: {
    workspaceId: workspaceId
    logs: allLogs
    metrics: transactions
  }
}

resource tableDiagnostics 'Microsoft.Insights/diagnosticSettings@2021-05-01-preview' = {
  name: name
  scope: tableService
  properties: {
    workspaceId: workspaceId
    logs: allLogs
    metrics: transactions
  }
}

resource topicDiagnostics 'Microsoft.Insights/diagnosticSettings@2021-05-01-preview' = {
  name: name
  scope: topic
  properties: {
    workspaceId: workspaceId
    logs: allLogs
    metrics: allMetrics
  }
}
