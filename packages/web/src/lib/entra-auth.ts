import { InteractionRequiredAuthError, PublicClientApplication, type AuthenticationResult } from '@azure/msal-browser';
import { setSession, type Role, type Session } from './session';

/**
 * Microsoft Entra ID sign-in: authorization code flow with PKCE, done by MSAL
 * in a full-page redirect (no pop-ups to block). MSAL's cache is in
 * sessionStorage; the access token for the API goes into the session. Roles
 * shown in the app come from the token's `roles` claim; the API checks the
 * token itself and decides.
 */
export interface EntraSettings {
  tenantId: string;
  clientId: string;
  scopes: string[];
  /** `<authority host>/<tenant>`: login.microsoftonline.com's, a national cloud's, or a test issuer's. */
  authority: string;
  /**
   * Hosts to trust as they are. Empty for Microsoft's clouds (MSAL carries their metadata);
   * any other host (a test issuer) is named here, or MSAL would ask login.microsoftonline.com's
   * instance discovery about it, a request outside the deployment that it then refuses.
   */
  knownAuthorities: string[];
}

let pca: PublicClientApplication | null = null;

async function client(settings: EntraSettings): Promise<PublicClientApplication> {
  if (pca) return pca;
  pca = new PublicClientApplication({
    auth: {
      clientId: settings.clientId,
      authority: settings.authority,
      ...(settings.knownAuthorities.length > 0 ? { knownAuthorities: settings.knownAuthorities } : {}),
      redirectUri: `${window.location.origin}/`,
    },
    cache: { cacheLocation: 'sessionStorage' },
  });
  await pca.initialize();
  return pca;
}

function sessionFrom(result: AuthenticationResult): Session {
  const payload = JSON.parse(atob(result.accessToken.split('.')[1]!.replace(/-/g, '+').replace(/_/g, '/'))) as { roles?: string[]; preferred_username?: string };
  const known: Role[] = ['examiner', 'investigator', 'supervisor', 'admin'];
  return {
    token: result.accessToken,
    user: payload.preferred_username ?? result.account.username,
    roles: (payload.roles ?? []).filter((r): r is Role => (known as string[]).includes(r)),
    expiresAt: (result.expiresOn ?? new Date(Date.now() + 5 * 60_000)).toISOString(),
    authKind: 'entra',
  };
}

/** On start: completes a redirect that just came back, or renews silently. */
export async function resumeEntra(settings: EntraSettings): Promise<Session | null> {
  const app = await client(settings);
  const redirected = await app.handleRedirectPromise();
  if (redirected) {
    const s = sessionFrom(redirected);
    setSession(s);
    return s;
  }
  const account = app.getAllAccounts()[0];
  if (!account) return null;
  try {
    const s = sessionFrom(await app.acquireTokenSilent({ scopes: settings.scopes, account }));
    setSession(s);
    return s;
  } catch (err) {
    if (err instanceof InteractionRequiredAuthError) return null;
    throw err;
  }
}

export async function signInEntra(settings: EntraSettings): Promise<void> {
  const app = await client(settings);
  await app.loginRedirect({ scopes: settings.scopes });
}

export async function signOutEntra(settings: EntraSettings): Promise<void> {
  const app = await client(settings);
  setSession(null);
  await app.logoutRedirect({ postLogoutRedirectUri: `${window.location.origin}/` });
}
