#!/bin/sh
# Removes what estate-up.sh deployed, before azd down deletes the app's resource group: the
# gate's Event Grid subscriptions, the registries' diagnostic settings to the app's workspace,
# the system topics this app created, its role assignments on registries, clusters and
# subscriptions, and the scheduler role definitions.
#
# It deletes exactly the IDs the estate deployment listed in its removableResourceIds output,
# in dependency order, and refuses to run if that list holds any other kind of resource: it
# never deletes a resource group, a registry, a cluster or a system topic it did not create.
# azd runs it as the predown hook (azure.yaml); a failure stops azd down.
set -eu

: "${AZURE_ENV_NAME:?estate-down: AZURE_ENV_NAME is not set}"
: "${AZURE_SUBSCRIPTION_ID:?estate-down: AZURE_SUBSCRIPTION_ID is not set}"

deployment="acr-aks-ops-estate-$AZURE_ENV_NAME"

if ! az deployment sub show --subscription "$AZURE_SUBSCRIPTION_ID" --name "$deployment" --output none 2>/dev/null; then
  echo "estate-down: no deployment $deployment; nothing to remove"
  exit 0
fi

ids=$(az deployment sub show --subscription "$AZURE_SUBSCRIPTION_ID" --name "$deployment" \
  --query "properties.outputs.removableResourceIds.value[]" --output tsv)

# The pass an ID is deleted in: subscriptions before their topic, assignments before the
# role definition they use. 0 means a kind of resource this script will not touch.
pass_of() {
  case "$1" in
    */providers/Microsoft.Insights/diagnosticSettings/*) echo 1 ;;
    */providers/Microsoft.EventGrid/systemTopics/*/eventSubscriptions/*) echo 1 ;;
    */providers/Microsoft.EventGrid/systemTopics/*) echo 2 ;;
    */providers/Microsoft.Authorization/roleAssignments/*) echo 3 ;;
    */providers/Microsoft.Authorization/roleDefinitions/*) echo 4 ;;
    *) echo 0 ;;
  esac
}

api_version_of() {
  case "$1" in
    */providers/Microsoft.Insights/diagnosticSettings/*) echo 2021-05-01-preview ;;
    */providers/Microsoft.EventGrid/*) echo 2025-02-15 ;;
    *) echo 2022-04-01 ;;
  esac
}

printf '%s\n' "$ids" | while IFS= read -r id; do
  [ -n "$id" ] || continue
  if [ "$(pass_of "$id")" = 0 ]; then
    echo "estate-down: refusing to run: $id is not a kind of resource the estate layer creates" >&2
    exit 3
  fi
done

for pass in 1 2 3 4; do
  printf '%s\n' "$ids" | while IFS= read -r id; do
    [ -n "$id" ] || continue
    [ "$(pass_of "$id")" = "$pass" ] || continue
    version=$(api_version_of "$id")
    if ! az rest --method get --url "$id?api-version=$version" --output none 2>/dev/null; then
      echo "estate-down: already gone: $id"
      continue
    fi
    case "$id" in
      */providers/Microsoft.Insights/diagnosticSettings/*) az rest --method delete --url "$id?api-version=$version" --output none ;;
      # Topics and their subscriptions delete asynchronously; az resource delete waits.
      */providers/Microsoft.EventGrid/*) az resource delete --ids "$id" --only-show-errors --output none ;;
      *) az rest --method delete --url "$id?api-version=$version" --output none ;;
    esac
    echo "estate-down: deleted $id"
  done
done

az deployment sub delete --subscription "$AZURE_SUBSCRIPTION_ID" --name "$deployment" --only-show-errors
echo "estate-down: removed $deployment"
