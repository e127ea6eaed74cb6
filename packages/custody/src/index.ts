export { createCustodyLog, type CustodyAudit, type CustodyLog, type CustodyLogOptions } from './custody-log.js';
export {
  verifyCustody,
  type CustodyBreak,
  type CustodyBreakReason,
  type CustodyVerification,
  type EvidenceCustodyVerification,
  type EvidenceHashCheck,
  type VerifiedEntry,
  type VerifyCustodyOptions,
} from './custody-verify.js';
export { renderCustodyReportHtml, renderVerificationText } from './custody-report.js';
export { createLocalSigner, LOCAL_KEY_FILE } from './signer.local.js';
export { createKeyVaultSigner, keyVaultSigner, type KeyVaultPublicKey, type KeyVaultSigningClient } from './signer.key-vault.js';
export { keyIdFor, jwkThumbprint, publicKeyOf, SignatureVerifier, type PublicKeyRecord, type SignatureAlgorithm, type Signer } from './signer.js';
export {
  CUSTODY_ACTOR,
  CUSTODY_FORMAT,
  CUSTODY_LIMITS,
  GENESIS_HASH,
  encodeEntry,
  hashEntryText,
  parseEntryText,
  signingBytes,
  type CustodyEntry,
  type CustodySubject,
  type SegmentStartDetails,
  type UnsignedEntry,
} from './custody-entry.js';
export { canonicalJson } from './canonical-json.js';
export type { IndexedCustodyEntry } from './custody-index.sql.js';
export { keysDocumentName, segmentName } from './segment-names.js';
export { addedKeyDocumentName, parseTrustedKeys, readKeysDocument, type KeysDocument } from './key-registry.js';
