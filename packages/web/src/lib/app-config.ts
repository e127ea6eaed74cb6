import type { Role } from './session';

/** What the host says before anyone signs in (GET /app-config.json). */
export type AppConfig =
  | { auth: { kind: 'local'; users: Array<{ user: string; role: Role }>; roles: Role[] } }
  | { auth: { kind: 'entra'; tenantId: string; clientId: string; scopes: string[]; authority: string; knownAuthorities: string[] } };

export async function loadAppConfig(): Promise<AppConfig> {
  const res = await fetch('/app-config.json', { cache: 'no-cache', credentials: 'omit' });
  if (!res.ok) throw new Error(`app configuration: HTTP ${res.status}`);
  return (await res.json()) as AppConfig;
}
