import { z } from 'zod';
import { FILE_STAGES, METADATA_FLAGS, REJECTED_BLOB_REASONS, ROLES, STAGE_NAMES, type FileKind } from '@exhibit/core';

/**
 * JSON shapes the API returns. They document the OpenAPI responses and the
 * route tests parse real responses with them, so the document cannot drift
 * from what is sent.
 */

export const FILE_KINDS = ['image', 'video', 'audio', 'archive', 'document', 'other'] as const satisfies readonly FileKind[];
// A file's states and the step names of failures are the lifecycle's (@exhibit/core lifecycle.ts).
export { FILE_STAGES };

export const errorSchema = z
  .object({
    error: z.object({
      code: z.string().describe('Stable error code, e.g. not-found, invalid-argument, unauthenticated, forbidden'),
      message: z.string(),
      details: z.record(z.string(), z.unknown()).optional(),
    }),
  })
  .describe('Every error. A 404 has the same body whether the case or file is missing or the caller is not assigned.');

const blobRef = z.object({ container: z.string(), name: z.string() });
/** Where a file's bytes are; the offset form is a ZIP member stored uncompressed, read in place in its archive's blob. */
const contentSource = blobRef
  .extend({
    offset: z
      .number()
      .int()
      .nonnegative()
      .optional()
      .describe("Set when the bytes are the file's size in bytes of this blob from this offset (a member read in place in its archive); absent when they are the whole blob"),
  })
  .describe('A blob, or a span of one');
const toolVersion = z.object({ name: z.string(), version: z.string() });
const recordedTime = z
  .object({
    local: z.string().describe('Wall-clock time exactly as recorded'),
    offsetMinutes: z.number().nullable().describe('Offset from UTC when the source recorded one'),
    utc: z.string().nullable().describe('UTC, only when the offset is known; never guessed'),
    source: z.string(),
  })
  .describe('A timestamp as the source recorded it');
const failure = z.object({ stage: z.enum(STAGE_NAMES), code: z.string(), detail: z.string() });

export const fileRecordSchema = z.object({
  fileId: z.string(),
  caseId: z.string(),
  evidenceId: z.string(),
  parentId: z.string().nullable(),
  entryIndex: z.number().nullable(),
  depth: z.number(),
  path: z.string().describe("Display path; archive members as '<archive>!/<member>'"),
  recordedName: z.string(),
  name: z.string(),
  extension: z.string().nullable(),
  entryKind: z.enum(['file', 'directory', 'symlink', 'hardlink', 'device', 'fifo', 'other']),
  size: z.number().nullable(),
  sha256: z.string().nullable(),
  source: contentSource.nullable(),
  archiveTimes: z.object({
    modified: recordedTime.optional(),
    accessed: recordedTime.optional(),
    changed: recordedTime.optional(),
    created: recordedTime.optional(),
    deleted: recordedTime.optional(),
  }),
  flags: z.array(z.string()),
  stage: z.enum(FILE_STAGES),
  failure: failure.nullable(),
  unpack: z.enum(['n/a', 'pending', 'done', 'failed']),
  memberCount: z.number().nullable(),
  createdAt: z.string(),
});

