// Failover's grants inside one resource group: the custom failover roles (defined in
// infra/estate/subscription.bicep) assigned on exactly the resources the stamps of
// OPS_FAILOVER_POLICY move, one assignment per resource, none on a resource group.
//
// - routing: each replication a stamp names (its regionEndpointEnabled);
// - Front Door: each origin group whose origins a stamp enables and disables;
// - Traffic Manager: each profile whose endpoints' priority a stamp changes;
// - pointer: each App Configuration store holding a stamp's pointer key.
//
// The synthetic checks of failback read the registry's regional endpoints and the clusters'
// API servers with the grants infra/estate/registry.bicep and cluster.bicep already give,
// so the stamp's registry and clusters belong in the registries and clusters in scope too.

@description('Registry whose replications a stamp names; empty when this resource group holds none.')
param registryName string = ''

@description('Names of that registry\'s replications the stamps name (each stamp region\'s replica).')
param replications array = []

@description('Front Door (Standard/Premium) profile whose origin groups a stamp names; empty when none.')
param frontDoorProfileName string = ''

@description('Names of that profile\'s origin groups the stamps name.')
param originGroups array = []

@description('Traffic Manager profiles the stamps name.')
param trafficManagerProfiles array = []

@description('App Configuration stores holding the stamps\' pointer keys.')
param configurationStores array = []

@description('Principal ID of the app\'s identity.')
param appPrincipalId string

@description('Seed of the failover roles\' names, as infra/estate/subscription.bicep defines them.')
param failoverRoleSeed string

var routingRoleDefinitionId = subscriptionResourceId('Microsoft.Authorization/roleDefinitions', guid(subscription().id, failoverRoleSeed, 'routing'))
var frontDoorRoleDefinitionId = subscriptionResourceId('Microsoft.Authorization/roleDefinitions', guid(subscription().id, failoverRoleSeed, 'front-door'))
var trafficManagerRoleDefinitionId = subscriptionResourceId('Microsoft.Authorization/roleDefinitions', guid(subscription().id, failoverRoleSeed, 'traffic-manager'))
var pointerRoleDefinitionId = subscriptionResourceId('Microsoft.Authorization/roleDefinitions', guid(subscription().id, failoverRoleSeed, 'pointer'))

resource replication 'Microsoft.ContainerRegistry/registries/replications@2023-07-01' existing = [for name in replications: {
  name: '${registryName}/${name}'
}]

resource originGroup 'Microsoft.Cdn/profiles/originGroups@2024-02-01' existing = [for name in originGroups: {
  name: '${frontDoorProfileName}/${name}'
}]

resource trafficManagerProfile 'Microsoft.Network/trafficManagerProfiles@2022-04-01' existing = [for name in trafficManagerProfiles: {
  name: name
}]

resource configurationStore 'Microsoft.AppConfiguration/configurationStores@2024-05-01' existing = [for name in configurationStores: {
  name: name
}]

resource routing 'Microsoft.Authorization/roleAssignments@2022-04-01' = [for (name, i) in replications: {
  name: guid(replication[i].id, appPrincipalId, failoverRoleSeed)
  scope: replication[i]
  properties: {
    roleDefinitionId: routingRoleDefinitionId
    principalId: appPrincipalId
    principalType: 'ServicePrincipal'
    description: 'failover: take this replica out of global routing and return it (regionEndpointEnabled; custom role)'
  }
}]

resource frontDoor 'Microsoft.Authorization/roleAssignments@2022-04-01' = [for (name, i) in originGroups: {
  name: guid(originGroup[i].id, appPrincipalId, failoverRoleSeed)
  scope: originGroup[i]
  properties: {
    roleDefinitionId: frontDoorRoleDefinitionId
    principalId: appPrincipalId
    principalType: 'ServicePrincipal'
    description: 'failover: enable and disable this origin group\'s origins (enabledState; custom role)'
  }
}]

resource trafficManager 'Microsoft.Authorization/roleAssignments@2022-04-01' = [for (name, i) in trafficManagerProfiles: {
  name: guid(trafficManagerProfile[i].id, appPrincipalId, failoverRoleSeed)
  scope: trafficManagerProfile[i]
  properties: {
    roleDefinitionId: trafficManagerRoleDefinitionId
    principalId: appPrincipalId
    principalType: 'ServicePrincipal'
    description: 'failover: change the priority of this profile\'s Azure and external endpoints (custom role)'
  }
}]

resource pointer 'Microsoft.Authorization/roleAssignments@2022-04-01' = [for (name, i) in configurationStores: {
  name: guid(configurationStore[i].id, appPrincipalId, failoverRoleSeed)
  scope: configurationStore[i]
  properties: {
    roleDefinitionId: pointerRoleDefinitionId
    principalId: appPrincipalId
    principalType: 'ServicePrincipal'
    description: 'failover: read and set the push-endpoint pointer key-values in this store (custom data role)'
  }
}]

output removableResourceIds array = concat(routingIds, frontDoorIds, trafficManagerIds, pointerIds)

// Bicep takes a for-expression only as a whole variable's value, so the lists are gathered here.
var routingIds = [for (name, i) in replications: routing[i].id]
var frontDoorIds = [for (name, i) in originGroups: frontDoor[i].id]
var trafficManagerIds = [for (name, i) in trafficManagerProfiles: trafficManager[i].id]
var pointerIds = [for (name, i) in configurationStores: pointer[i].id]
