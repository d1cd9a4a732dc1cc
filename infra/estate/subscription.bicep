// Grants at subscription scope, for one subscription in scope: read access for discovery and
// the definitions of the custom scheduler, remediation and failover roles. Nothing that writes
// is granted at this scope: the custom roles are assigned on the resources that need them.
targetScope = 'subscription'

@description('Principal ID of the app\'s identity.')
param principalId string

param environmentName string

@description('Seed of the scheduler role\'s name; infra/estate/cluster.bicep derives the same name.')
param scheduleRoleSeed string

@description('Seed of the remediation role\'s name; infra/estate/cluster.bicep derives the same name.')
param remediateRoleSeed string

@description('Seed of the four failover roles\' names; infra/estate/failover.bicep derives the same names.')
param failoverRoleSeed string

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

// The failover roles: one per write path, each assigned on exactly the resources a stamp
// moves (infra/estate/failover.bicep), so that no assignment reaches another path. What each
// action is for is in ops/adapters/failover.py; tests/infra/test_roles.py keeps the two in step.
// Their LROs' status reads (replications/operationStatuses, Cdn operationresults) and the
// Resource Health reads of failback's checks are reads that Reader (discovery) covers.

// Routing (docs/failover.md): a replica leaves global routing and returns to it through its
// regionEndpointEnabled. read: the replication, listed before the change and returned by
// the LRO; write: the PATCH of that one property (no delete: a replica is never removed).
// Assigned on each replication a stamp names, not on the registry.
resource failoverRouting 'Microsoft.Authorization/roleDefinitions@2022-04-01' = {
  name: guid(subscription().id, failoverRoleSeed, 'routing')
  properties: {
    roleName: 'ACR AKS Ops failover routing (${environmentName}, ${subscription().subscriptionId})'
    description: 'failover: read a registry replication and set its regionEndpointEnabled. Nothing else.'
    type: 'CustomRole'
    permissions: [
      {
        actions: [
          'Microsoft.ContainerRegistry/registries/replications/read'
          'Microsoft.ContainerRegistry/registries/replications/write'
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

// Traffic through Front Door (Standard/Premium): an origin's enabledState. read: the
// origins of the stamp's origin group; write: the PATCH of enabledState. Not originGroups/
// write (health probes, load balancing) nor profiles/write. Assigned on the origin group.
resource failoverFrontDoor 'Microsoft.Authorization/roleDefinitions@2022-04-01' = {
  name: guid(subscription().id, failoverRoleSeed, 'front-door')
  properties: {
    roleName: 'ACR AKS Ops failover Front Door origins (${environmentName}, ${subscription().subscriptionId})'
    description: 'failover: read Front Door origins and enable or disable them. Nothing else.'
    type: 'CustomRole'
    permissions: [
      {
        actions: [
          'Microsoft.Cdn/profiles/origingroups/origins/read'
          'Microsoft.Cdn/profiles/origingroups/origins/write'
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

// Traffic through Traffic Manager: an endpoint's priority. read: the profile, which lists
// its endpoints with their monitor status; write: the PATCH of one endpoint's priority, for
// the two endpoint types a policy may name (AzureEndpoints, ExternalEndpoints). Not
// trafficManagerProfiles/write, which would reach the routing method, DNS and every
// endpoint at once. Assigned on the profile.
resource failoverTrafficManager 'Microsoft.Authorization/roleDefinitions@2022-04-01' = {
  name: guid(subscription().id, failoverRoleSeed, 'traffic-manager')
  properties: {
    roleName: 'ACR AKS Ops failover Traffic Manager endpoints (${environmentName}, ${subscription().subscriptionId})'
    description: 'failover: read a Traffic Manager profile and change its Azure and external endpoints\' priority. Nothing else.'
    type: 'CustomRole'
    permissions: [
      {
        actions: [
          'Microsoft.Network/trafficManagerProfiles/read'
          'Microsoft.Network/trafficManagerProfiles/azureEndpoints/write'
          'Microsoft.Network/trafficManagerProfiles/externalEndpoints/write'
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

// The pointer CI reads: one key-value, read with its ETag and set with If-Match. App
// Configuration Data Owner would add deleting key-values and writing snapshots, and Data
// Reader cannot write, so no built-in role fits: exactly the two key-value data actions.
// Assigned on the store (App Configuration has no finer RBAC scope than the store).
resource failoverPointer 'Microsoft.Authorization/roleDefinitions@2022-04-01' = {
  name: guid(subscription().id, failoverRoleSeed, 'pointer')
  properties: {
    roleName: 'ACR AKS Ops failover pointer (${environmentName}, ${subscription().subscriptionId})'
    description: 'failover: read and set App Configuration key-values (the push-endpoint pointer). Nothing else.'
    type: 'CustomRole'
    permissions: [
      {
        actions: []
        notActions: []
        dataActions: [
          'Microsoft.AppConfiguration/configurationStores/keyValues/read'
          'Microsoft.AppConfiguration/configurationStores/keyValues/write'
        ]
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
  failoverRouting.id
  failoverFrontDoor.id
  failoverTrafficManager.id
  failoverPointer.id
]