export const contentRecordSchema = z.object({
  sha256: z.string(),
  md5: z.string(),
  sha1: z.string(),
  size: z.number(),
  source: contentSource.nullable().describe("Where this occurrence's bytes are, in this case's own evidence or derived copies"),
  mime: z.string().nullable(),
  detectedExt: z.string().nullable(),
  kind: z.enum(FILE_KINDS).nullable(),
  metadata: z
    .object({
      takenAt: recordedTime
        .optional()
        .describe('Capture time, only from capture-time tags; `source` names the tag (e.g. EXIF:DateTimeOriginal, XMP:xmp:CreateDate). Absent when only a modification time was recorded'),
      captureTimes: z.array(recordedTime).optional().describe('Every capture time read, in order of precedence (EXIF, then XMP); takenAt is the first'),
      modifiedAt: recordedTime.optional().describe('Last modification by software (EXIF:ModifyDate, XMP:xmp:ModifyDate); never a capture time'),
      gps: z
        .object({ lat: z.number(), lon: z.number(), altM: z.number().optional() })
        .optional()
        .describe('A usable location; 0,0, out-of-range and void (GPSStatus V) positions are in gpsRecorded instead'),
      gpsRecorded: z
        .object({ lat: z.number().nullable(), lon: z.number().nullable(), altM: z.number().optional(), flag: z.enum(['gps-null-island', 'gps-out-of-range', 'gps-void']) })
        .optional()
        .describe('A recorded position that is no location (0,0, out of range, not a number, or EXIF GPSStatus V: measurement void): kept as recorded, never plotted or counted as has-GPS'),
      make: z.string().optional().describe('Text ends at the first NUL; unprintable bytes are shown as \\xNN (see escapedFields)'),
      model: z.string().optional(),
      software: z.string().optional(),
      width: z.number().optional().describe("The image's real pixel size from its own header (video: the stream), before orientation"),
      height: z.number().optional(),
      declaredWidth: z.number().optional().describe('The size EXIF declares (PixelXDimension); a difference from width/height is a size-mismatch finding'),
      declaredHeight: z.number().optional(),
      orientation: z.number().optional(),
      durationSec: z.number().optional(),
      videoStream: z
        .object({ startSec: z.number().optional(), durationSec: z.number().optional() })
        .optional()
        .describe("The video stream a contact sheet shows: its start after the file's start and its duration (the stated one, or its frame count over frame rate where longer, up to the file's stated duration after the stream's start), in seconds, as the container states them; it may be far shorter than durationSec"),
      audioStream: z
        .object({ codec: z.string().optional(), sampleRate: z.number().optional(), channels: z.number().optional() })
        .optional()
        .describe('The first audio stream as the container states it (codec, samples per second, channels); each only when stated and sane'),
      codecs: z.array(z.string()).optional(),
      escapedFields: z.array(z.string()).optional().describe('Text fields whose unprintable bytes were escaped'),
      partial: z.array(z.string()).optional().describe("The parser's messages when metadata could be read only in part (finding metadata-partial)"),
      findings: z
        .array(z.object({ flag: z.enum(METADATA_FLAGS), detail: z.string() }))
        .optional()
        .describe("Problems found in the metadata; each is also a flag on the file's occurrences"),
      raw: z.record(z.string(), z.unknown()),
    })
    .nullable(),
  metadataStatus: z.enum(['pending', 'done', 'failed', 'n/a']),
  thumbnail: blobRef.nullable(),
  thumbnailSource: z.enum(['image', 'exif-preview', 'contact-sheet']).nullable(),
  thumbnailStatus: z.enum(['pending', 'done', 'failed', 'n/a']),
  embeddedPreview: blobRef
    .nullable()
    .optional()
    .describe("The image's embedded EXIF preview as stored beside its thumbnail (GET …/files/{fileId}/embedded-preview); null when it has none"),
  failure: failure.nullable(),
  findings: z
    .array(z.object({ flag: z.string(), detail: z.string() }))
    .optional()
    .describe('Findings about these bytes: unidentified, trailing-data, embedded-archive, partially-decoded, no-content, orientation-conflict, preview-differs (the embedded EXIF preview no longer shows the image: a hint of editing)'),
  tools: z.record(z.string(), z.array(toolVersion)).describe('Tool versions per stage'),
});

const uploadSchema = z.object({
  caseId: z.string(),
  evidenceId: z.string(),
  blobName: z.string(),
  fileName: z.string(),
  rootFileId: z.string(),
  size: z.number(),
  etag: z.string(),
  versionId: z.string().nullable(),
  contentType: z.string().nullable(),
  lastModified: z.string(),
  receivedAt: z.string(),
  acquisition: z.record(z.string(), z.string()),
  hashes: z.object({ md5: z.string(), sha1: z.string(), sha256: z.string() }).nullable(),
  integrity: z.enum(['pending', 'verified', 'mismatch', 'no-reference']),
  mismatches: z.array(z.string()),
  hashedAt: z.string().nullable(),
  changedAfterReceipt: z
    .object({
      etag: z.string().describe("The ETag now under the name; '' when the blob is gone"),
      size: z.number().nullable(),
      firstSeenAt: z.string(),
      lastSeenAt: z.string(),
    })
    .nullable()
    .describe('Set when the evidence blob was overwritten or deleted after receipt; the received record and hashes stand'),
  uploadedBy: z
    .string()
    .nullable()
    .optional()
    .describe('Who registered this upload through the API, from their token (POST …/uploads); null when it arrived without registration. `acquisition.examiner` is free text the uploader typed'),
});

