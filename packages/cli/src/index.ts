/** @exhibit/cli: the `exhibit` command. Command modules (e.g. custody) use these pieces. */
export { main, loadCommandModules } from './main.js';
export { createProgram, runCli, CLI_VERSION } from './program.js';
export { createCliContext, type CliContext, type ContextOptions, type TextStream } from './context.js';
export type { CommandModule } from './commands/command-module.js';
export { CliError, EXIT, exitCodeFor, type CliErrorCode, type ExitCode } from './cli-error.js';
export { createApiClient, apiPath, API_CLIENT_LIMITS, type ApiClient, type ApiClientOptions, type QueryValues } from './api/api-client.js';
export type * from './api/api-types.js';
export { readToken, writeToken, tokenPath, TOKEN_FILE_NAME } from './token-store.js';
export { uploadEvidenceFile, planUpload, UPLOAD_LIMITS, EVIDENCE_CONTENT_TYPE } from './upload/upload.service.js';
export type { UploadFileOptions, UploadProgress, UploadResult, UploadPlan } from './upload/upload.service.js';
export type { BlockBlobStore, BlockBlobTarget } from './upload/block-blob-target.port.js';
export { createAzureBlockBlobStore } from './upload/upload.azure.js';
export { blockId, blockIndexOf, MAX_BLOCKS_PER_BLOB } from './upload/block-id.js';
export {
  acquisitionMetadata,
  encodeMetadataValue,
  decodeMetadataValue,
  hashMismatches,
  parseHashHex,
  HASH_ORIGIN_METADATA_KEY,
  MAX_METADATA_BYTES,
} from './upload/acquisition-metadata.js';
export {
  displayWidth,
  ellipsizePath,
  formatBytes,
  formatCount,
  formatDuration,
  formatRate,
  layoutTable,
  printable,
  renderTable,
  truncate,
  wrapText,
  type Column,
  type TableLayout,
  type TableOptions,
} from './render/format.js';
export { outputWidth, DEFAULT_OUTPUT_WIDTH } from './render/output-width.js';
export { formatRecordedTime, formatGps, formatOffset } from './render/time.js';
export { renderEvidenceStatus, renderEvidenceList, renderProgressLine, aggregateStages, hasIntegrityMismatch } from './render/status.render.js';
export { renderSearchResult } from './render/search.render.js';
export { renderFileDetail } from './render/file.render.js';
