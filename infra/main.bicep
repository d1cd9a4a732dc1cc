// The azd layer: everything `azd up` creates and `azd down` deletes, all of it inside the
// app's own resource group.
//
// Role assignments on registries and clusters, the registries' Event Grid system topics
// and the gate's subscriptions live in infra/estate instead. azd down deletes every
// resource group that a deployment's resources sit in, so anything this template put
// in a registry's or cluster's resource group would take that whole group with it. The
// azd hooks in azure.yaml deploy and remove the estate layer (see infra/hooks).
targetScope = 'subscription'

@minLength(1)
@maxLength(64)
@description('Name of the azd environment. It seeds every resource name and tags everything this deployment creates.')
param environmentName string

@minLength(1)
@description('Region for the app. Flex Consumption must be offered there.')
@metadata({
  azd: {
    type: 'location'
  }
})
param location string

@description('Resource group for the app. Empty means rg-<environmentName>.')
param resourceGroupName string = ''

@description('Registries in scope: [{ name, resourceGroup, subscriptionId?, abac?, systemTopicName? }]. abac=true for registries in "RBAC Registry + ABAC Repository Permissions" mode.')
param registries array = []

@description('AKS clusters in scope: [{ name, resourceGroup, subscriptionId?, scheduleScope?, alerts? }]. scheduleScope is cluster (default) or resourceGroup.')
param clusters array = []

@description('Failover\'s resources (docs/failover.md), one entry per resource group: [{ resourceGroup, subscriptionId?, registry?, replications?, frontDoorProfile?, originGroups?, trafficManagerProfiles?, configurationStores? }]. Each gets the narrow failover role it needs; keep it in step with OPS_FAILOVER_POLICY.')
param failoverTargets array = []

@description('Extra subscriptions to discover in, read only. The subscriptions of the registries and clusters are always in scope.')
param subscriptions array = []

@description('OPS_DRY_RUN: destructive actions are planned, never applied, until this is false.')
param dryRun bool = true

@description('OPS_KILL_SWITCH: refuse every action at once without a deploy of code.')
param killSwitch bool = false

@allowed([
  'DEBUG'
  'INFO'
  'WARNING'
  'ERROR'
])
@description('OPS_LOG_LEVEL.')
param logLevel string = 'INFO'

@description('OPS_TRACE: also print every span to the console (the host\'s log stream); Application Insights has them anyway.')
param trace bool = false

@minValue(1)
@maxValue(100000)
@description('OPS_MAX_ACTIONS_PER_RUN: a plan over this cap is refused whole.')
param maxActionsPerRun int = 200

@minValue(1)
@maxValue(32)
@description('OPS_MAX_CONCURRENCY: parallel requests per run; ACR advises at most 32.')
param maxConcurrency int = 16

@description('OPS_LEASE_DURATION: how long a run\'s singleton lease lasts unless its holder renews it (every third of it); a crashed run blocks the next one this long at most (5s to 10m).')
param leaseDuration string = '60s'

@description('OPS_LOGS_ENDPOINT: the Log Analytics query endpoint of this cloud.')
param logsEndpoint string = 'https://api.loganalytics.io'

@description('SCHEDULE_TICK: NCRONTAB (six fields, UTC) of schedule_tick.')
param scheduleTick string = '0 */5 * * * *'

@description('OPS_SCHEDULE_POLICY: the schedule policy, inline YAML or a path inside the deployed app. Empty: no cluster is scheduled.')
param schedulePolicy string = ''

@description('OPS_SCHEDULE_PROTECTED_ENVIRONMENTS: comma-separated environment names schedules never stop.')
param scheduleProtectedEnvironments string = 'prod,production'

@description('PURGE_SCHEDULE: NCRONTAB (six fields, UTC) of purge_schedule.')
param purgeSchedule string = '0 0 3 * * *'

@description('OPS_PURGE_POLICY: the purge policy, inline YAML or a path inside the deployed app. Empty: purge plans nothing.')
param purgePolicy string = ''

@minLength(3)
@maxLength(63)
@description('OPS_PURGE_QUEUE: the app\'s own fan-out queue in its storage; the host creates it.')
param purgeQueue string = 'purge-work'

