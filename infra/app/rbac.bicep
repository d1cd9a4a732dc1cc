// Role assignments inside the app's own resource group. Each is scoped to the one resource
// that needs it and says, in its description, which capability uses it. The grants on
// registries, clusters and subscriptions are in infra/estate.

param storageAccountName string
param deadLetterContainerName string
param applicationInsightsName string
param topicName string

@description('Principal ID of the app\'s identity.')
param appPrincipalId string

@description('Principal ID of the identity the system topics dead-letter with.')
param eventGridPrincipalId string

var roles = loadJsonContent('../roles.json')

resource storage 'Microsoft.Storage/storageAccounts@2023-05-01' existing = {
  name: storageAccountName
}

resource deadLetterContainer 'Microsoft.Storage/storageAccounts/blobServices/containers@2023-05-01' existing = {
  name: '${storageAccountName}/default/${deadLetterContainerName}'
}

resource applicationInsights 'Microsoft.Insights/components@2020-02-02' existing = {
  name: applicationInsightsName
}

resource topic 'Microsoft.EventGrid/topics@2025-02-15' existing = {
  name: topicName
}

// Blob Data Contributor, not the Owner role the quickstarts grant: Owner adds only POSIX ACL
// and ownership control (hierarchical namespace, off here) and blob index tags, which neither
// the host nor the app uses. The host creates its containers, leases blobs for timers and
// singletons, and Flex reads and writes the deployment package: all within Contributor.
resource blobData 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(storage.id, appPrincipalId, roles.StorageBlobDataContributor)
  scope: storage
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.StorageBlobDataContributor)
    principalId: appPrincipalId
    principalType: 'ServicePrincipal'
    description: 'storage: host state, timer and lease blobs, the deployment package'
  }
}

resource queueData 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(storage.id, appPrincipalId, roles.StorageQueueDataContributor)
  scope: storage
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.StorageQueueDataContributor)
    principalId: appPrincipalId
    principalType: 'ServicePrincipal'
    description: 'storage: fan-out queues (purge_repository) and the host\'s queues'
  }
}

resource tableData 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(storage.id, appPrincipalId, roles.StorageTableDataContributor)
  scope: storage
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.StorageTableDataContributor)
    principalId: appPrincipalId
    principalType: 'ServicePrincipal'
    description: 'storage: state tables (dedupe, audit, cooldowns, pending gate items) and host diagnostics'
  }
}

resource telemetry 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(applicationInsights.id, appPrincipalId, roles.MonitoringMetricsPublisher)
  scope: applicationInsights
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.MonitoringMetricsPublisher)
    principalId: appPrincipalId
    principalType: 'ServicePrincipal'
    description: 'telemetry: Entra-authenticated ingestion into Application Insights (local auth is off)'
  }
}

resource publish 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(topic.id, appPrincipalId, roles.EventGridDataSender)
  scope: topic
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.EventGridDataSender)
    principalId: appPrincipalId
    principalType: 'ServicePrincipal'
    description: 'events: publish the app\'s CloudEvents to its own topic'
  }
}

resource deadLetter 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(deadLetterContainer.id, eventGridPrincipalId, roles.StorageBlobDataContributor)
  scope: deadLetterContainer
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.StorageBlobDataContributor)
    principalId: eventGridPrincipalId
    principalType: 'ServicePrincipal'
    description: 'gate: Event Grid writes undeliverable ImagePushed events to this one container'
  }
}
