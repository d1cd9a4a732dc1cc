// Grants on one AKS cluster, deployed into the cluster's resource group.

param clusterName string

@allowed([
  'cluster'
  'resourceGroup'
])
@description('Where the scheduler role is assigned: the cluster, or its resource group (survives the cluster being recreated under another name).')
param scheduleScope string

@description('Principal ID of the app\'s identity.')
param appPrincipalId string

@description('Seed of the scheduler role\'s name, as infra/estate/subscription.bicep defines it.')
param scheduleRoleSeed string

@description('Seed of the remediation role\'s name, as infra/estate/subscription.bicep defines it.')
param remediateRoleSeed string

var roles = loadJsonContent('../roles.json')
var scheduleRoleDefinitionId = subscriptionResourceId('Microsoft.Authorization/roleDefinitions', guid(subscription().id, scheduleRoleSeed))
var remediateRoleDefinitionId = subscriptionResourceId('Microsoft.Authorization/roleDefinitions', guid(subscription().id, remediateRoleSeed))

resource cluster 'Microsoft.ContainerService/managedClusters@2024-05-01' existing = {
  name: clusterName
}

resource scheduleOnCluster 'Microsoft.Authorization/roleAssignments@2022-04-01' = if (scheduleScope == 'cluster') {
  name: guid(cluster.id, appPrincipalId, scheduleRoleSeed)
  scope: cluster
  properties: {
    roleDefinitionId: scheduleRoleDefinitionId
    principalId: appPrincipalId
    principalType: 'ServicePrincipal'
    description: 'schedules: stop and start this cluster and scale its node pools (custom role)'
  }
}

resource scheduleOnGroup 'Microsoft.Authorization/roleAssignments@2022-04-01' = if (scheduleScope == 'resourceGroup') {
  name: guid(resourceGroup().id, appPrincipalId, scheduleRoleSeed)
  properties: {
    roleDefinitionId: scheduleRoleDefinitionId
    principalId: appPrincipalId
    principalType: 'ServicePrincipal'
    description: 'schedules: stop and start the clusters of this resource group and scale their node pools (custom role)'
  }
}

resource remediateOnCluster 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(cluster.id, appPrincipalId, remediateRoleSeed)
  scope: cluster
  properties: {
    roleDefinitionId: remediateRoleDefinitionId
    principalId: appPrincipalId
    principalType: 'ServicePrincipal'
    description: 'remediate: raise this cluster\'s SNAT ports, outbound IPs and autoscaler maxCount with If-Match PUTs (custom role)'
  }
}

// Needs the cluster's Azure RBAC for Kubernetes authorization; a cluster on Kubernetes RBAC
// only must bind the identity to a read-only ClusterRole itself (docs/deploy.md).
resource inUseRead 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(cluster.id, appPrincipalId, roles.AksRbacReader)
  scope: cluster
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.AksRbacReader)
    principalId: appPrincipalId
    principalType: 'ServicePrincipal'
    description: 'in-use scan: read pods and workloads in every namespace through the Kubernetes API (remediate reads pods, events and the autoscaler status the same way); no secrets'
  }
}

resource inUseCredentials 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(cluster.id, appPrincipalId, roles.AksClusterUser)
  scope: cluster
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.AksClusterUser)
    principalId: appPrincipalId
    principalType: 'ServicePrincipal'
    description: 'in-use scan: fetch the cluster user kubeconfig (API server address and CA)'
  }
}

output removableResourceIds array = concat(scheduleScope == 'cluster' ? [scheduleOnCluster.id] : [scheduleOnGroup.id], [remediateOnCluster.id, inUseRead.id, inUseCredentials.id])
