#!/bin/sh
# Deploys infra/estate after azd has deployed the app: the grants on registries, clusters,
# failover's resources and subscriptions, the registries' Event Grid system topics and the
# gate's subscriptions.
#
# azd runs this as the postdeploy hook (azure.yaml) with the environment's values, including
# the outputs of infra/main.bicep, in the process environment. To run it by hand, export
# those values first:  set -a; eval "$(azd env get-values)"; set +a; infra/hooks/estate-up.sh
set -eu

: "${AZURE_ENV_NAME:?estate-up: AZURE_ENV_NAME is not set}"
: "${AZURE_LOCATION:?estate-up: AZURE_LOCATION is not set}"
: "${AZURE_SUBSCRIPTION_ID:?estate-up: AZURE_SUBSCRIPTION_ID is not set}"
: "${OPS_APP_PRINCIPAL_ID:?estate-up: OPS_APP_PRINCIPAL_ID is not set; run azd provision first}"
: "${OPS_FUNCTION_APP_ID:?estate-up: OPS_FUNCTION_APP_ID is not set; run azd provision first}"
: "${OPS_EVENTGRID_IDENTITY_ID:?estate-up: OPS_EVENTGRID_IDENTITY_ID is not set; run azd provision first}"
: "${OPS_DEADLETTER_STORAGE_ID:?estate-up: OPS_DEADLETTER_STORAGE_ID is not set; run azd provision first}"
: "${OPS_DEADLETTER_CONTAINER:?estate-up: OPS_DEADLETTER_CONTAINER is not set; run azd provision first}"

here=$(CDPATH='' cd -- "$(dirname -- "$0")" && pwd)
deployment="acr-aks-ops-estate-$AZURE_ENV_NAME"

# Event Grid refuses a subscription to a function that does not exist, and the gate's
# function may land after the app's first deploy: subscribe once the host lists it.
subscribe_gate=false
if az resource show --ids "$OPS_FUNCTION_APP_ID/functions/gate_on_image_pushed" --api-version 2024-04-01 --output none 2>/dev/null; then
  subscribe_gate=true
else
  echo "estate-up: gate_on_image_pushed is not deployed yet; ImagePushed subscriptions wait for a later deploy" >&2
fi

az deployment sub create \
  --subscription "$AZURE_SUBSCRIPTION_ID" \
  --name "$deployment" \
  --location "$AZURE_LOCATION" \
  --template-file "$here/../estate/main.bicep" \
  --parameters \
    environmentName="$AZURE_ENV_NAME" \
    registries="${OPS_ESTATE_REGISTRIES:-[]}" \
    clusters="${OPS_ESTATE_CLUSTERS:-[]}" \
    subscriptions="${OPS_ESTATE_SUBSCRIPTIONS:-[]}" \
    failoverTargets="${OPS_ESTATE_FAILOVER:-[]}" \
    appPrincipalId="$OPS_APP_PRINCIPAL_ID" \
    functionAppId="$OPS_FUNCTION_APP_ID" \
    eventGridIdentityId="$OPS_EVENTGRID_IDENTITY_ID" \
    deadLetterStorageId="$OPS_DEADLETTER_STORAGE_ID" \
    deadLetterContainer="$OPS_DEADLETTER_CONTAINER" \
    subscribeGate="$subscribe_gate" \
    workspaceId="${OPS_WORKSPACE_ID:-}" \
  --only-show-errors \
  --output none

echo "estate-up: deployed $deployment (gate subscribed: $subscribe_gate)"
