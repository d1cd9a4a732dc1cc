// Grants and eventing on one registry, deployed into the registry's resource group.
//
// Which data roles a registry honours depends on its role assignment permissions mode:
// "RBAC Registry Permissions" honours AcrPull, AcrPush and AcrDelete; "RBAC Registry + ABAC
// Repository Permissions" (abac=true) ignores those and honours the Container Registry
// Repository roles instead. AcrQuarantineWriter is honoured in both.

param registryName string

@description('True when the registry is in "RBAC Registry + ABAC Repository Permissions" mode.')
param abac bool

@description('Name of a system topic the registry already has (a registry can have only one); empty to create one. An existing topic must carry the dead-letter identity.')
param systemTopicName string

param environmentName string

@description('Principal ID of the app\'s identity.')
param appPrincipalId string

param functionAppId string
param eventGridIdentityId string
param deadLetterStorageId string
param deadLetterContainer string
param subscribeGate bool

@description('The app\'s Log Analytics workspace; empty: no diagnostic setting.')
param workspaceId string = ''

var roles = loadJsonContent('../roles.json')

// The function that receives ImagePushed (DESIGN: gate_on_image_pushed).
var gateFunctionName = 'gate_on_image_pushed'
var ownsTopic = empty(systemTopicName)
var topicName = ownsTopic ? 'evgt-${registryName}' : systemTopicName
var subscriptionName = take('ops-gate-${environmentName}', 64)
var tags = {
  'acr-aks-ops-env': environmentName
}

resource registry 'Microsoft.ContainerRegistry/registries@2023-07-01' existing = {
  name: registryName
}

resource purgeDelete 'Microsoft.Authorization/roleAssignments@2022-04-01' = if (!abac) {
  name: guid(registry.id, appPrincipalId, roles.AcrDelete)
  scope: registry
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.AcrDelete)
    principalId: appPrincipalId
    principalType: 'ServicePrincipal'
    description: 'purge: delete manifests and tags'
  }
}

// Locking writes an image's changeable attributes (writeEnabled, deleteEnabled, readEnabled):
// repository metadata write. In RBAC mode no built-in role narrower than AcrPush grants it
// (AcrPull only reads metadata), so AcrPush it is. Its pull also serves purge's and the
// gate's reads of tags, manifests and referrers.
resource gateLock 'Microsoft.Authorization/roleAssignments@2022-04-01' = if (!abac) {
  name: guid(registry.id, appPrincipalId, roles.AcrPush)
  scope: registry
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.AcrPush)
    principalId: appPrincipalId
    principalType: 'ServicePrincipal'
    description: 'gate: lock images (metadata write); its pull also serves purge and gate reads'
  }
}

// Repository Contributor holds content read/delete and metadata read/write/delete: purge's
// deletes and reads and the gate's locks. Without an ABAC condition it spans the registry.
resource repositories 'Microsoft.Authorization/roleAssignments@2022-04-01' = if (abac) {
  name: guid(registry.id, appPrincipalId, roles.RepositoryContributor)
  scope: registry
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.RepositoryContributor)
    principalId: appPrincipalId
    principalType: 'ServicePrincipal'
    description: 'purge: delete manifests and tags; gate: lock images (metadata write)'
  }
}

resource catalog 'Microsoft.Authorization/roleAssignments@2022-04-01' = if (abac) {
  name: guid(registry.id, appPrincipalId, roles.RepositoryCatalogLister)
  scope: registry
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.RepositoryCatalogLister)
    principalId: appPrincipalId
    principalType: 'ServicePrincipal'
    description: 'purge: list the registry\'s repositories (the repository roles exclude the catalog)'
  }
}

resource gateQuarantine 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(registry.id, appPrincipalId, roles.AcrQuarantineWriter)
  scope: registry
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.AcrQuarantineWriter)
    principalId: appPrincipalId
    principalType: 'ServicePrincipal'
    description: 'gate: read quarantined images and set quarantineState to Passed or Failed'
  }
}

resource topic 'Microsoft.EventGrid/systemTopics@2025-02-15' = if (ownsTopic) {
  name: topicName
  location: registry.location
  tags: tags
  identity: {
    type: 'UserAssigned'
    userAssignedIdentities: {
      '${eventGridIdentityId}': {}
    }
  }
  properties: {
    source: registry.id
    topicType: 'Microsoft.ContainerRegistry.Registries'
  }
}

// One event per delivery: the host fails a whole batch if one event raises, and redelivers it.
// Event Grid retries for a day, then dead-letters to the app's storage with the topic's identity.
resource gateSubscription 'Microsoft.EventGrid/systemTopics/eventSubscriptions@2025-02-15' = if (subscribeGate) {
  name: '${topicName}/${subscriptionName}'
  properties: {
    destination: {
      endpointType: 'AzureFunction'
      properties: {
        resourceId: '${functionAppId}/functions/${gateFunctionName}'
        maxEventsPerBatch: 1
        preferredBatchSizeInKilobytes: 64
      }
    }
    eventDeliverySchema: 'EventGridSchema'
    filter: {
      includedEventTypes: [
        'Microsoft.ContainerRegistry.ImagePushed'
      ]
    }
    retryPolicy: {
      maxDeliveryAttempts: 30
      eventTimeToLiveInMinutes: 1440
    }
    deadLetterWithResourceIdentity: {
      identity: {
        type: 'UserAssigned'
        userAssignedIdentity: eventGridIdentityId
      }
      deadLetterDestination: {
        endpointType: 'StorageBlob'
        properties: {
          resourceId: deadLetterStorageId
          blobContainerName: deadLetterContainer
        }
      }
    }
  }
  dependsOn: [
    topic
  ]
}

// The registry's repository and login events and its metrics, in the app's workspace, under a
// name of this environment's (a registry takes up to five diagnostic settings).
resource diagnostics 'Microsoft.Insights/diagnosticSettings@2021-05-01-preview' = if (!empty(workspaceId)) {
  name: take('acr-aks-ops-${environmentName}', 64)
  scope: registry
  properties: {
    workspaceId: workspaceId
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

// The system topic this deployment created: its delivery failures (an ImagePushed the gate
// never got) belong in the app's workspace too.
resource topicDiagnostics 'Microsoft.Insights/diagnosticSettings@2021-05-01-preview' = if (ownsTopic && !empty(workspaceId)) {
  name: take('acr-aks-ops-${environmentName}', 64)
  scope: topic
  properties: {
    workspaceId: workspaceId
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

output removableResourceIds array = concat(abac ? [repositories.id, catalog.id] : [purgeDelete.id, gateLock.id], [gateQuarantine.id], ownsTopic ? [topic.id] : [], subscribeGate ? [gateSubscription.id] : [], !empty(workspaceId) ? [diagnostics.id] : [], ownsTopic && !empty(workspaceId) ? [topicDiagnostics.id] : [])
