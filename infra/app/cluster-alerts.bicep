// Alert rules on one cluster, created in the app's resource group (so azd down removes them)
// and pointed at the cluster and its outbound load balancer wherever those live.

param tags object
param clusterName string
param clusterResourceGroup string
param clusterSubscriptionId string

@description('The cluster\'s own switch ("alerts" in its entry): false turns off all its rules.')
param enabled bool

@description('False for a cluster whose outbound type is not loadBalancer (NAT gateway, UDR): it has no SNAT ports to watch.')
param snatAlerts bool

param actionGroupId string
param enableSnatAlerts bool
param enableAutoscalerAlerts bool
param snatUsedPortsThreshold int

resource cluster 'Microsoft.ContainerService/managedClusters@2024-05-01' existing = {
  name: clusterName
  scope: resourceGroup(clusterSubscriptionId, clusterResourceGroup)
}

// AKS names the outbound load balancer of a loadBalancer-outbound cluster "kubernetes" and
// puts it in the cluster's node resource group.
var loadBalancerId = resourceId(clusterSubscriptionId, cluster.properties.nodeResourceGroup, 'Microsoft.Network/loadBalancers', 'kubernetes')
var suffix = '${clusterName}-${uniqueString(clusterSubscriptionId, clusterResourceGroup, clusterName)}'

resource snatFailed 'Microsoft.Insights/metricAlerts@2018-03-01' = if (enabled && snatAlerts && enableSnatAlerts) {
  name: 'snat-failed-${suffix}'
  location: 'global'
  tags: tags
  properties: {
    description: 'remediate: outbound SNAT connections are failing on the load balancer of ${clusterName}'
    severity: 1
    enabled: true
    scopes: [
      loadBalancerId
    ]
    evaluationFrequency: 'PT1M'
    windowSize: 'PT5M'
    targetResourceType: 'Microsoft.Network/loadBalancers'
    autoMitigate: true
    criteria: {
      'odata.type': 'Microsoft.Azure.Monitor.SingleResourceMultipleMetricCriteria'
      allOf: [
        {
          criterionType: 'StaticThresholdCriterion'
          name: 'FailedSnatConnections'
          metricNamespace: 'Microsoft.Network/loadBalancers'
          metricName: 'SnatConnectionCount'
          dimensions: [
            {
              name: 'ConnectionState'
              operator: 'Include'
              values: [
                'Failed'
              ]
            }
          ]
          operator: 'GreaterThan'
          threshold: 0
          timeAggregation: 'Total'
        }
      ]
    }
    actions: [
      {
        actionGroupId: actionGroupId
      }
    ]
  }
}

// A metric alert cannot divide UsedSnatPorts by AllocatedSnatPorts, so it watches each backend
// instance's used ports against a threshold set near 80% of the allocation.
resource snatPorts 'Microsoft.Insights/metricAlerts@2018-03-01' = if (enabled && snatAlerts && enableSnatAlerts) {
  name: 'snat-ports-${suffix}'
  location: 'global'
  tags: tags
  properties: {
    description: 'remediate: SNAT ports in use near the allocation on the load balancer of ${clusterName}'
    severity: 2
    enabled: true
    scopes: [
      loadBalancerId
    ]
    evaluationFrequency: 'PT1M'
    windowSize: 'PT5M'
    targetResourceType: 'Microsoft.Network/loadBalancers'
    autoMitigate: true
    criteria: {
      'odata.type': 'Microsoft.Azure.Monitor.SingleResourceMultipleMetricCriteria'
      allOf: [
        {
          criterionType: 'StaticThresholdCriterion'
          name: 'UsedSnatPortsPerBackend'
          metricNamespace: 'Microsoft.Network/loadBalancers'
          metricName: 'UsedSnatPorts'
          dimensions: [
            {
              name: 'BackendIPAddress'
              operator: 'Include'
              values: [
                '*'
              ]
            }
          ]
          operator: 'GreaterThan'
          threshold: snatUsedPortsThreshold
          timeAggregation: 'Average'
        }
      ]
    }
    actions: [
      {
        actionGroupId: actionGroupId
      }
    ]
  }
}

// Nothing reports node count against maxCount; pods the autoscaler cannot place are the signal.
resource unschedulablePods 'Microsoft.Insights/metricAlerts@2018-03-01' = if (enabled && enableAutoscalerAlerts) {
  name: 'unschedulable-${suffix}'
  location: 'global'
  tags: tags
  properties: {
    description: 'remediate: the cluster autoscaler of ${clusterName} reports unschedulable pods'
    severity: 2
    enabled: true
    scopes: [
      cluster.id
    ]
    evaluationFrequency: 'PT5M'
    windowSize: 'PT15M'
    targetResourceType: 'Microsoft.ContainerService/managedClusters'
    autoMitigate: true
    criteria: {
      'odata.type': 'Microsoft.Azure.Monitor.SingleResourceMultipleMetricCriteria'
      allOf: [
        {
          criterionType: 'StaticThresholdCriterion'
          name: 'UnschedulablePods'
          metricNamespace: 'Microsoft.ContainerService/managedClusters'
          metricName: 'cluster_autoscaler_unschedulable_pods_count'
          operator: 'GreaterThan'
          threshold: 0
          timeAggregation: 'Average'
        }
      ]
    }
    actions: [
      {
        actionGroupId: actionGroupId
      }
    ]
  }
}
