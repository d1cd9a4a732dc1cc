// The app's virtual network (vnetEnabled): one subnet the function app integrates with, for
// its outbound calls, and one for the private endpoints of its storage, its topic and the
// registries it manages. Both subnets carry a network security group; the app's outbound
// traffic to private AKS API servers and to Azure leaves through the integration subnet,
// which is why the estate must let that subnet in (docs/deploy.md, "Private networking").

param name string
param location string
param tags object

@description('Address space of the virtual network.')
param addressPrefix string

@description('Integration subnet of the function app (delegated to Microsoft.App/environments, as Flex Consumption requires).')
param appSubnetPrefix string

@description('Subnet of the private endpoints.')
param endpointSubnetPrefix string

@description('The app\'s Log Analytics workspace, for the network\'s diagnostic settings.')
param workspaceId string

resource appNsg 'Microsoft.Network/networkSecurityGroups@2024-05-01' = {
  name: 'nsg-app-${name}'
  location: location
  tags: tags
  properties: {
    securityRules: []
  }
}

resource endpointNsg 'Microsoft.Network/networkSecurityGroups@2024-05-01' = {
  name: 'nsg-pe-${name}'
  location: location
  tags: tags
  properties: {
    securityRules: []
  }
}

resource vnet 'Microsoft.Network/virtualNetworks@2024-05-01' = {
  name: name
  location: location
  tags: tags
  properties: {
    addressSpace: {
      addressPrefixes: [
        addressPrefix
      ]
    }
    subnets: [
      {
        name: 'app'
        properties: {
          addressPrefix: appSubnetPrefix
          networkSecurityGroup: {
            id: appNsg.id
          }
          delegations: [
            {
              name: 'flex-consumption'
              properties: {
                serviceName: 'Microsoft.App/environments'
              }
            }
          ]
          privateEndpointNetworkPolicies: 'Disabled'
          privateLinkServiceNetworkPolicies: 'Enabled'
        }
      }
      {
        name: 'private-endpoints'
        properties: {
          addressPrefix: endpointSubnetPrefix
          networkSecurityGroup: {
            id: endpointNsg.id
          }
          privateEndpointNetworkPolicies: 'Disabled'
          privateLinkServiceNetworkPolicies: 'Enabled'
        }
      }
    ]
  }
}

var allLogs = [
  {
    categoryGroup: 'allLogs'
    enabled: true
  }
]

resource vnetDiagnostics 'Microsoft.Insights/diagnosticSettings@2021-05-01-preview' = {
  name: 'to-workspace'
  scope: vnet
  properties: {
    workspaceId: workspaceId
    logs: allLogs
    metrics: [
      {
        category: 'AllMetrics'
        enabled: true
      }
    ]
  }
}

resource appNsgDiagnostics 'Microsoft.Insights/diagnosticSettings@2021-05-01-preview' = {
  name: 'to-workspace'
  scope: appNsg
  properties: {
    workspaceId: workspaceId
    logs: allLogs
  }
}

resource endpointNsgDiagnostics 'Microsoft.Insights/diagnosticSettings@2021-05-01-preview' = {
  name: 'to-workspace'
  scope: endpointNsg
  properties: {
    workspaceId: workspaceId
    logs: allLogs
  }
}

output id string = vnet.id
output name string = vnet.name
output appSubnetId string = vnet.properties.subnets[0].id
output endpointSubnetId string = vnet.properties.subnets[1].id