const stageCounts = z.object({ done: z.number(), failed: z.number(), pending: z.number() });
export const evidenceStatusSchema = z.object({
  caseId: z.string(),
  evidenceId: z.string(),
  uploads: z.array(uploadSchema),
  files: z.object({ total: z.number(), byStage: z.record(z.enum(FILE_STAGES), z.number()) }),
  stages: z.object({
    hash: stageCounts,
    identify: stageCounts,
    unpack: stageCounts,
    metadata: stageCounts,
    thumbnail: stageCounts,
    index: stageCounts,
  }),
  failures: z.array(
    z.object({
      fileId: z.string(),
      path: z.string(),
      stage: z.string(),
      code: z.string(),
      detail: z.string(),
      /** An archive whose unpack stopped: the typed reason and how far it got; members after it were not extracted. */
      archive: z
        .object({
          reason: z.enum([
            'truncated', 'corrupt', 'overlapping-entries', 'header-mismatch', 'encrypted', 'unsupported',
            'budget-exceeded', 'limit-exceeded', 'deadline-exceeded', 'dead-lettered', 'stuck', 'evidence-changed',
            'hash-state-unusable',
          ]),
          membersRecorded: z.number().int().nonnegative(),
          membersDeclared: z.number().int().nonnegative().nullable(),
        })
        .optional(),
    }),
  ),
  findings: z.array(z.object({ fileId: z.string().nullable(), path: z.string(), flag: z.string(), detail: z.string() })),
  knownFiles: z
    .object({ knownBad: z.number().int(), notable: z.number().int(), knownGood: z.number().int() })
    .describe('Files whose content matches an enabled hash set, by the set kind (docs/known-files.md); known-bad and notable matches are also listed in findings'),
  diskImages: z
    .array(
      z.object({
        fileId: z.string(),
        caseId: z.string(),
        evidenceId: z.string(),
        path: z.string(),
        format: z.string(),
        mediaBytes: z.number(),
        segmentCount: z.number().int(),
        segments: z.array(z.object({ name: z.string(), size: z.number(), etag: z.string().nullable() })),
        volumes: z.array(
          z.object({
            index: z.number().int(),
            offset: z.number(),
            size: z.number(),
            scheme: z.enum(['mbr', 'gpt', 'none']),
            type: z.string(),
            label: z.string(),
            fileSystem: z.string().nullable(),
            problem: z.object({ code: z.string(), message: z.string() }).nullable(),
            entries: z.number().int(),
          }),
        ),
        volumeProblems: z.array(z.string()),
        volumeIssues: z
          .array(
            z.object({
              kind: z.enum(['note', 'problem']),
              where: z.string().describe("The partition entry or table it concerns ('mbr 0', 'gpt header'); '' when not recorded"),
              code: z.string().nullable().describe("The typed code (a note's read-past-entry, a problem's corrupt-file…); null for a problem recorded before problems kept their code"),
              message: z.string(),
            }),
          )
          .describe('volumeProblems read back, in the same order: a note records how a volume was read with nothing failing; a problem, a fault found in the volume system (its message says whether that part was read: an entry outside the disk is not, a GPT entry array failing its CRC-32 is read anyway)'),
        mediaDamaged: z
          .boolean()
          .describe("The image carries the image-media-damaged flag: its media fails a checksum its acquisition wrote, or part of it is lost. false means only that no damage was seen: the media is known read whole only when integrity is 'verified' or 'mismatch' (not for a raw or VHD image, an E01 without stored hashes, or a check given up, stopped or pending)"),
        ewfHeader: z.record(z.string(), z.unknown()).nullable(),
        storedHashes: z.object({ md5: z.string().optional(), sha1: z.string().optional() }).nullable(),
        computedHashes: z.object({ md5: z.string(), sha1: z.string(), sha256: z.string() }).nullable(),
        integrity: z.enum(['verified', 'mismatch', 'no-reference', 'failed', 'pending']),
        mismatches: z.array(z.string()),
        integrityDetail: z.string().nullable(),
      }),
    )
    .describe('Disk images unpacked in this evidence item (docs/disk-images.md): container, volumes and, for EWF, the acquisition header and the check of the hashes stored in the image against the media data read'),
  imageSegments: z
    .object({
      declared: z.array(
        z.object({
          firstSegment: z.string(),
          declaredBy: z.string(),
          declaredAt: z.string(),
          segments: z.array(z.object({ fileName: z.string(), size: z.number(), received: z.boolean() })),
          missing: z.array(z.string()).describe('Declared segments not received yet, in order: the image is not read until they are (or the wait ends with segment-missing)'),
        }),
      ),
      orphans: z
        .array(z.object({ fileName: z.string(), firstSegment: z.string() }))
        .describe("Later segments received whose set's first segment was not: waiting for it, no image read from them"),
    })
    .describe('Split disk images (docs/disk-images.md, "Split images"): sets declared with a segment manifest at registration, and orphan later segments'),
  complete: z.boolean(),
});

