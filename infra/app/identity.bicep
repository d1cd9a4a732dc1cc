// Two user-assigned identities, so that each principal holds only what its own job needs:
// the app's identity (storage, telemetry, its own topic, and the estate grants made by
// infra/estate), and the identity Event Grid uses to dead-letter undeliverable gate events.
// Neither is ever given a role outside what infra/app/rbac.bicep and infra/estate grant.

@description('Name of the function app\'s identity.')
param appIdentityName string

@description('Name of the identity the registries\' system topics use to write dead letters.')
param eventGridIdentityName string

param location string
param tags object

resource app 'Microsoft.ManagedIdentity/userAssignedIdentities@2023-01-31' = {
  name: appIdentityName
  location: location
  tags: tags
}

resource eventGrid 'Microsoft.ManagedIdentity/userAssignedIdentities@2023-01-31' = {
  name: eventGridIdentityName
  location: location
  tags: tags
}

output appIdentityId string = app.id
output appClientId string = app.properties.clientId
output appPrincipalId string = app.properties.principalId
output eventGridIdentityId string = eventGrid.id
output eventGridPrincipalId string = eventGrid.properties.principalId