@minValue(1)
@maxValue(500)
@description('OPS_PURGE_BATCH_SIZE: repositories per purge_repository message.')
param purgeBatchSize int = 20

@description('OPS_PURGE_ESTIMATE_BYTES: estimate the bytes a purge reclaims (from ACR imageSize in the listing; no extra request).')
param purgeEstimateBytes bool = true

@description('OPS_PURGE_SNAPSHOT_MAX_AGE: a purge_repository batch whose run read the clusters longer ago than this (e.g. 30m) is refused and recorded.')
param purgeSnapshotMaxAge string = '30m'

@minValue(1)
@maxValue(1000)
@description('OPS_PURGE_CONCURRENCY: purge_repository batches that may run at once; each paces its deletes under this share of the registry write limit. Cap the function\'s scale-out to match (docs/deploy.md).')
param purgeConcurrency int = 1

@description('OPS_PURGE_STOPPED_CLUSTER_MAX_AGE: how old (e.g. 14d) a stopped cluster\'s last-known in-use set may be and still stand in for it.')
param purgeStoppedClusterMaxAge string = '14d'

@description('GATE_SWEEP_SCHEDULE: NCRONTAB (six fields, UTC) of gate_sweep, which re-evaluates pending images.')
param gateSweepSchedule string = '0 */1 * * * *'

@description('OPS_GATE_POLICY: the gate policy, inline YAML or a path inside the deployed app. Empty: nothing is gated.')
param gatePolicy string = ''

@description('OPS_REMEDIATE_POLICY: the remediation policy, inline YAML or a path inside the deployed app. Empty: the defaults, which route no alert.')
param remediatePolicy string = ''

@description('OPS_ALERT_DEDUPE_TTL: how long an alert id + monitor condition is remembered as handled.')
param alertDedupeTtl string = '2d'

@minValue(1)
@maxValue(1000)
@description('OPS_GATE_QUERY_BATCH: image digests per Resource Graph findings query.')
param gateQueryBatch int = 300

@minValue(1)
@maxValue(100000)
@description('OPS_GATE_SWEEP_LIMIT: pending images one gate_sweep re-evaluates.')
param gateSweepLimit int = 5000

@description('OPS_AUTH_AUDIENCE: client id (GUID) of the Entra app registration that protects the HTTP API (runbooks, alerts); it defines the app roles (docs/runbooks.md). Empty: every HTTP call but health is refused.')
param apiAppClientId string = ''

@description('OPS_AUTH_APP_ID_URI: application id URI of that app registration, the audience of v1 tokens. Empty: api://<client id>.')
param apiAppIdUri string = ''

@description('OPS_AUTH_ROLE_READ: app role that may read runbook plans and runs.')
param authRoleRead string = 'Ops.Read'

@description('OPS_AUTH_ROLE_OPERATE: app role that may apply runbooks.')
param authRoleOperate string = 'Ops.Operate'

@description('OPS_AUTH_ROLE_APPROVE: app role that may apply overrides and runbooks that need approval.')
param authRoleApprove string = 'Ops.Approve'

@description('OPS_AUTH_ROLE_WEBHOOK: app role the action group\'s webhook application holds.')
param authRoleWebhook string = 'ActionGroupsSecureWebhook'

@minLength(3)
@maxLength(63)
@description('OPS_ALERT_QUEUE: the queue in the app\'s storage that carries accepted remediation alerts from alert_webhook to alert_worker; the host creates it.')
param alertQueue string = 'alert-work'

@description('REMEDIATE_WATCH_SCHEDULE: NCRONTAB (six fields, UTC) of remediate_watch, which follows remediation operations, reports drift and applies due restores.')
param remediateWatchSchedule string = '0 */1 * * * *'

@description('FAILOVER_WATCH_SCHEDULE: NCRONTAB (six fields, UTC) of failover_watch, which resumes failovers and verifies failback.')
param failoverWatchSchedule string = '0 */1 * * * *'

@description('OPS_FAILOVER_POLICY: the failover policy, inline YAML or a path inside the deployed app. Empty: failover is off.')
param failoverPolicy string = ''
@minLength(3)
@maxLength(63)
@description('OPS_RUNBOOK_QUEUE: the queue in the app\'s storage that carries long runbook runs to runbook_worker; the host creates it.')
param runbookQueue string = 'runbook-runs'

