import type { TokenCredential } from '@azure/core-auth';
import { DefaultAzureCredential } from '@azure/identity';

/**
 * The one credential for Azure: managed identity in the cloud, a developer's
 * az/azd login elsewhere. Shared so every client reuses its token cache.
 */
let shared: TokenCredential | undefined;

export function azureCredential(): TokenCredential {
  shared ??= new DefaultAzureCredential();
  return shared;
}

export type { TokenCredential };
