/**
 * Limits specific to the media adapters, next to the shared LIMITS in
 * @exhibit/core. Every size a tool or a file can make us hold is capped here.
 */
export const MEDIA_LIMITS = {
  /** A thumbnail needs the whole image in memory; larger images fail with 'limit-exceeded'. */
  maxImageSourceBytes: 256 * 1024 * 1024,
  /** Bytes read per ranged request when loading a whole image. */
  imageReadChunkBytes: 8 * 1024 * 1024,
  /** First and follow-up ranged reads while exifr looks for metadata. */
  metadataChunkBytes: 64 * 1024,
  /**
   * RIFF chunks walked looking for a WebP's EXIF chunk (in the parser thread,
   * read in metadataChunkBytes windows). A still image has two to five; EXIF
   * comes after all frames of an animation. Reaching it is metadata-partial.
   */
  maxWebpChunks: 16384,
  /**
   * Box headers read in all when an ISO-BMFF/QuickTime file's tracks are walked
   * in identification (identify/iso-bmff-tracks.ts: is it a movie, is it sound
   * alone). A real file has a few top-level boxes and a handful per track; past
   * this (a crafted moov of thousands of tracks) the tracks are unknown and the
   * brand's answer stands.
   */
  maxTrackWalkBoxes: 512,
  /**
   * Sample descriptions (`stsd` entries) read of a video track in that walk, under an audio brand only (a real
   * track has one): the entries after these are not read, and give no evidence of motion video.
   */
  maxTrackSampleEntries: 8,
  /**
   * A `moov` up to this size is fetched with one read and walked in memory (a
   * short movie's or a voice memo's is a few KiB); a larger one (a long video's
   * sample tables) is walked by ranged reads of its box headers alone.
   */
  moovWholeReadBytes: 64 * 1024,
  /**
   * Box headers read in all looking for a QuickTime/MP4 video's XMP packets
   * (metadata/video-xmp.reader.ts: top-level `uuid`, `moov/udta/XMP_` and each
   * `trak`'s `udta/XMP_`). A camera or editor file has tens; a fragmented MP4's
   * walk ends at its first moof. Past this the walk stops, the rest is not
   * looked at, and no XMP date is kept (a `metadata-partial` note).
   */
  maxVideoXmpBoxes: 1024,
  /** XMP packets read of one video; a file with more has its XMP dates absent (a note says why). */
  maxVideoXmpPackets: 4,
  /**
   * Bytes of one video XMP packet read and parsed. Premiere's packets with
   * history and ingredients are tens of KiB; a larger packet is not read (its
   * dates absent, a note says why) rather than held and parsed whole.
   */
  maxVideoXmpBytes: 1024 * 1024,
  /**
   * Element nesting in an XMP packet: a clip's own properties are four deep
   * (x:xmpmeta/rdf:RDF/rdf:Description/property); history and ingredient
   * structures a dozen. Deeper, the packet is refused (dates absent).
   */
  maxXmpDepth: 64,
  /**
   * Attributes (namespace declarations included) on one element of an XMP
   * packet. A Description written in attribute form has a few hundred at
   * most; sax checks each against those before it, so a tag of 40,000 took
   * 2.3 s. Past this the packet is refused (dates absent).
   */
  maxXmpAttributes: 1024,
  /**
   * ID3v2 frames at the start of an audio file before ffprobe is run on it
   * (metadata/id3-frames.ts). ffprobe's time grows faster than the count
   * (10,000 frames took 3 s, 30,000 took 60 s; 200,000 ran to the 120 s tool
   * timeout, a retryable fault, five times over). A real tag has tens of
   * frames, a podcast's chapters a few hundred. Past this the metadata fails
   * `limit-exceeded` (no retry) without running ffprobe.
   */
  maxId3Frames: 4096,
  /**
   * Chunk headers of a WAV (RIFF/RF64/BW64) or AIFF walked for the ID3 chunks
   * ffmpeg reads (metadata/id3-frames.ts), each header in a ranged read of
   * 4 KiB (runs of zeros are skipped in reads that double up to 1 MiB).
   * A real file's chunk list has a handful (fmt, data, LIST, bext, iXML, id3,
   * cue …), but ffmpeg also walks what follows it as chunks: slack after a
   * carved file, a recorder's pre-allocation, samples past a stale data size.
   * All-zero headers (size-0 chunks of no name, never an ID3 chunk) are not
   * counted here but by maxId3ContainerZeroBytes; random samples read as sizes
   * jump far. Past this count of non-zero headers (a crafted run of tiny
   * chunks) the rest is unknown, and the metadata fails `limit-exceeded`
   * without running ffprobe. Known cost (rare, accepted): 8-byte-stride
   * samples with zero high words after a carved WAV (4,000 small int64
   * values) read as thousands of size-0 chunks and fail here, though ffprobe
   * reads that file in 0.3 s.
   */
  maxId3ContainerChunks: 1024,
  /**
   * Bytes of all-zero chunk headers skipped in that walk. ffmpeg steps
   * through them as size-0 chunks, 8 bytes a step, at ~4 MiB/s (measured:
   * a WAV + 32 MiB of zeros took ffprobe 8.2 s, + 255 MiB 61 s, + 300 MiB
   * 83 s on a loaded machine, near the 120 s tool timeout that is retried as
   * a fault): this is sized for ffprobe (16 MiB ~ 4 s), not for our counter
   * (wav-zero-run-lets-ffprobe-step-for-a-minute). Cluster slack is at most
   * 128 KiB, a recorder's pre-allocation or silence past a halved data size a
   * few MiB; past this the metadata fails `limit-exceeded` without ffprobe.
   */
  maxId3ContainerZeroBytes: 16 * 1024 * 1024,
  /** ffprobe JSON output; a crafted file with thousands of streams must not exhaust memory. */
  maxProbeOutputBytes: 4 * 1024 * 1024,
  /** One contact-sheet frame (PNG on stdout). */
  maxFrameOutputBytes: 16 * 1024 * 1024,
  /** Tail of a tool's stderr kept for error messages. */
  maxStderrBytes: 16 * 1024,
  /** `-version` runs while resolving tools. */
  versionProbeTimeoutMs: 15_000,
  /** Network stall inside ffmpeg/ffprobe before the read fails (the overall timeout still applies). */
  networkStallTimeoutMs: 30_000,
  /** The JSON dump kept in MediaMetadata.raw. */
  maxRawMetadataBytes: 32 * 1024,
  /** Longest string kept in the raw dump. */
  maxRawStringChars: 2048,
  /** Byte arrays up to this size are kept (base64) in the raw dump; longer ones only by length. */
  maxRawBytesInline: 256,
  /**
   * One HEIC decode in its worker thread (a 12-MP photo takes under a second,
   * a 67-MP one under two); past this the thread is stopped and the file fails
   * with 'limit-exceeded', so a crafted file cannot hold a decoder thread for ever.
   */
  heicDecodeTimeoutMs: 60_000,
  /**
   * libheif's wasm heap grows to the largest image decoded and never shrinks
   * (~120 MB held after 12 MP, ~540 MB after 67 MP): a decoder thread that
   * decoded more pixels than this (a 24-MP photo is kept) is replaced.
   */
  heicThreadKeepMaxPixels: 25_000_000,
  /**
   * Parser threads (exifr, file-type; sandbox/parse.pool.ts). Parsing metadata
   * is light next to decoding, and the main thread waits on storage for most
   * of it, so two are enough on any machine.
   */
  parseThreads: 2,
  /**
   * One parse's own time in its thread (waits for the main thread's reads are
   * not counted). exifr reads a camera file's metadata in milliseconds and
   * 16 MiB of TIFF directories in well under a second; past this the thread is
   * stopped and the file fails with 'parse-timeout'. Wall-clock time of a
   * thread that runs nothing else: near enough to CPU time, and the machine's
   * load cannot bring a sound file anywhere close.
   */
  parseTimeoutMs: 30_000,
  /** V8 old-generation heap of a parser thread; past it the thread dies and the file fails with 'parse-crashed'. */
  parseThreadHeapMb: 96,
  /** V8 young-generation heap of a parser thread. */
  parseThreadYoungHeapMb: 16,
  /**
   * Values (array items, tags; long strings and byte arrays count one per 64
   * characters or bytes) of the parse result a parser thread hands to the main
   * thread; more and the file fails with 'limit-exceeded'. A camera file has
   * a few hundred.
   */
  maxParsedValues: 1_000_000,
  /** A parser or HEIC decoder thread that has not loaded its parsers (libheif) by then is a fault of the machine ('tool-unavailable', retried). */
  parseThreadStartTimeoutMs: 60_000,
  /** Thumbnail JPEG quality; part of the recipe name. */
  thumbnailJpegQuality: 80,
  /**
   * Least time between two contact-sheet frames: a clip shorter than
   * frames × this gets fewer frames (a 0.2 s clip one, a 1 s clip three), not nine seeks that
   * mostly land past its last frame.
   */
  contactSheetMinFrameSpacingSec: 0.3,
  /**
   * Longest time or duration (seconds) a contact sheet is planned on: a year, beyond any recording.
   * A crafted start_time of 1e22 would be written `1e+22`, which ffmpeg's -ss refuses; such
   * values are no times (planFrameTimes).
   */
  maxMediaTimeSec: 366 * 24 * 3600,
  /** Columns of the video contact sheet. */
  contactSheetColumns: 3,
  /**
   * Contact sheets made at once per process. Each runs one decoder per frame
   * (~160 MB for 720p, ~400 MB for 4K), so several at once would break the
   * host's memory bound, and on a few cores they gain nothing.
   */
  maxConcurrentContactSheets: 1,
} as const;