const evidenceSummary = z.object({
  evidenceId: z.string(),
  uploads: z.number(),
  files: z.number(),
  complete: z.boolean(),
});

export const evidenceListSchema = z.object({ caseId: z.string(), items: z.array(evidenceSummary) });

export const caseListSchema = z.object({
  cases: z.array(
    z.object({
      caseId: z.string(),
      role: z.enum(ROLES).nullable().describe('Role on this case when the assignment narrows it; null = the token roles'),
      assignedAt: z
        .string()
        .nullable()
        .describe("When the caller was assigned; null on a case an admin sees without being assigned (then `assigned` is false)"),
      assigned: z.boolean().optional().describe('Whether the caller is assigned (always true except in an admin listing)'),
      assignees: z.number().int().nonnegative().optional().describe('Users assigned to the case (admins only)'),
      claimedBy: z.string().nullable().optional().describe('The examiner who opened the case by uploading to it (admins only)'),
      evidence: z.number().describe('Evidence items with at least one upload'),
      files: z.number(),
      complete: z.boolean().describe('Every evidence item is fully processed (false when there is none)'),
    }),
  ),
});

export const meSchema = z.object({
  user: z.string(),
  roles: z.array(z.enum(ROLES)),
  authKind: z.enum(['local', 'entra']),
  expiresAt: z.string().optional(),
  cases: z.array(z.string()),
});

export const searchResultSchema = z.object({
  total: z.number().describe('Files matching the filter (the whole result, whatever the page); "at least" this many when totalIsLowerBound'),
  totalIsLowerBound: z
    .boolean()
    .describe('True when the filter matched more files than were counted (a filter the review summary does not keep is counted up to 10,000): show "10,000+"'),
  limit: z.number(),
  offset: z.number().describe('Items skipped (0 on a cursor page: its position is the cursor)'),
  nextCursor: z.string().nullable().describe('Pass as `cursor` (same filter, sort and order) for the page after this one; null on the last page'),
  items: z.array(z.object({ file: fileRecordSchema, content: contentRecordSchema.nullable() })),
});

export const provenanceLinkSchema = z
  .object({
    fileId: z.string(),
    path: z.string(),
    name: z.string(),
    depth: z.number(),
    entryIndex: z.number().nullable(),
    entryKind: z.string(),
    sha256: z.string().nullable(),
    size: z.number().nullable(),
    source: contentSource.nullable(),
    mime: z.string().nullable(),
    tools: z.record(z.string(), z.array(toolVersion)),
  })
  .describe('One step of the chain: the file itself, then each archive it came out of');

