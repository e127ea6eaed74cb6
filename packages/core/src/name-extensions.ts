/**
 * The extensions a file's name gives it, as the extension-mismatch check
 * judges them. In core because identification (packages/media) decides the
 * mismatch with them and the index (packages/index) names them in the flag's
 * detail: the text must name the extension that was judged, not the last dot.
 */

const PROGRAM_EXTS = new Set(['elf', 'exe', 'macho']);

/**
 * The name's extension candidates, lower case: the last one and, for names
 * like `x.tar.gz`, the last two joined. A name without an extension (or a
 * dot file like `.profile`) has none.
 *
 * Trailing all-digit parts are versions and sequence numbers, not types
 * (`libz.so.1.2.13`, `image.dd.001`): the name's type is the extension before
 * them. When no extension is left before them, a single number is the name's only
 * extension and stays its candidate (`secret.001`, `setup.1`: a JPEG or an
 * executable under those names is a mismatch), unless it continues a short
 * number right after the stem's letters (`python3.10`: a version split at the
 * dot) AND the content is a program (`detectedExt` ELF, PE, Mach-O), where a
 * version in the name is plausible: a photo named `report2.1` or `DSC01.1`
 * is still judged on `.1`. Two or more numbers are a version (`kubectl.1.28`).
 * Scripts are text, which no name contradicts.
 */
export function nameExtensions(fileName: string, detectedExt?: string | null): string[] {
  const base = fileName.split(/[\\/]/).pop() ?? '';
  let parts = base.toLowerCase().split('.');
  let end = parts.length;
  while (end > 1 && /^[0-9]+$/.test(parts[end - 1]!)) end--;
  const extensionBefore = end >= 2 && !(end === 2 && parts[0] === '');
  // Two or more numbers are a version ('kubectl.1.28'); one continues a version when it follows a program's name
  // and number ('python3' + '10') in a program. A counter after a separator or a long number ('IMG_0001.7') is
  // neither, nor is a short one in anything else ('IMG2.7', 'DSC01.1' holding a JPEG).
  const programVersion = detectedExt != null && PROGRAM_EXTS.has(detectedExt) && /[a-z][0-9]{1,2}$/.test(parts[end - 1]!);
  const version = parts.length - end >= 2 || programVersion;
  if (extensionBefore || version) parts = parts.slice(0, end);
  if (parts.length < 2 || (parts.length === 2 && parts[0] === '')) return [];
  const last = parts[parts.length - 1] ?? '';
  if (last === '') return [];
  const out = [last];
  if (parts.length >= 3 && parts[parts.length - 2] !== '') out.push(`${parts[parts.length - 2]}.${last}`);
  return out;
}
