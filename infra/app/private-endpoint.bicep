// One private endpoint and its DNS zone group: the zone group writes the endpoint's A
// records (for a registry, the login server and every regional data endpoint) into the
// private DNS zone, so nothing resolves to the public address from inside the network.

param name string
param location string
param tags object

@description('Subnet the endpoint takes its address from.')
param subnetId string

@description('Resource ID of what the endpoint reaches: a storage account, a topic, a registry.')
param serviceId string

@description('The sub-resource: blob, queue, table, topic, registry or azuremonitor.')
param groupId string

@description('Resource ID of the private DNS zone for that sub-resource.')
param zoneId string

@description('Further zones the sub-resource needs records in (Azure Monitor\'s private link scope has several).')
param extraZoneIds array = []

var zoneIds = concat([
  zoneId
], extraZoneIds)

resource endpoint 'Microsoft.Network/privateEndpoints@2024-05-01' = {
  name: name
  location: location
  tags: tags
  properties: {
    subnet: {
      id: subnetId
    }
    privateLinkServiceConnections: [
      {
        name: name
        properties: {
          privateLinkServiceId: serviceId
          groupIds: [
            groupId
          ]
        }
      }
    ]
  }
}

resource zoneGroup 'Microsoft.Network/privateEndpoints/privateDnsZoneGroups@2024-05-01' = {
  parent: endpoint
  name: 'default'
  properties: {
    privateDnsZoneConfigs: [for z in zoneIds: {
      name: replace(last(split(z, '/')), '.', '-')
      properties: {
        privateDnsZoneId: z
      }
    }]
  }
}

output id string = endpoint.id