export const knownFileMatchSchema = z
  .object({
    sha256: z.string().describe('The content that matched'),
    setId: z.number().int().describe('The set version (a new import of a set name is a new id)'),
    name: z.string().describe('The hash set'),
    version: z.string().nullable(),
    kind: z.enum(['known-bad', 'notable', 'known-good']),
    category: z.number().int().nullable().describe("The set's category number for the hash, as the source grades it"),
    categoryName: z.string().nullable().describe("The category's name in the set's own map, if it names one"),
    matchedOn: z.enum(['sha256', 'sha1', 'md5', 'pdq']).describe("The strongest digest that matched (an MD5- or SHA-1-only match should be confirmed), or 'pdq': a PDQ list matched by distance, a lead to look at"),
    pdq: z
      .object({
        distance: z.number().int().describe("Bits (of 256) between the content's PDQ hash and the listed one"),
        maxDistance: z.number().int().describe("The set's limit"),
        frame: z.number().int().describe("The content's frame that matched: 0 for a picture, the contact-sheet frame of a video"),
        timeMs: z.number().int().nullable().describe('Where in the video that frame is; null for a picture, or a video frame whose time ffmpeg did not report'),
        video: z.boolean().describe('The content is a video: its frame is a contact-sheet frame even when its time is unknown'),
        listedHash: z.string().describe('The listed PDQ hash that matched'),
        label: z.string().nullable().describe("The list's label for it, if any"),
      })
      .optional()
      .describe("Only for matchedOn 'pdq'"),
  })
  .describe('A match of the content against an enabled hash set in force (docs/known-files.md)');

export const fileDetailSchema = z.object({
  file: fileRecordSchema,
  content: contentRecordSchema.nullable(),
  knownFileMatches: z.array(knownFileMatchSchema).describe('Enabled hash sets in force that list this content; empty if none'),
  provenance: z.object({
    chain: z.array(provenanceLinkSchema).describe('From this file up to the uploaded evidence (last entry)'),
    upload: uploadSchema.nullable().describe('The evidence blob as received, with acquisition and computed hashes'),
    complete: z.boolean().describe('False if a parent could not be found or the chain was too long'),
  }),
});

export const downloadSchema = z.object({
  url: z
    .string()
    .describe(
      'A link to exactly the file\'s bytes, to fetch without a token. api-ticket: an API URL (GET …/content?ticket=…) that ends at once when ' +
        'you are unassigned, each fetch recorded; storage-sas: a read-only storage URL for a blob that is the file. A bearer secret: do not log or share it',
    ),
  kind: z.enum(['api-ticket', 'storage-sas']).describe('storage-sas only for whole-blob files over the proxy limit (1 GiB): it cannot be revoked before it expires'),
  expiresAt: z.string(),
  fileName: z.string(),
  size: z.number().nullable().describe('Size of the file'),
  sha256: z.string().nullable().describe('SHA-256 of the file'),
  range: z.null().describe('Always null: the URL gives the file and nothing else. Kept for older clients'),
});

export const playbackLinkSchema = z.object({
  url: z
    .string()
    .describe(
      "A path-relative link (/api/cases/…/files/…/playback?ticket=…), resolved against the app's own origin (the bytes are Cross-Origin-Resource-Policy: same-origin): " +
        'for a <video>/<audio> src. Ends when you are unassigned; each fetch recorded. A bearer secret: do not log or share it',
    ),
  expiresAt: z.string().describe('When the link stops working: ask for a new one and resume at the same time'),
  contentType: z.string().describe('The media type the bytes are served as'),
  kind: z.enum(['video', 'audio']).describe('Which element plays it'),
  fileName: z.string(),
  size: z.number().nullable().describe('Size of the file'),
});

export const assignmentSchema = z.object({
  caseId: z.string(),
  user: z.string().describe('The name it was assigned to (a local user name, an Entra UPN or object id)'),
  objectId: z.string().optional().describe('The Entra object id it is bound to, from its first sign-in; absent while unbound and for local users'),
  role: z.enum(ROLES).nullable(),
  assignedBy: z.string(),
  assignedAt: z.string(),
});

export const assignmentListSchema = z.object({ caseId: z.string(), assignments: z.array(assignmentSchema) });
export const assignResultSchema = z.object({ assignment: assignmentSchema, changed: z.boolean() });

