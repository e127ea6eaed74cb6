import { nameExtensions, type FileKind } from '@exhibit/core';

/**
 * Extensions that fit a detected type, keyed by file-type's `ext`. A type not
 * listed here fits only its own extension.
 */
const FITTING_EXTENSIONS: Record<string, readonly string[]> = {
  jpg: ['jpg', 'jpeg', 'jpe', 'jfif', 'jfi', 'jif'],
  tif: ['tif', 'tiff'],
  heic: ['heic', 'heif', 'hif', 'heics', 'heifs'],
  avif: ['avif', 'avifs'],
  png: ['png'],
  apng: ['apng', 'png'],
  gif: ['gif'],
  webp: ['webp'],
  bmp: ['bmp', 'dib'],
  ico: ['ico'],
  jp2: ['jp2', 'j2k', 'jpf', 'jpg2'],
  jpx: ['jpx', 'jpf'],
  mov: ['mov', 'qt'],
  // Android's recorders write voice notes as MP4 ('isom'/'mp42', not 'M4A ') under .m4a. Their tracks make them
  // m4a now (iso-bmff-tracks.ts), but .m4a must still fit mp4 here: a content identified before that keeps its stored
  // mp4 (identify runs once per SHA-256, across cases), and a recording cut before its moov keeps the brand's mp4.
  // A .m4a holding video is flagged by its tracks instead, read from the bytes at the identify step
  // (soundNameOfMovie, FileTypeIdentifier.extensionContradicted), never from what a row stored.
  mp4: ['mp4', 'm4v', 'mp4v', 'mpg4', 'm4a'],
  m4v: ['m4v', 'mp4'],
  m4a: ['m4a', 'm4b', 'm4p', 'mp4'],
  // Samsung's recorders name 3GP audio .3ga.
  '3gp': ['3gp', '3gpp', '3ga'],
  '3g2': ['3g2', '3gpp2', '3gp2'],
  mkv: ['mkv', 'mka', 'mks', 'mk3d'],
  mpg: ['mpg', 'mpeg', 'mpe', 'm1v', 'm2v', 'vob'],
  mts: ['mts', 'm2ts', 'ts', 'm2t', 'tod'],
  asf: ['asf', 'wmv', 'wma'],
  avi: ['avi'],
  // file-type (and libmagic: "ATSC A/52 aka AC-3") name E-AC-3 ac3 too: the same 0B 77 sync word.
  ac3: ['ac3', 'eac3', 'ec3'],
  wav: ['wav', 'wave', 'rf64', 'bw64'],
  caf: ['caf', 'caff'],
  aif: ['aif', 'aiff', 'aifc'],
  ogg: ['ogg', 'oga'],
  ogv: ['ogv', 'ogg'],
  oga: ['oga', 'ogg'],
  // Telegram's voice messages are Ogg Opus named .oga.
  opus: ['opus', 'ogg', 'oga'],
  mp3: ['mp3', 'mpga'],
  gz: ['gz', 'gzip'],
  'tar.gz': ['tar.gz', 'tgz', 'taz', 'gz'],
  bz2: ['bz2', 'bzip2', 'tbz', 'tbz2'],
  xz: ['xz', 'txz'],
  zst: ['zst', 'zstd', 'tzst'],
  // ZIP under the names of formats that are plain ZIPs by their specifications (wheels, eggs, NumPy archives, Java and Android packages file-type did not place).
  zip: ['zip', 'zipx', 'cbz', 'kmz', 'whl', 'egg', 'npz', 'jar', 'war', 'ear', 'aar', 'apk', 'xpi', 'ipa', 'nupkg'],
  jar: ['jar', 'war', 'ear', 'aar'],
  rar: ['rar', 'cbr'],
  '7z': ['7z', 'cb7'],
  tar: ['tar', 'cbt'],
  // Compound File Binary: legacy Office, Outlook, installers, thumbnail caches.
  cfb: ['cfb', 'doc', 'dot', 'xls', 'xlt', 'ppt', 'pot', 'pps', 'msg', 'msi', 'msp', 'vsd', 'pub', 'db'],
  exe: ['exe', 'dll', 'sys', 'scr', 'cpl', 'ocx', 'drv', 'efi', 'mui', 'com'],
  // ELF also as Node.js addons (.node) and separate debug files (.debug, /usr/lib/debug).
  elf: ['elf', 'so', 'o', 'ko', 'bin', 'axf', 'prx', 'out', 'node', 'debug'],
  // Static libraries: Unix `ar` archives (.a, Rust .rlib, Windows import/static .lib).
  ar: ['ar', 'a', 'rlib', 'lib'],
  sqlite: ['sqlite', 'sqlite3', 'db', 'db3', 's3db', 'sl3', 'sqlitedb', 'storedata'],
  'sqlite-wal': ['db-wal', 'sqlite-wal', 'sqlite3-wal', 'sqlitedb-wal', 'storedata-wal', 'wal'],
  pdf: ['pdf', 'ai'],
  // Type 1 fonts in ASCII form (.pfa) are PostScript programs that start `%!PS-AdobeFont`.
  ps: ['ps', 'eps', 'pfa'],
  eps: ['eps', 'ps', 'epsf'],
  mobi: ['mobi', 'prc', 'azw'],
  ttc: ['ttc', 'otc'],
  // Binary property lists also carry the names of what Apple stores in them: web archives, compiled .strings and .nib files.
  plist: ['plist', 'bplist', 'webarchive', 'strings', 'nib'],
  // Disk images (disk-image-sniff.ts): EWF segments, VHD, and raw images under their usual names.
  e01: ['e01', 'ewf'],
  ex01: ['ex01'],
  l01: ['l01'],
  lx01: ['lx01'],
  vhd: ['vhd'],
  vhdx: ['vhdx'],
  img: ['img', 'dd', 'raw', 'bin', 'ima', 'dsk', '001'],
};

