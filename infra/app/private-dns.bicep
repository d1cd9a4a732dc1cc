// Private DNS zones for the private endpoints, each linked to the app's virtual network, so
// that the app resolves its storage, its topic and the registries to private addresses.
// A registry's zone, privatelink.azurecr.io, holds both its login server and the regional
// data endpoints (<registry>.<region>.data.azurecr.io) of each of its replicas.

param tags object

@description('The zone names.')
param zones array

@description('Resource ID of the virtual network to link.')
param vnetId string

resource zone 'Microsoft.Network/privateDnsZones@2024-06-01' = [for z in zones: {
  name: z
  location: 'global'
  tags: tags
}]

resource link 'Microsoft.Network/privateDnsZones/virtualNetworkLinks@2024-06-01' = [for (z, i) in zones: {
  parent: zone[i]
  name: 'app-vnet'
  location: 'global'
  tags: tags
  properties: {
    registrationEnabled: false
    virtualNetwork: {
      id: vnetId
    }
  }
}]

output zoneIds array = [for (z, i) in zones: zone[i].id]
