import type { AccessToken, TokenCredential } from '@azure/identity';
import { describe, expect, it } from 'vitest';
import { ENTRA_POSTGRES_SCOPE, entraPassword } from './sql-client.pg.js';

/** Entra itself is not reachable from tests; this credential records what it was asked for. */
function recordingCredential(tokens: Array<AccessToken | Error>) {
  const scopes: string[] = [];
  const credential: TokenCredential = {
    async getToken(scope) {
      scopes.push(String(scope));
      const next = tokens.shift();
      if (!next) throw new Error('no more tokens');
      if (next instanceof Error) throw next;
      return next;
    },
  };
  return { credential, scopes };
}

describe('entraPassword', () => {
  it('asks for the PostgreSQL scope and reuses a token until shortly before it expires', async () => {
    const hour = Date.now() + 3600_000;
    const { credential, scopes } = recordingCredential([
      { token: 'tok-1', expiresOnTimestamp: hour },
      { token: 'tok-2', expiresOnTimestamp: hour },
    ]);
    const password = entraPassword(credential);
    expect(await password()).toBe('tok-1');
    expect(await password()).toBe('tok-1');
    expect(scopes).toEqual([ENTRA_POSTGRES_SCOPE]);
  });

  it('fetches a new token when the cached one is about to expire', async () => {
    const { credential, scopes } = recordingCredential([
      { token: 'old', expiresOnTimestamp: Date.now() + 60_000 },
      { token: 'new', expiresOnTimestamp: Date.now() + 3600_000 },
    ]);
    const password = entraPassword(credential);
    expect(await password()).toBe('old');
    expect(await password()).toBe('new');
    expect(scopes).toHaveLength(2);
  });

  it('reports a credential failure as index-unavailable (retryable)', async () => {
    const { credential } = recordingCredential([new Error('IMDS not reachable')]);
    await expect(entraPassword(credential)()).rejects.toMatchObject({ code: 'index-unavailable', retryable: true });
  });
});
