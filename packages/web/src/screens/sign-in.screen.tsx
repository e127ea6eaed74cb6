import { useState, type FormEvent } from 'react';
import type { AppConfig } from '../lib/app-config';
import { navigate } from '../lib/router';
import { setSession, type Role } from '../lib/session';

/**
 * Local stack: pick a demo user (or any name and role) and get a token signed
 * by the local key, exactly what `exhibit login` stores. With Entra ID this
 * form does not exist: the button hands over to Microsoft's sign-in page.
 */
export function SignInScreen({ config }: { config: AppConfig }) {
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const [user, setUser] = useState('');
  const [role, setRole] = useState<Role>('investigator');

  if (config.auth.kind === 'entra') {
    const settings = config.auth;
    return (
      <main className="sign-in" aria-labelledby="sign-in-title">
        <h1 id="sign-in-title">Sign in to Exhibit</h1>
        <p>Sign in with your organisation account (Microsoft Entra ID). Your roles come from your account; your cases from your assignments.</p>
        <button
          type="button"
          onClick={() => {
            void import('../lib/entra-auth').then((m) => m.signInEntra(settings)).catch((e: unknown) => setError(String(e)));
          }}
        >
          Sign in with Microsoft
        </button>
        {error && <p role="alert" className="error">{error}</p>}
      </main>
    );
  }

  async function signIn(u: string, r: Role): Promise<void> {
    setBusy(true);
    setError(null);
    try {
      const res = await fetch('/auth/local/token', {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ user: u, role: r }),
        credentials: 'omit',
      });
      const body = (await res.json()) as { token?: string; user?: string; roles?: Role[]; expiresAt?: string; error?: { message: string } };
      if (!res.ok || !body.token) throw new Error(body.error?.message ?? `HTTP ${res.status}`);
      setSession({ token: body.token, user: body.user!, roles: body.roles!, expiresAt: body.expiresAt!, authKind: 'local' });
      navigate('/cases', { replace: true });
    } catch (err) {
      setError(err instanceof Error ? err.message : String(err));
    } finally {
      setBusy(false);
    }
  }

  const onSubmit = (e: FormEvent) => {
    e.preventDefault();
    if (user.trim()) void signIn(user.trim(), role);
  };

  return (
    <main className="sign-in" aria-labelledby="sign-in-title">
      <h1 id="sign-in-title">Sign in to Exhibit (local stack)</h1>
      <p>
        Local users are signed with this machine's key, like <code>exhibit login</code>. What you see depends on the cases you are assigned to.
      </p>
      <h2>Demo users on the sample case</h2>
      <ul className="user-list">
        {config.auth.users.map((u) => (
          <li key={u.user}>
            <button type="button" disabled={busy} onClick={() => void signIn(u.user, u.role)} data-user={u.user}>
              Sign in as <strong>{u.user}</strong> ({u.role})
            </button>
          </li>
        ))}
      </ul>
      <h2>Another user</h2>
      <form onSubmit={onSubmit} className="inline-form">
        <label>
          User name <input name="user" value={user} onChange={(e) => setUser(e.target.value)} autoComplete="username" />
        </label>
        <label>
          Role{' '}
          <select name="role" value={role} onChange={(e) => setRole(e.target.value as Role)}>
            {config.auth.roles.map((r) => (
              <option key={r} value={r}>
                {r}
              </option>
            ))}
          </select>
        </label>
        <button type="submit" disabled={busy || !user.trim()}>
          Sign in
        </button>
      </form>
      {error && (
        <p role="alert" className="error">
          {error}
        </p>
      )}
    </main>
  );
}
