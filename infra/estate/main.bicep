// The estate layer: what the app places inside the estate it operates, outside its own
// resource group. Role assignments on registries, clusters, failover's resources and
// subscriptions, the custom scheduler, remediation and failover roles, the registries' Event
// Grid system topics and the gate's subscriptions.
//
// azd never deploys this file. infra/hooks/estate-up.sh deploys it after `azd deploy`
// (the gate's subscription needs the function to exist) and infra/hooks/estate-down.sh
// deletes exactly the resources listed in removableResourceIds before `azd down`. This
// keeps azd down from deleting the registries' and clusters' resource groups: azd down
// deletes every resource group its own deployment touched.
targetScope = 'subscription'

@description('The azd environment name: seeds role and subscription names so two environments never collide.')
param environmentName string

@description('Registries in scope, as given to infra/main.bicep.')
param registries array

@description('AKS clusters in scope, as given to infra/main.bicep.')
param clusters array

@description('Failover\'s resources, one entry per resource group, as given to infra/main.bicep (failoverTargets).')
param failoverTargets array = []

@description('Every subscription in scope (output OPS_ESTATE_SUBSCRIPTIONS of infra/main.bicep).')
param subscriptions array

@description('Principal ID of the app\'s identity.')
param appPrincipalId string

@description('Resource ID of the function app.')
param functionAppId string

@description('Resource ID of the identity the system topics dead-letter with.')
param eventGridIdentityId string

@description('Resource ID of the storage account that receives dead letters.')
param deadLetterStorageId string

@description('Blob container that receives dead letters.')
param deadLetterContainer string

@description('Subscribe the gate to ImagePushed. False until gate_on_image_pushed is deployed: Event Grid refuses a subscription to a function that does not exist.')
param subscribeGate bool = true

@description('The app\'s Log Analytics workspace (output OPS_WORKSPACE_ID); each registry sends its logs and metrics there. Empty: no diagnostic setting.')
param workspaceId string = ''

// Seed of the custom scheduler role's name, shared with the clusters that are assigned it.
var scheduleRoleSeed = 'acr-aks-ops-cluster-scheduler-${environmentName}'
// Seed of the custom remediation role's name, likewise.
var remediateRoleSeed = 'acr-aks-ops-cluster-remediator-${environmentName}'
// Seed of the four failover roles' names, likewise.
var failoverRoleSeed = 'acr-aks-ops-failover-${environmentName}'

module subscriptionGrants 'subscription.bicep' = [for (s, i) in subscriptions: {
  name: take('ops-estate-${environmentName}-sub-${i}', 64)
  scope: subscription(s)
  params: {
    principalId: appPrincipalId
    environmentName: environmentName
    scheduleRoleSeed: scheduleRoleSeed
    remediateRoleSeed: remediateRoleSeed
    failoverRoleSeed: failoverRoleSeed
  }
}]

module registryGrants 'registry.bicep' = [for (r, i) in registries: {
  name: take('ops-estate-${environmentName}-acr-${i}', 64)
  scope: resourceGroup(r.?subscriptionId ?? subscription().subscriptionId, r.resourceGroup)
  params: {
    registryName: r.name
    abac: r.?abac ?? false
    systemTopicName: r.?systemTopicName ?? ''
    environmentName: environmentName
    appPrincipalId: appPrincipalId
    functionAppId: functionAppId
    eventGridIdentityId: eventGridIdentityId
    deadLetterStorageId: deadLetterStorageId
    deadLetterContainer: deadLetterContainer
    subscribeGate: subscribeGate
    workspaceId: workspaceId
  }
}]

module clusterGrants 'cluster.bicep' = [for (c, i) in clusters: {
  name: take('ops-estate-${environmentName}-aks-${i}', 64)
  scope: resourceGroup(c.?subscriptionId ?? subscription().subscriptionId, c.resourceGroup)
  params: {
    clusterName: c.name
    scheduleScope: c.?scheduleScope ?? 'cluster'
    appPrincipalId: appPrincipalId
    scheduleRoleSeed: scheduleRoleSeed
    remediateRoleSeed: remediateRoleSeed
  }
  dependsOn: [
    subscriptionGrants
  ]
}]

module failoverGrants 'failover.bicep' = [for (f, i) in failoverTargets: {
  name: take('ops-estate-${environmentName}-failover-${i}', 64)
  scope: resourceGroup(f.?subscriptionId ?? subscription().subscriptionId, f.resourceGroup)
  params: {
    registryName: f.?registry ?? ''
    replications: f.?replications ?? []
    frontDoorProfileName: f.?frontDoorProfile ?? ''
    originGroups: f.?originGroups ?? []
    trafficManagerProfiles: f.?trafficManagerProfiles ?? []
    configurationStores: f.?configurationStores ?? []
    appPrincipalId: appPrincipalId
    failoverRoleSeed: failoverRoleSeed
  }
  dependsOn: [
    subscriptionGrants
  ]
}]

// Everything above that estate-down.sh must delete, in no particular order (it sorts them).
var subscriptionRemovables = [for (s, i) in subscriptions: subscriptionGrants[i].outputs.removableResourceIds]
var registryRemovables = [for (r, i) in registries: registryGrants[i].outputs.removableResourceIds]
var clusterRemovables = [for (c, i) in clusters: clusterGrants[i].outputs.removableResourceIds]
var failoverRemovables = [for (f, i) in failoverTargets: failoverGrants[i].outputs.removableResourceIds]

output removableResourceIds array = flatten(concat(subscriptionRemovables, registryRemovables, clusterRemovables, failoverRemovables))