@minValue(0)
@maxValue(10000)
@description('OPS_RUNBOOK_INLINE_ACTIONS: a runbook plan with more actions is applied in the background (202 and a status location).')
param runbookInlineActions int = 50

@description('Object ID of the Entra application that secure webhooks from the action group are issued for. Empty: no action group and no alert rules.')
param alertWebhookAppObjectId string = ''

@description('Application ID URI of that application, the audience of the webhook tokens.')
param alertWebhookAppIdentifierUri string = ''

@description('Alert on failed SNAT connections and high SNAT port use on the clusters\' outbound load balancers.')
param enableSnatAlerts bool = true

@description('Route Service Health incidents and the Resource Health changes of clusters and registry replicas to alert_webhook, for failover.')
param enableFailoverAlerts bool = true

@description('Alert when the cluster autoscaler reports unschedulable pods.')
param enableAutoscalerAlerts bool = true

@minValue(1)
@description('Average SNAT ports in use per backend instance that raises the SNAT alert: about 80% of the allocated ports (1024 by default).')
param snatUsedPortsThreshold int = 820

@allowed([
  'Standard_LRS'
  'Standard_ZRS'
  'Standard_GRS'
  'Standard_GZRS'
])
@description('Replication of the app storage, which holds the audit trail. Use Standard_LRS in a region without availability zones.')
param storageSku string = 'Standard_ZRS'

@minValue(1)
@maxValue(1000)
@description('Flex Consumption instance cap.')
param maximumInstanceCount int = 40

@allowed([
  512
  2048
  4096
])
@description('Flex Consumption instance memory.')
param instanceMemoryMB int = 2048

@minValue(30)
@maxValue(730)
@description('Log Analytics retention in days.')
param logRetentionDays int = 30

@description('Put the app in a virtual network: outbound through an integration subnet, its storage, topic and the registries in scope through private endpoints, and public network access off on its storage and topic.')
param vnetEnabled bool = false

@description('Address space of the virtual network (vnetEnabled).')
param vnetAddressPrefix string = '10.40.0.0/16'

@description('Integration subnet of the function app (vnetEnabled); the estate must let it reach private AKS API servers.')
param appSubnetPrefix string = '10.40.1.0/24'

@description('Subnet of the private endpoints (vnetEnabled).')
param endpointSubnetPrefix string = '10.40.2.0/24'

@description('Object ID of the deploying user or pipeline, granted the storage data roles that ops audit and the other ops commands need. azd sets it to the signed-in user. Empty: no grant.')
param principalId string = ''

@allowed([
  'User'
  'ServicePrincipal'
  'Group'
])
@description('What principalId is.')
param principalType string = 'User'

@description('Email the app\'s own alerts (failed invocations, rejected inputs) notify. Empty: the alert rules fire in the portal only.')
param opsAlertEmail string = ''

@minValue(0)
@description('Rejected inputs in 15 minutes above which the rejected-input alert fires.')
param rejectedInputsThreshold int = 10

var abbrs = loadJsonContent('abbreviations.json')
var resourceToken = toLower(uniqueString(subscription().id, environmentName, location))
var tags = {
  'azd-env-name': environmentName
}
var functionAppName = '${abbrs.webSitesFunctions}api-${resourceToken}'
var deploymentContainerName = 'app-package-${take(functionAppName, 32)}-${take(resourceToken, 7)}'
var deadLetterContainerName = 'gate-deadletter'

// Discovery reads every subscription that holds something in scope, and nothing else.
var registrySubscriptions = [for r in registries: r.?subscriptionId ?? subscription().subscriptionId]
var clusterSubscriptions = [for c in clusters: c.?subscriptionId ?? subscription().subscriptionId]
var failoverSubscriptions = [for f in failoverTargets: f.?subscriptionId ?? subscription().subscriptionId]
var scopeSubscriptions = union(subscriptions, registrySubscriptions, clusterSubscriptions, failoverSubscriptions)

