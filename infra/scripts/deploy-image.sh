#!/bin/sh
# Builds the Functions image in Azure Container Registry and deploys it.
# Run by azd after provisioning; run `azd hooks run postprovision` to redeploy code.
# Needs: az (logged in), azd environment values from infra/main.bicep outputs.
set -eu

: "${AZURE_CONTAINER_REGISTRY_NAME:?run azd provision first}"
: "${AZURE_CONTAINER_REGISTRY_ENDPOINT:?run azd provision first}"
: "${FUNCTION_APP_NAME:?run azd provision first}"
: "${AZURE_RESOURCE_GROUP:?run azd provision first}"

cd "$(dirname "$0")/../.."
revision="$(git rev-parse --short=12 HEAD 2>/dev/null || echo local)"
if [ -n "$(git status --porcelain 2>/dev/null || true)" ]; then revision="${revision}-dirty"; fi
tag="$(date -u +%Y%m%d%H%M%S)-${revision}"
image="${AZURE_CONTAINER_REGISTRY_ENDPOINT}/exhibit-functions:${tag}"

echo "Building ${image} in ${AZURE_CONTAINER_REGISTRY_NAME}"
az acr build --registry "$AZURE_CONTAINER_REGISTRY_NAME" --image "exhibit-functions:${tag}" \
  --file functions/Dockerfile --build-arg "EXHIBIT_REVISION=${revision}" .

echo "Deploying ${image} to ${FUNCTION_APP_NAME}"
az functionapp config container set --name "$FUNCTION_APP_NAME" --resource-group "$AZURE_RESOURCE_GROUP" \
  --image "$image" --registry-server "https://${AZURE_CONTAINER_REGISTRY_ENDPOINT}" --output none

# Later provisions keep this image instead of falling back to the placeholder.
azd env set SERVICE_FUNCTIONS_IMAGE_NAME "$image"
echo "Deployed. API: ${EXHIBIT_API_URL:-https://${FUNCTION_APP_NAME}.azurewebsites.net/api}"
