import type { ExhibitConfig } from '@exhibit/core';
import type { TokenVerifier } from '../api.types.js';
import { createEntraTokenVerifier, type EntraVerifierOptions } from './entra-token.js';
import { createLocalTokenVerifier } from './local-token.js';

/** The verifier the configuration asks for: local EdDSA tokens or Entra ID. */
export function createTokenVerifier(auth: ExhibitConfig['auth'], options: EntraVerifierOptions = {}): TokenVerifier {
  if (auth.kind === 'entra') return createEntraTokenVerifier(auth, options);
  return createLocalTokenVerifier({
    keyDir: auth.keyDir,
    ...(options.clockToleranceSec !== undefined ? { clockToleranceSec: options.clockToleranceSec } : {}),
    ...(options.now ? { now: options.now } : {}),
  });
}