// Every app setting of the product, one entry per name in local.settings.sample.json: the one
// place to add a setting when ops/config.py gains one. tests/infra proves that these names equal
// the sample's keys and Settings.env_names(), less the host-owned settings (HOST_SETTINGS) and the
// connection-string form of AzureWebJobsStorage, which this deployment replaces with the
// identity-based keys below. No value here is a secret: storage is reached with the managed
// identity, and shared-key access is disabled on the account. Each capability brings its
// settings: a param above, a line here.
var appSettings = {
  OPS_DRY_RUN: dryRun ? 'true' : 'false'
  OPS_KILL_SWITCH: killSwitch ? 'true' : 'false'
  OPS_SUBSCRIPTIONS: join(scopeSubscriptions, ',')
  OPS_LOG_LEVEL: logLevel
  OPS_TRACE: trace ? 'true' : 'false'
  OPS_MAX_ACTIONS_PER_RUN: string(maxActionsPerRun)
  OPS_MAX_CONCURRENCY: string(maxConcurrency)
  OPS_LEASE_DURATION: leaseDuration
  // ARM of the cloud this is deployed to; it is also the token audience.
  OPS_ARM_ENDPOINT: environment().resourceManager
  OPS_ARM_AUDIENCE: environment().resourceManager
  OPS_LOGS_ENDPOINT: logsEndpoint
  // Unused while storage is configured, but must be writable: wwwroot is a read-only package.
  OPS_STATE_PATH: '/tmp/ops/state.db'
  AZURE_CLIENT_ID: identity.outputs.appClientId
  AzureWebJobsStorage__accountName: storage.outputs.name
  AzureWebJobsStorage__blobServiceUri: storage.outputs.blobEndpoint
  AzureWebJobsStorage__queueServiceUri: storage.outputs.queueEndpoint
  AzureWebJobsStorage__tableServiceUri: storage.outputs.tableEndpoint
  AzureWebJobsStorage__credential: 'managedidentity'
  AzureWebJobsStorage__clientId: identity.outputs.appClientId
  SCHEDULE_TICK: scheduleTick
  OPS_SCHEDULE_POLICY: schedulePolicy
  OPS_SCHEDULE_PROTECTED_ENVIRONMENTS: scheduleProtectedEnvironments
  // A test clock for demos; in Azure the tick must use the real time.
  OPS_SCHEDULE_NOW: ''
  PURGE_SCHEDULE: purgeSchedule
  OPS_PURGE_POLICY: purgePolicy
  OPS_PURGE_QUEUE: purgeQueue
  OPS_PURGE_BATCH_SIZE: string(purgeBatchSize)
  OPS_PURGE_ESTIMATE_BYTES: purgeEstimateBytes ? 'true' : 'false'
  OPS_PURGE_SNAPSHOT_MAX_AGE: purgeSnapshotMaxAge
  OPS_PURGE_CONCURRENCY: string(purgeConcurrency)
  OPS_PURGE_STOPPED_CLUSTER_MAX_AGE: purgeStoppedClusterMaxAge
  GATE_SWEEP_SCHEDULE: gateSweepSchedule
  OPS_GATE_POLICY: gatePolicy
  OPS_GATE_QUERY_BATCH: string(gateQueryBatch)
  OPS_GATE_SWEEP_LIMIT: string(gateSweepLimit)
  OPS_REMEDIATE_POLICY: remediatePolicy
  OPS_ALERT_DEDUPE_TTL: alertDedupeTtl
  REMEDIATE_WATCH_SCHEDULE: remediateWatchSchedule
  OPS_ALERT_QUEUE: alertQueue
  // A test clock for demos; in Azure remediation uses the real time.
  OPS_REMEDIATE_NOW: ''
  FAILOVER_WATCH_SCHEDULE: failoverWatchSchedule
  OPS_FAILOVER_POLICY: failoverPolicy
  // A test clock for demos; in Azure failover uses the real time.
  OPS_FAILOVER_NOW: ''
  // Where gate verdicts are published as CloudEvents: the app's own custom topic.
  OPS_EVENTS_TOPIC_ENDPOINT: events.outputs.endpoint
  // Entra ID validation of HTTP callers: this tenant, this cloud's authority, the API's app roles.
  OPS_AUTH_TENANT_ID: tenant().tenantId
  OPS_AUTH_AUDIENCE: apiAppClientId
  OPS_AUTH_APP_ID_URI: apiAppIdUri
  OPS_AUTH_AUTHORITY_HOST: environment().authentication.loginEndpoint
  OPS_AUTH_ROLE_READ: authRoleRead
  OPS_AUTH_ROLE_OPERATE: authRoleOperate
  OPS_AUTH_ROLE_APPROVE: authRoleApprove
  OPS_AUTH_ROLE_WEBHOOK: authRoleWebhook
  OPS_RUNBOOK_QUEUE: runbookQueue
  OPS_RUNBOOK_INLINE_ACTIONS: string(runbookInlineActions)
}