export const rejectedBlobSchema = z
  .object({
    container: z.string(),
    blobName: z.string().describe('The name exactly as stored; may hold characters that need escaping before display'),
    etag: z.string(),
    size: z.number().int().nonnegative(),
    lastModified: z.string(),
    reason: z
      .enum(REJECTED_BLOB_REASONS)
      .describe('not-evidence-name: not <caseId>/<evidenceId>/<file name>; not-evidence-container: offered from another container'),
    detail: z.string().describe('Which part of the name is wrong, as first recorded'),
    firstSeenAt: z.string(),
    lastSeenAt: z.string(),
    seenCount: z.number().int().positive().describe('Sightings: upload events, redeliveries and reconciliation passes that found it'),
  })
  .describe('A blob that was seen in storage but not taken in as evidence; one per (container, blobName, etag)');

export const rejectedBlobListSchema = z.object({
  total: z.number(),
  limit: z.number(),
  offset: z.number(),
  items: z.array(rejectedBlobSchema),
});

export const uploadRegistrationSchema = z.object({
  blobName: z.string().describe('Where the bytes go in the evidence container: <caseId>/<evidenceId>/<fileName>'),
  caseId: z.string(),
  evidenceId: z.string(),
  fileName: z.string(),
  size: z.number().int().nonnegative(),
  uploadedBy: z.string().describe('The registered uploader, from the token of whoever registered the blob first'),
  registeredAt: z.string(),
  claimedCase: z.boolean().describe('This registration opened the case: the caller was assigned to it as its examiner'),
  segments: z
    .array(z.object({ fileName: z.string(), size: z.number(), md5: z.string().optional(), sha1: z.string().optional(), sha256: z.string().optional() }))
    .optional()
    .describe('The split image\'s segment manifest as stored, when this registration declared one'),
});

export const mapResultSchema = z.object({
  caseId: z.string(),
  cellDeg: z.number().describe('Grid cell size in degrees'),
  total: z.number().int().describe('Files with a usable GPS position matching the filter'),
  clusters: z.array(
    z.object({
      lat: z.number().describe('Mean latitude of the cell\'s files'),
      lon: z.number(),
      count: z.number().int().positive(),
      bbox: z.tuple([z.number(), z.number(), z.number(), z.number()]).describe('minLon, minLat, maxLon, maxLat of the cell\'s files'),
      fileId: z.string().nullable().describe('The file, when the cell holds exactly one'),
      sha256: z.string().nullable(),
    }),
  ),
  truncated: z.boolean().describe('More cells than the limit: only the fullest are listed'),
});

export const timelineResultSchema = z.object({
  caseId: z.string(),
  bucket: z.enum(['minute', 'hour', 'day', 'week', 'month', 'year']),
  from: z.string().nullable().describe('Start of the first bucket, recorded wall clock (no offset)'),
  to: z.string().nullable().describe('End of the last bucket (exclusive)'),
  buckets: z.array(
    z.object({
      start: z.string(),
      end: z.string(),
      withOffset: z.number().int().describe('Files whose capture time has a recorded offset'),
      withoutOffset: z.number().int().describe('Files whose capture time has no recorded offset'),
    }),
  ),
  total: z.number().int(),
  withTakenAt: z.number().int(),
  withoutTakenAt: z.number().int(),
});

export const fileTagSchema = z.object({
  tagId: z.string(),
  caseId: z.string(),
  fileId: z.string(),
  evidenceId: z.string(),
  path: z.string(),
  sha256: z.string().nullable(),
  tag: z.string(),
  note: z.string(),
  createdBy: z.string(),
  createdAt: z.string(),
  updatedBy: z.string(),
  updatedAt: z.string(),
});

export const tagListSchema = z.object({
  total: z.number().int(),
  limit: z.number().int(),
  offset: z.number().int(),
  items: z.array(fileTagSchema),
  counts: z.array(z.object({ tag: z.string(), count: z.number().int() })).describe('Every tag of the case with its number of files'),
});

export const tagResultSchema = z.object({ tag: fileTagSchema });

