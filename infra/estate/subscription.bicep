// Grants at subscription scope, for one subscription in scope: read access for discovery and
// the definitions of the custom scheduler and remediation roles. Nothing that writes is granted at this scope.
targetScope = 'subscription'

@description('Principal ID of the app\'s identity.')
param principalId string

param environmentName string

@description('Seed of the scheduler role\'s name; infra/estate/cluster.bicep derives the same name.')
param scheduleRoleSeed string

@description('Seed of the remediation role\'s name; infra/estate/cluster.bicep derives the same name.')
param remediateRoleSeed string

var roles = loadJsonContent('../roles.json')

resource discovery 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(subscription().id, principalId, roles.Reader)
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.Reader)
    principalId: principalId
    principalType: 'ServicePrincipal'
    description: 'discovery: Resource Graph and ARM reads of registries, clusters and Defender findings; read only'
  }
}

// "Azure Kubernetes Service Contributor Role" can do far more and still cannot start or stop a
// cluster, so schedules get a role with exactly these six actions. managedClusters/write is for
// the snooze tag and for the tags write-back that clears a Failed state after a start fallback.
// Polling operations reads Microsoft.ContainerService/locations/operations, which Reader covers.
resource scheduler 'Microsoft.Authorization/roleDefinitions@2022-04-01' = {
  name: guid(subscription().id, scheduleRoleSeed)
  properties: {
    roleName: 'ACR AKS Ops cluster scheduler (${environmentName}, ${subscription().subscriptionId})'
    description: 'schedules: read, start, stop and tag AKS clusters, and read and scale their node pools. Nothing else.'
    type: 'CustomRole'
    permissions: [
      {
        actions: [
          'Microsoft.ContainerService/managedClusters/read'
          'Microsoft.ContainerService/managedClusters/start/action'
          'Microsoft.ContainerService/managedClusters/stop/action'
          'Microsoft.ContainerService/managedClusters/write'
          'Microsoft.ContainerService/managedClusters/agentPools/read'
          'Microsoft.ContainerService/managedClusters/agentPools/write'
        ]
        notActions: []
        dataActions: []
        notDataActions: []
      }
    ]
    assignableScopes: [
      subscription().id
    ]
  }
}

// Remediation changes a cluster's networkProfile (SNAT ports, outbound IPs) or one pool's
// maxCount with one managedClusters PUT (If-Match on the eTag): read and write the cluster,
// read its pools. Its metrics, subnets and quotas are reads that Reader covers; its pods,
// events and the autoscaler's ConfigMap are the Kubernetes reads granted per cluster.
resource remediator 'Microsoft.Authorization/roleDefinitions@2022-04-01' = {
  name: guid(subscription().id, remediateRoleSeed)
  properties: {
    roleName: 'ACR AKS Ops cluster remediator (${environmentName}, ${subscription().subscriptionId})'
    description: 'remediate: read AKS clusters and their node pools, and update clusters (SNAT ports, outbound IPs, maxCount). Nothing else.'
    type: 'CustomRole'
    permissions: [
      {
        actions: [
          'Microsoft.ContainerService/managedClusters/read'
          'Microsoft.ContainerService/managedClusters/write'
          'Microsoft.ContainerService/managedClusters/agentPools/read'
        ]
        notActions: []
        dataActions: []
        notDataActions: []
      }
    ]
    assignableScopes: [
      subscription().id
    ]
  }
}

output scheduleRoleDefinitionId string = scheduler.id
output remediateRoleDefinitionId string = remediator.id
output removableResourceIds array = [
  discovery.id
  scheduler.id
  remediator.id
]
