// Alerts on the app's own health, to an action group: invocations that failed (the host's
// requests table), and a rate of rejected inputs (the app's ops.rejected_inputs metric).
// The workspace refuses key-based access, so each rule queries with its own identity,
// which may read the workspace and nothing else.

param location string
param tags object
param workspaceName string
param actionGroupName string

@description('Email address the action group notifies. Empty: the rules fire in the portal only.')
param email string

@description('Rejected inputs in 15 minutes above which the rejection alert fires.')
param rejectedInputsThreshold int

var roles = loadJsonContent('../roles.json')
var notify = !empty(email)

resource workspace 'Microsoft.OperationalInsights/workspaces@2023-09-01' existing = {
  name: workspaceName
}

resource actionGroup 'Microsoft.Insights/actionGroups@2023-01-01' = if (notify) {
  name: actionGroupName
  location: 'Global'
  tags: tags
  properties: {
    groupShortName: 'ops-self'
    enabled: true
    emailReceivers: [
      {
        name: 'operators'
        emailAddress: email
        useCommonAlertSchema: true
      }
    ]
  }
}

var rules = [
  {
    name: 'ops-failed-invocations'
    description: 'acr-aks-ops: a function invocation failed (the host will retry or dead-letter it)'
    severity: 1
    query: 'AppRequests\n| where Success == false\n| summarize failures = count() by function = Name'
    measure: 'failures'
    threshold: 0
  }
  {
    name: 'ops-rejected-inputs'
    description: 'acr-aks-ops: inputs are being rejected (bad events, messages, policies or settings)'
    severity: 2
    query: 'AppMetrics\n| where Name == "ops.rejected_inputs"\n| summarize rejected = sum(Sum)'
    measure: 'rejected'
    threshold: rejectedInputsThreshold
  }
]

resource rule 'Microsoft.Insights/scheduledQueryRules@2023-12-01' = [for r in rules: {
  name: r.name
  location: location
  tags: tags
  identity: {
    type: 'SystemAssigned'
  }
  properties: {
    displayName: r.name
    description: r.description
    severity: r.severity
    enabled: true
    scopes: [
      workspace.id
    ]
    evaluationFrequency: 'PT5M'
    windowSize: 'PT15M'
    autoMitigate: true
    criteria: {
      allOf: [
        {
          query: r.query
          timeAggregation: 'Total'
          metricMeasureColumn: r.measure
          operator: 'GreaterThan'
          threshold: r.threshold
          failingPeriods: {
            numberOfEvaluationPeriods: 1
            minFailingPeriodsToAlert: 1
          }
        }
      ]
    }
    actions: {
      actionGroups: notify ? [
        actionGroup.id
      ] : []
    }
  }
}]

resource ruleReads 'Microsoft.Authorization/roleAssignments@2022-04-01' = [for (r, i) in rules: {
  name: guid(workspace.id, r.name, roles.LogAnalyticsReader)
  scope: workspace
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.LogAnalyticsReader)
    principalId: rule[i].identity.principalId
    principalType: 'ServicePrincipal'
    description: 'telemetry: the alert rule ${r.name} queries the workspace with its own identity'
  }
}]

output ruleIds array = [for (r, i) in rules: rule[i].id]
