export { createCustodyLog, type CustodyAudit, type CustodyLog, type CustodyLogOptions } from './custody-log.js';
export {
  appendLogCheckpointStore,
  CHECKPOINT_FORMAT,
  createFileCheckpointStore,
  parseCheckpoints,
  signCheckpoint,
  writeCheckpoints,
  type CheckpointProblem,
  type CheckpointRun,
  type CheckpointStore,
  type CustodyCheckpoint,
} from './custody-checkpoint.js';
export { addTrustedKeys, pinSignerKey, publicKeyBundle, readTrustedKeys, TRUST_FILE, trustFileOf, type TrustedKeysDocument } from './trust-store.js';
export { exportCustodyBundle, readCustodyBundle, verifyCustodyBundle, BUNDLE_FORMAT, type CustodyBundle } from './custody-bundle.js';
export {
  UNTRUSTED_PUBLISHED_KEY,
  verifyCustody,
  type CustodyBreak,
  type CustodyBreakReason,
  type CustodyVerification,
  type EvidenceCustodyVerification,
  type EvidenceHashCheck,
  type VerifiedEntry,
  type VerifyCustodyOptions,
} from './custody-verify.js';
export { actionText, caseWideText, renderCustodyReportHtml, renderVerificationText } from './custody-report.js';
export { createLocalSigner, LOCAL_KEY_FILE } from './signer.local.js';
export { createKeyVaultSigner, keyVaultPublicKeys, keyVaultSigner, listKeyVaultPublicKeys, type KeyVaultVersionsClient, type KeyVaultPublicKey, type KeyVaultSigningClient } from './signer.key-vault.js';
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
export type { CustodySql, IndexedCustodyEntry } from './custody-index.sql.js';
export { keysDocumentName, segmentName } from './segment-names.js';
export { addedKeyDocumentName, parseTrustedKeys, readKeysDocument, type KeysDocument } from './key-registry.js';
