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

@description('The sub-resource: blob, queue, table, topic or registry.')
param groupId string

@description('Resource ID of the private DNS zone for that sub-resource.')
param zoneId string

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
    privateDnsZoneConfigs: [
      {
        name: replace(last(split(zoneId, '/')), '.', '-')
        properties: {
          privateDnsZoneId: zoneId
        }
      }
    ]
  }
}

output id string = endpoint.id
