// The action group that calls alert_webhook, and the alert rules the remediation
// capabilities act on. Deployed only when the Entra application for secure webhooks is
// given (see docs/deploy.md): a secure webhook is the only way in without a function key
// in the URL, and a key in the URL would be a secret in this template.

param tags object
param actionGroupName string

@description('Host name of the function app.')
param appHostName string

@description('Object ID of the Entra application the webhook tokens are issued for.')
param webhookAppObjectId string

@description('Application ID URI of that application (the token audience).')
param webhookAppIdentifierUri string

@description('The clusters in scope, as given to main.bicep.')
param clusters array

param enableSnatAlerts bool
param enableAutoscalerAlerts bool
param snatUsedPortsThreshold int

@description('Route Service Health incidents and the Resource Health changes of clusters and registry replicas to alert_webhook (failover).')
param enableFailoverAlerts bool

// The function the action group calls and its route (DESIGN: alert_webhook, POST alerts).
var alertFunctionName = 'alert_webhook'
var alertRoute = 'alerts'

resource actionGroup 'Microsoft.Insights/actionGroups@2023-01-01' = {
  name: actionGroupName
  location: 'Global'
  tags: tags
  properties: {
    groupShortName: 'ops-alerts'
    enabled: true
    webhookReceivers: [
      {
        name: alertFunctionName
        serviceUri: 'https://${appHostName}/api/${alertRoute}'
        useCommonAlertSchema: true
        useAadAuth: true
        objectId: webhookAppObjectId
        identifierUri: webhookAppIdentifierUri
        tenantId: tenant().tenantId
      }
    ]
  }
}

module clusterAlerts 'cluster-alerts.bicep' = [for (c, i) in clusters: {
  name: take('alerts-${i}-${c.name}', 64)
  params: {
    tags: tags
    clusterName: c.name
    clusterResourceGroup: c.resourceGroup
    clusterSubscriptionId: c.?subscriptionId ?? subscription().subscriptionId
    enabled: c.?alerts ?? true
    snatAlerts: c.?snatAlerts ?? true
    actionGroupId: actionGroup.id
    enableSnatAlerts: enableSnatAlerts
    enableAutoscalerAlerts: enableAutoscalerAlerts
    snatUsedPortsThreshold: snatUsedPortsThreshold
  }
}]

// Failover's signals (docs/failover.md): Service Health incidents and Resource Health
// changes reach alert_webhook through the same action group. Both are activity-log alerts
// at subscription scope, as Azure requires for them.
@description('Service Health: incidents (not maintenance or advisories) for the services the write paths depend on.')
resource serviceHealth 'Microsoft.Insights/activityLogAlerts@2020-10-01' = if (enableFailoverAlerts) {
  name: 'ops-failover-service-health'
  location: 'Global'
  tags: tags
  properties: {
    description: 'failover: Service Health incidents for Container Registry, AKS, Front Door, Traffic Manager and App Configuration'
    enabled: true
    scopes: [
      subscription().id
    ]
    condition: {
      allOf: [
        { field: 'category', equals: 'ServiceHealth' }
        { field: 'properties.incidentType', equals: 'Incident' }
        {
          field: 'properties.impactedServices[*].ServiceName'
          containsAny: [
            'Container Registry'
            'Azure Kubernetes Service (AKS)'
            'Azure Front Door'
            'Traffic Manager'
            'App Configuration'
          ]
        }
      ]
    }
    actions: {
      actionGroups: [
        { actionGroupId: actionGroup.id }
      ]
    }
  }
}

@description('Resource Health: the clusters and the registries\' replicas becoming Unavailable or Degraded, and Available again.')
resource resourceHealth 'Microsoft.Insights/activityLogAlerts@2020-10-01' = if (enableFailoverAlerts) {
  name: 'ops-failover-resource-health'
  location: 'Global'
  tags: tags
  properties: {
    description: 'failover: Resource Health of the AKS clusters and registry replicas (Available, Degraded, Unavailable)'
    enabled: true
    scopes: [
      subscription().id
    ]
    condition: {
      allOf: [
        { field: 'category', equals: 'ResourceHealth' }
        {
          // a replica's health moves its region (the policy maps each replication to one)
          anyOf: [
            { field: 'resourceType', equals: 'Microsoft.ContainerService/managedClusters' }
            { field: 'resourceType', equals: 'Microsoft.ContainerRegistry/registries/replications' }
          ]
        }
        {
          anyOf: [
            { field: 'properties.currentHealthStatus', equals: 'Available' }
            { field: 'properties.currentHealthStatus', equals: 'Degraded' }
            { field: 'properties.currentHealthStatus', equals: 'Unavailable' }
          ]
        }
      ]
    }
    actions: {
      actionGroups: [
        { actionGroupId: actionGroup.id }
      ]
    }
  }
}

output actionGroupId string = actionGroup.id