resource rg 'Microsoft.Resources/resourceGroups@2024-03-01' = {
  name: !empty(resourceGroupName) ? resourceGroupName : '${abbrs.resourcesResourceGroups}${environmentName}'
  location: location
  tags: tags
}

module identity 'app/identity.bicep' = {
  name: 'identity'
  scope: rg
  params: {
    location: location
    tags: tags
    appIdentityName: '${abbrs.managedIdentityUserAssignedIdentities}api-${resourceToken}'
    eventGridIdentityName: '${abbrs.managedIdentityUserAssignedIdentities}eventgrid-${resourceToken}'
  }
}

module storage 'app/storage.bicep' = {
  name: 'storage'
  scope: rg
  params: {
    name: '${abbrs.storageStorageAccounts}${resourceToken}'
    location: location
    tags: tags
    skuName: storageSku
    deploymentContainerName: deploymentContainerName
    deadLetterContainerName: deadLetterContainerName
    publicNetworkAccess: vnetEnabled ? 'Disabled' : 'Enabled'
  }
}

// Private DNS zones by sub-resource. A registry's zone also holds its regional data endpoints;
// Event Grid's zone has no environment() suffix, so it is the public cloud's name.
var privateZones = {
  blob: 'privatelink.blob.${environment().suffixes.storage}'
  queue: 'privatelink.queue.${environment().suffixes.storage}'
  table: 'privatelink.table.${environment().suffixes.storage}'
  registry: 'privatelink${environment().suffixes.acrLoginServer}'
  topic: 'privatelink.eventgrid.azure.net'
  azuremonitor: 'privatelink.monitor.azure.com'
  oms: 'privatelink.oms.opinsights.azure.com'
  ods: 'privatelink.ods.opinsights.azure.com'
  agentsvc: 'privatelink.agentsvc.azure-automation.net'
}
var storageServices = [
  'blob'
  'queue'
  'table'
]

module network 'app/network.bicep' = if (vnetEnabled) {
  name: 'network'
  scope: rg
  params: {
    name: '${abbrs.networkVirtualNetworks}${resourceToken}'
    location: location
    tags: tags
    addressPrefix: vnetAddressPrefix
    appSubnetPrefix: appSubnetPrefix
    endpointSubnetPrefix: endpointSubnetPrefix
    workspaceId: monitoring.outputs.workspaceId
  }
}

module privateDns 'app/private-dns.bicep' = if (vnetEnabled) {
  name: 'private-dns'
  scope: rg
  params: {
    tags: tags
    zones: [
      privateZones.blob
      privateZones.queue
      privateZones.table
      privateZones.registry
      privateZones.topic
      privateZones.azuremonitor
      privateZones.oms
      privateZones.ods
      privateZones.agentsvc
    ]
    vnetId: vnetEnabled ? network.outputs.id : ''
  }
}

module storageEndpoints 'app/private-endpoint.bicep' = [for service in (vnetEnabled ? storageServices : []): {
  name: 'pe-storage-${service}'
  scope: rg
  params: {
    name: 'pe-${service}-${resourceToken}'
    location: location
    tags: tags
    subnetId: network.outputs.endpointSubnetId
    serviceId: storage.outputs.id
    groupId: service
    zoneId: resourceId(subscription().subscriptionId, rg.name, 'Microsoft.Network/privateDnsZones', privateZones[service])
  }
  dependsOn: [
    privateDns
  ]
}]

