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

output actionGroupId string = actionGroup.id
