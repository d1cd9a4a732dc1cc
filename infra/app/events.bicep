// The app's own Event Grid topic, for the CloudEvents it publishes (plans, outcomes, gate
// verdicts) so that other systems can subscribe without polling. Publishing needs an Entra
// token with EventGrid Data Sender (granted in rbac.bicep); access keys are disabled.

param name string
param location string
param tags object

@allowed([
  'Enabled'
  'Disabled'
])
@description('Disabled with vnetEnabled: the app publishes through its private endpoint.')
param publicNetworkAccess string = 'Enabled'

resource topic 'Microsoft.EventGrid/topics@2025-02-15' = {
  // checkov:skip=CKV_AZURE_193: public access follows vnetEnabled (a parameter checkov does not evaluate): off with it; without it local auth is off, so only Entra-authorized senders get in
  name: name
  location: location
  tags: tags
  // For subscribers that deliver or dead-letter with the topic's identity.
  identity: {
    type: 'SystemAssigned'
  }
  properties: {
    inputSchema: 'CloudEventSchemaV1_0'
    disableLocalAuth: true
    publicNetworkAccess: publicNetworkAccess
  }
}

output id string = topic.id
output name string = topic.name
output endpoint string = topic.properties.endpoint
