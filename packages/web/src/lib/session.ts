import { useSyncExternalStore } from 'react';

export type Role = 'examiner' | 'investigator' | 'supervisor' | 'admin';

export interface Session {
  token: string;
  user: string;
  roles: Role[];
  expiresAt: string;
  authKind: 'local' | 'entra';
}

/**
 * The token lives in sessionStorage (this tab only, gone when it closes), never
 * in a URL or a log. With Entra ID, MSAL keeps its own cache in sessionStorage
 * too and the session here holds the current access token.
 */
const KEY = 'exhibit.session';
const listeners = new Set<() => void>();
let current: Session | null = read();

function read(): Session | null {
  try {
    const raw = sessionStorage.getItem(KEY);
    if (!raw) return null;
    const s = JSON.parse(raw) as Session;
    return Date.parse(s.expiresAt) > Date.now() ? s : null;
  } catch {
    return null;
  }
}

export function getSession(): Session | null {
  if (current && Date.parse(current.expiresAt) <= Date.now()) setSession(null);
  return current;
}

export function setSession(s: Session | null): void {
  current = s;
  if (s) sessionStorage.setItem(KEY, JSON.stringify(s));
  else sessionStorage.removeItem(KEY);
  listeners.forEach((l) => l());
}

export function useSession(): Session | null {
  return useSyncExternalStore(
    (l) => {
      listeners.add(l);
      return () => listeners.delete(l);
    },
    () => current,
  );
}

export function hasRole(s: Session | null, ...roles: Role[]): boolean {
  return !!s && s.roles.some((r) => roles.includes(r));
}