export const exportRecordSchema = z.object({
  exportId: z.string(),
  caseId: z.string(),
  format: z.string(),
  sha256: z.string().describe('SHA-256 of exactly the bytes sent'),
  bytes: z.number().int(),
  items: z.number().int().describe('Files in the bytes sent'),
  producedBy: z.string(),
  producedAt: z.string(),
  complete: z
    .boolean()
    .describe('False: the export stopped before its end (the caller went away, a read failed, access was revoked); sha256, bytes and items are of the part sent, not a whole report'),
  stoppedBy: z.string().optional().describe("Why an incomplete export stopped, when known: 'access-revoked' (the caller was unassigned, or lost every exporting role, while it streamed)"),
  planned: z.number().int().optional().describe('Files the export was to hold, counted when it started'),
});

export const accessEventListSchema = z.object({
  total: z.number().int(),
  limit: z.number().int(),
  offset: z.number().int(),
  items: z.array(
    z.object({
      time: z.string(),
      actor: z.string(),
      action: z.string(),
      evidenceId: z.string(),
      seq: z.number().int(),
      fileId: z.string().nullable(),
      sha256: z.string().nullable(),
      path: z.string().nullable(),
      details: z.record(z.string(), z.unknown()),
    }),
  ),
  byActor: z.array(z.object({ actor: z.string(), action: z.string(), count: z.number().int(), last: z.string() })),
});

export const apiIndexSchema = z.object({
  name: z.string(),
  version: z.string(),
  openapi: z.string(),
  docs: z.string(),
  routes: z.array(z.object({ method: z.string(), path: z.string(), summary: z.string() })),
});

export const fileCustodySchema = z.object({
  fileId: z.string(),
  sha256: z.string().nullable(),
  entries: z.array(
    z.object({
      evidenceId: z.string(),
      seq: z.number().int(),
      time: z.string(),
      actor: z.string(),
      action: z.string(),
      subject: z.record(z.string(), z.string()),
      details: z.record(z.string(), z.unknown()),
      tools: z.array(z.object({ name: z.string(), version: z.string() })),
      entryHash: z.string(),
    }),
  ),
  omitted: z.number().int().describe("Entries about people's access, left out for roles other than supervisor"),
});

/** GET /cases/{caseId}/files/{fileId}/similar (docs/pdq.md). */
export const similarResultSchema = z.object({
  fileId: z.string(),
  /** The file's PDQ hash (frame 0); null when none was recorded (not an image, or not decodable the reference's way). */
  hash: z.string().nullable(),
  quality: z.number().int().nullable(),
  /** The file's content kind (image, video, …), null when not identified: a video's frames are contact-sheet frames even without times. */
  kind: z.enum(['image', 'video', 'audio', 'archive', 'document', 'other']).nullable(),
  /** Every PDQ hash of the file, each searched: frame 0 of a picture, one per contact-sheet frame of a video (with its time). */
  frames: z.array(z.object({ frame: z.number().int(), hash: z.string(), quality: z.number().int(), timeMs: z.number().int().optional() })),
  maxDistance: z.number().int(),
  scope: z.enum(['case', 'assigned']),
  /** The cases searched: this one, or every case the caller is assigned to with a role that may read it. */
  caseIds: z.array(z.string()),
  method: z.enum(['mih', 'scan']).nullable(),
  items: z.array(
    z.object({
      sha256: z.string(),
      frame: z.number().int().describe("The content's frame that is near: 0 for a picture, a contact-sheet frame of a video"),
      timeMs: z.number().int().optional().describe('Where in the video that frame is'),
      video: z.boolean().describe('The content found is a video: its frame is a contact-sheet frame even when its time is unknown'),
      fromFrame: z.number().int().describe("The searched file's frame it is near to (0 for a picture)"),
      fromTimeMs: z.number().int().optional().describe("Where in the searched video that frame is"),
      quality: z.number().int(),
      distance: z.number().int().describe('Nearest distance between any frame of the two'),
      files: z.array(z.object({ fileId: z.string(), caseId: z.string(), evidenceId: z.string(), path: z.string() })),
    }),
  ),
});
