# Windows twin of deploy-image.sh: build the Functions image in ACR and deploy it.
$ErrorActionPreference = 'Stop'
foreach ($name in 'AZURE_CONTAINER_REGISTRY_NAME', 'AZURE_CONTAINER_REGISTRY_ENDPOINT', 'FUNCTION_APP_NAME', 'AZURE_RESOURCE_GROUP') {
  if (-not (Get-Item "env:$name" -ErrorAction SilentlyContinue)) { throw "$name is not set: run azd provision first" }
}
Set-Location (Join-Path $PSScriptRoot '../..')
$revision = (git rev-parse --short=12 HEAD 2>$null)
if (-not $revision) { $revision = 'local' }
if (git status --porcelain 2>$null) { $revision = "$revision-dirty" }
$tag = "$(Get-Date -AsUTC -Format 'yyyyMMddHHmmss')-$revision"
$image = "$($env:AZURE_CONTAINER_REGISTRY_ENDPOINT)/exhibit-functions:$tag"

az acr build --registry $env:AZURE_CONTAINER_REGISTRY_NAME --image "exhibit-functions:$tag" --file functions/Dockerfile --build-arg "EXHIBIT_REVISION=$revision" .
if ($LASTEXITCODE -ne 0) { throw 'az acr build failed' }
az functionapp config container set --name $env:FUNCTION_APP_NAME --resource-group $env:AZURE_RESOURCE_GROUP --image $image --registry-server "https://$($env:AZURE_CONTAINER_REGISTRY_ENDPOINT)" --output none
if ($LASTEXITCODE -ne 0) { throw 'az functionapp config container set failed' }
azd env set SERVICE_FUNCTIONS_IMAGE_NAME $image