module topicEndpoint 'app/private-endpoint.bicep' = if (vnetEnabled) {
  name: 'pe-topic'
  scope: rg
  params: {
    name: 'pe-topic-${resourceToken}'
    location: location
    tags: tags
    subnetId: vnetEnabled ? network.outputs.endpointSubnetId : ''
    serviceId: events.outputs.id
    groupId: 'topic'
    zoneId: resourceId(subscription().subscriptionId, rg.name, 'Microsoft.Network/privateDnsZones', privateZones.topic)
  }
  dependsOn: [
    privateDns
  ]
}

// An endpoint into each registry in scope, in the app's resource group (azd down removes it).
// Registries must be Premium; the connection is approved at once when the deploying identity
// may approve it on the registry, and waits for the registry's owner otherwise.
module registryEndpoints 'app/private-endpoint.bicep' = [for (r, i) in (vnetEnabled ? registries : []): {
  name: take('pe-registry-${i}-${r.name}', 64)
  scope: rg
  params: {
    name: take('pe-acr-${r.name}-${resourceToken}', 80)
    location: location
    tags: tags
    subnetId: network.outputs.endpointSubnetId
    serviceId: resourceId(r.?subscriptionId ?? subscription().subscriptionId, r.resourceGroup, 'Microsoft.ContainerRegistry/registries', r.name)
    groupId: 'registry'
    zoneId: resourceId(subscription().subscriptionId, rg.name, 'Microsoft.Network/privateDnsZones', privateZones.registry)
  }
  dependsOn: [
    privateDns
  ]
}]

module monitoring 'app/monitoring.bicep' = {
  name: 'monitoring'
  scope: rg
  params: {
    location: location
    tags: tags
    workspaceName: '${abbrs.operationalInsightsWorkspaces}${resourceToken}'
    applicationInsightsName: '${abbrs.insightsComponents}${resourceToken}'
    retentionInDays: logRetentionDays
    publicNetworkAccessForIngestion: vnetEnabled ? 'Disabled' : 'Enabled'
  }
}

module monitorPrivateLink 'app/monitor-private-link.bicep' = if (vnetEnabled) {
  name: 'monitor-private-link'
  scope: rg
  params: {
    name: 'pls-monitor-${resourceToken}'
    workspaceName: monitoring.outputs.workspaceName
    applicationInsightsName: monitoring.outputs.applicationInsightsName
    tags: tags
  }
}

// Azure Monitor's endpoint needs records in several zones; the blob zone is the storage one.
module monitorEndpoint 'app/private-endpoint.bicep' = if (vnetEnabled) {
  name: 'pe-azuremonitor'
  scope: rg
  params: {
    name: 'pe-azuremonitor-${resourceToken}'
    location: location
    tags: tags
    subnetId: network.outputs.endpointSubnetId
    serviceId: monitorPrivateLink.outputs.id
    groupId: 'azuremonitor'
    zoneId: resourceId(subscription().subscriptionId, rg.name, 'Microsoft.Network/privateDnsZones', privateZones.azuremonitor)
    extraZoneIds: [
      resourceId(subscription().subscriptionId, rg.name, 'Microsoft.Network/privateDnsZones', privateZones.oms)
      resourceId(subscription().subscriptionId, rg.name, 'Microsoft.Network/privateDnsZones', privateZones.ods)
      resourceId(subscription().subscriptionId, rg.name, 'Microsoft.Network/privateDnsZones', privateZones.agentsvc)
      resourceId(subscription().subscriptionId, rg.name, 'Microsoft.Network/privateDnsZones', privateZones.blob)
    ]
  }
  dependsOn: [
    privateDns
  ]
}

module events 'app/events.bicep' = {
  name: 'events'
  scope: rg
  params: {
    name: '${abbrs.eventGridDomainsTopics}ops-${resourceToken}'
    location: location
    tags: tags
    publicNetworkAccess: vnetEnabled ? 'Disabled' : 'Enabled'
  }
}