/** Types too generic for a name to contradict (many formats are XML or plain text). */
const NEVER_MISMATCH = new Set(['xml', 'txt']);

export function fittingExtensions(detectedExt: string): readonly string[] {
  return FITTING_EXTENSIONS[detectedExt] ?? [detectedExt];
}

/**
 * True when the name has an extension and none of its candidates fits the
 * detected type. No detected type, or no extension at all, is not a mismatch:
 * there is nothing to contradict (extension-less files are common on phones).
 */
export function isExtensionMismatch(fileName: string, detectedExt: string | null): boolean {
  if (!detectedExt || NEVER_MISMATCH.has(detectedExt)) return false;
  const candidates = nameExtensions(fileName, detectedExt);
  if (candidates.length === 0) return false;
  const fits = fittingExtensions(detectedExt);
  return !candidates.some((c) => fits.includes(c));
}

/** Sound-only names mp4 fits (FITTING_EXTENSIONS) that its tracks may contradict. */
const SOUND_NAMES_OF_MP4: ReadonlySet<string> = new Set(['m4a']);

/**
 * True when the name fits the detected mp4 only as a sound-only name (.m4a, none of mp4's movie names):
 * then whether the tracks hold video decides the extension check (FileTypeIdentifier.extensionContradicted).
 */
export function soundNameOfMovie(fileName: string, detectedExt: string | null): boolean {
  if (detectedExt !== 'mp4') return false;
  const candidates = nameExtensions(fileName, detectedExt);
  const fits = fittingExtensions(detectedExt);
  const fitting = candidates.filter((c) => fits.includes(c));
  return fitting.length > 0 && fitting.every((c) => SOUND_NAMES_OF_MP4.has(c));
}

const ARCHIVE_EXTS = new Set([
  'zip', 'tar', 'tar.gz', 'gz', 'bz2', '7z', 'rar', 'xz', 'zst', 'lz4', 'lzh', 'Z', 'lz', 'cab', 'cpio', 'ar', 'arj', 'ace',
  'deb', 'rpm', 'jar', 'apk', 'xpi', 'crx', 'asar',
  // Disk images are unpacked into their files like archives (docs/disk-images.md).
  'e01', 'ex01', 'l01', 'lx01', 'vhd', 'vhdx', 'img',
]);

/**
 * Zip-based office and e-book formats are documents, not archives: we do not
 * unpack them (IPED does, to reach embedded media; that can come later). Java
 * and Android packages are plain zips to an examiner and are unpacked.
 */
const DOCUMENT_EXTS = new Set([
  'txt', 'pdf', 'rtf', 'epub', 'mobi', 'ps', 'eps', 'chm', 'cfb', 'xml', 'ics', 'vcf', 'vtt', 'pst',
  'docx', 'docm', 'dotx', 'dotm', 'xlsx', 'xlsm', 'xltx', 'xltm', 'pptx', 'pptm', 'potx', 'potm', 'ppsx', 'ppsm',
  'odt', 'ods', 'odp', 'odg', 'ott', 'ots', 'otp', 'otg', 'vsdx', '3mf',
]);

export function kindOf(detectedExt: string | null, mime: string | null): FileKind {
  if (!detectedExt || !mime) return 'other';
  if (ARCHIVE_EXTS.has(detectedExt)) return 'archive';
  if (DOCUMENT_EXTS.has(detectedExt)) return 'document';
  if (mime.startsWith('image/')) return 'image';
  if (mime.startsWith('video/')) return 'video';
  if (mime.startsWith('audio/')) return 'audio';
  return 'other';
}