module api 'app/api.bicep' = {
  name: 'api'
  scope: rg
  params: {
    name: functionAppName
    planName: '${abbrs.webServerFarms}${resourceToken}'
    location: location
    tags: tags
    storageAccountName: storage.outputs.name
    deploymentContainerName: deploymentContainerName
    identityId: identity.outputs.appIdentityId
    identityClientId: identity.outputs.appClientId
    applicationInsightsName: monitoring.outputs.applicationInsightsName
    appSettings: appSettings
    maximumInstanceCount: maximumInstanceCount
    instanceMemoryMB: instanceMemoryMB
    subnetId: vnetEnabled ? network.outputs.appSubnetId : ''
  }
}

module diagnostics 'app/diagnostics.bicep' = {
  name: 'diagnostics'
  scope: rg
  params: {
    workspaceId: monitoring.outputs.workspaceId
    functionAppName: api.outputs.name
    storageAccountName: storage.outputs.name
    topicName: events.outputs.name
  }
}

module workbook 'app/workbook.bicep' = {
  name: 'workbook'
  scope: rg
  params: {
    location: location
    tags: tags
    workspaceId: monitoring.outputs.workspaceId
    environmentName: environmentName
  }
}

module selfAlerts 'app/self-alerts.bicep' = {
  name: 'self-alerts'
  scope: rg
  params: {
    location: location
    tags: tags
    workspaceName: monitoring.outputs.workspaceName
    actionGroupName: '${abbrs.insightsActionGroups}ops-self-${resourceToken}'
    email: opsAlertEmail
    rejectedInputsThreshold: rejectedInputsThreshold
  }
}

module operator 'app/operator.bicep' = if (!empty(principalId)) {
  name: 'operator'
  scope: rg
  params: {
    storageAccountName: storage.outputs.name
    principalId: principalId
    principalType: principalType
  }
}

module rbac 'app/rbac.bicep' = {
  name: 'rbac'
  scope: rg
  params: {
    storageAccountName: storage.outputs.name
    deadLetterContainerName: deadLetterContainerName
    applicationInsightsName: monitoring.outputs.applicationInsightsName
    topicName: events.outputs.name
    appPrincipalId: identity.outputs.appPrincipalId
    eventGridPrincipalId: identity.outputs.eventGridPrincipalId
  }
}

module alerts 'app/alerts.bicep' = if (!empty(alertWebhookAppObjectId)) {
  name: 'alerts'
  scope: rg
  params: {
    tags: tags
    actionGroupName: '${abbrs.insightsActionGroups}ops-${resourceToken}'
    appHostName: api.outputs.defaultHostName
    webhookAppObjectId: alertWebhookAppObjectId
    webhookAppIdentifierUri: alertWebhookAppIdentifierUri
    clusters: clusters
    enableSnatAlerts: enableSnatAlerts
    enableAutoscalerAlerts: enableAutoscalerAlerts
    snatUsedPortsThreshold: snatUsedPortsThreshold
    enableFailoverAlerts: enableFailoverAlerts
  }
}

output AZURE_LOCATION string = location
output AZURE_TENANT_ID string = tenant().tenantId
output AZURE_RESOURCE_GROUP string = rg.name
output AZURE_STORAGE_ACCOUNT_NAME string = storage.outputs.name
output AZURE_FUNCTION_APP_NAME string = api.outputs.name
output SERVICE_API_NAME string = api.outputs.name
output OPS_APP_URL string = 'https://${api.outputs.defaultHostName}'
output OPS_EVENTS_TOPIC_ENDPOINT string = events.outputs.endpoint

// What infra/hooks/estate-up.sh hands to infra/estate/main.bicep.
output OPS_ESTATE_REGISTRIES array = registries
output OPS_ESTATE_CLUSTERS array = clusters
output OPS_ESTATE_FAILOVER array = failoverTargets
output OPS_ESTATE_SUBSCRIPTIONS array = scopeSubscriptions
output OPS_APP_PRINCIPAL_ID string = identity.outputs.appPrincipalId
output OPS_FUNCTION_APP_ID string = api.outputs.id
output OPS_EVENTGRID_IDENTITY_ID string = identity.outputs.eventGridIdentityId
output OPS_DEADLETTER_STORAGE_ID string = storage.outputs.id
output OPS_DEADLETTER_CONTAINER string = deadLetterContainerName
output OPS_WORKSPACE_ID string = monitoring.outputs.workspaceId
