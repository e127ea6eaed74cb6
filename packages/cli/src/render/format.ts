import stringWidth from 'string-width';

/** Small text helpers shared by the renderers. Pure functions: easy to test. */

const UNITS = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB'];

export function formatBytes(bytes: number): string {
  if (!Number.isFinite(bytes) || bytes < 0) return '?';
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < UNITS.length - 1) {
    value /= 1024;
    unit++;
  }
  return unit === 0 ? `${bytes} B` : `${value.toFixed(1)} ${UNITS[unit]}`;
}

/** Exact byte counts matter in court; thousands separators make them readable. */
export function formatCount(n: number): string {
  return n.toLocaleString('en-GB');
}

export function formatRate(bytesPerSecond: number): string {
  return `${(bytesPerSecond / (1024 * 1024)).toFixed(1)} MiB/s`;
}

export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return '?';
  const s = Math.round(seconds);
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const sec = s % 60;
  return h > 0 ? `${h}h${String(m).padStart(2, '0')}m` : m > 0 ? `${m}m${String(sec).padStart(2, '0')}s` : `${sec}s`;
}

/** Control characters in names read from evidence must not drive the terminal. */
export function printable(text: string): string {
  // eslint-disable-next-line no-control-regex
  return text.replace(/[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

/** Columns a string takes in a terminal: CJK and most emoji take two, combining marks none. */
export function displayWidth(text: string): number {
  return stringWidth(text);
}

const graphemeSegmenter = new Intl.Segmenter('en', { granularity: 'grapheme' });

/** Whole user-perceived characters, so a cut never splits a surrogate pair or an accent from its letter. */
function graphemes(text: string): string[] {
  return Array.from(graphemeSegmenter.segment(text), (g) => g.segment);
}

/** The longest start of text at most `width` columns wide. */
function headToWidth(text: string, width: number): string {
  let out = '';
  let used = 0;
  for (const g of graphemes(text)) {
    const w = displayWidth(g);
    if (used + w > width) break;
    out += g;
    used += w;
  }
  return out;
}

/** The longest end of text at most `width` columns wide. */
function tailToWidth(text: string, width: number): string {
  let out = '';
  let used = 0;
  const all = graphemes(text);
  for (let i = all.length - 1; i >= 0; i--) {
    const g = all[i] ?? '';
    const w = displayWidth(g);
    if (used + w > width) break;
    out = g + out;
    used += w;
  }
  return out;
}

function padTo(text: string, width: number, align: 'left' | 'right' = 'left'): string {
  const pad = ' '.repeat(Math.max(0, width - displayWidth(text)));
  return align === 'right' ? pad + text : text + pad;
}

/** Text cut to at most `max` columns, ending in an ellipsis when cut. */
export function truncate(text: string, max: number): string {
  if (displayWidth(text) <= max) return text;
  if (max <= 0) return '';
  return `${headToWidth(text, max - 1)}…`;
}

/**
 * Cut in the middle to at most `max` columns (always, when `force`, even if
 * it would fit), keeping the end (a file name's extension and last
 * characters) a little longer than the start.
 */
function ellipsizeMiddle(text: string, max: number, force = false): string {
  if (!force && displayWidth(text) <= max) return text;
  if (max <= 1) return max === 1 ? '…' : '';
  if (displayWidth(text) <= max - 1) return `…${text}`;
  const tail = tailToWidth(text, Math.ceil((max - 1) / 2));
  return `${headToWidth(text, max - 1 - displayWidth(tail))}…${tail}`;
}

/**
 * A path cut to at most `max` columns so that the file name survives: the
 * start of the path (which extraction, which archive), an ellipsis, as many
 * whole parent folders as fit, and the whole name, e.g.
 * `phone-extraction.zi…/WhatsApp Images/IMG-20250601-WA0001.jpg`. Only a name
 * too long on its own is cut, in its middle, keeping its extension.
 */
export function ellipsizePath(path: string, max: number): string {
  if (displayWidth(path) <= max) return path;
  // A directory's trailing slash is kept; its last component is then the name.
  if (path.endsWith('/') && path.length > 1) return `${ellipsizePath(path.slice(0, -1), max - 1)}/`;
  const cut = path.lastIndexOf('/');
  const name = path.slice(cut + 1);
  if (cut < 0) return ellipsizeMiddle(name, max);
  // Room for the folders: what the name and the ellipsis leave.
  const room = max - displayWidth(name) - 1;
  if (room < 1) {
    // The name takes (nearly) all the room: it is cut too, and "…/" still says folders were left out.
    return max >= 6 ? `…/${ellipsizeMiddle(name, max - 2, true)}` : ellipsizeMiddle(name, max, true);
  }
  const folders = path.slice(0, cut + 1);
  // Whole trailing folders ("/WhatsApp Images/") while at least half the room stays for the start of the path.
  let tail = '/';
  for (let i = folders.lastIndexOf('/', folders.length - 2); i >= 0; i = folders.lastIndexOf('/', i - 1)) {
    const candidate = folders.slice(i);
    if (displayWidth(candidate) > Math.floor(room / 2)) break;
    tail = candidate;
    if (i === 0) break;
  }
  const head = headToWidth(folders.slice(0, folders.length - tail.length), room - displayWidth(tail));
  return `${head}…${tail}${name}`;
}

/** Text broken at spaces into lines at most `width` columns wide (a word wider than that is cut). */
export function wrapText(text: string, width = Number.POSITIVE_INFINITY): string {
  if (displayWidth(text) <= width) return text;
  const lines: string[] = [];
  let line = '';
  for (const word of text.split(' ')) {
    const next = line === '' ? word : `${line} ${word}`;
    if (displayWidth(next) <= width || line === '') line = next;
    else {
      lines.push(line);
      line = word;
    }
  }
  lines.push(line);
  return lines.map((l) => truncate(l, width)).join('\n');
}

export interface Column<T> {
  header: string;
  value: (row: T) => string;
  /** Widest the column gets whatever the room; longer cells are cut. */
  maxWidth?: number;
  align?: 'left' | 'right';
  /** Narrowest the column may be made to fit the table's width; without it the column is never narrowed. */
  minWidth?: number;
  /** How a cell too wide is cut: at its end (default), or in the middle keeping the file name (paths). */
  ellipsis?: 'end' | 'path';
  /** Optional columns with a lower priority are left out first; it also decides who gives up the odd leftover column (default 0). */
  priority?: number;
  /** May be left out when the table cannot fit its width otherwise. */
  optional?: boolean;
}

export interface TableOptions {
  /** Widest a line may be, in terminal columns; unlimited when absent. */
  width?: number;
}

export interface TableLayout {
  text: string;
  /** Headers of the optional columns left out to fit the width. */
  omitted: string[];
}

const GAP = 2;

/**
 * A plain-text table with a header row that fits `width`: every cell is made
 * printable; if the minimum widths cannot fit, optional columns are left out
 * (lowest priority first); then the columns are narrowed, never below their
 * minimum, each in proportion to what it can spare. No line is wider than
 * `width`.
 */
export function layoutTable<T>(rows: readonly T[], columns: ReadonlyArray<Column<T>>, options: TableOptions = {}): TableLayout {
  const limit = options.width === undefined || !Number.isFinite(options.width) ? Number.POSITIVE_INFINITY : Math.max(1, Math.floor(options.width));
  const cells = rows.map((row) => columns.map((c) => printable(c.value(row))));
  const natural = columns.map((c, i) => Math.min(c.maxWidth ?? Number.POSITIVE_INFINITY, Math.max(displayWidth(c.header), ...cells.map((r) => displayWidth(r[i] ?? '')))));
  const minimum = columns.map((c, i) => Math.min(c.minWidth ?? Number.POSITIVE_INFINITY, natural[i] ?? 0));
  // Lowest priority first; among equals, the rightmost first.
  const byNeed = columns.map((_, i) => i).sort((a, b) => (columns[a]?.priority ?? 0) - (columns[b]?.priority ?? 0) || b - a);
  const shown = new Set(columns.map((_, i) => i));
  const total = (widths: number[]) => [...shown].reduce((sum, i) => sum + (widths[i] ?? 0), 0) + GAP * Math.max(0, shown.size - 1);

  const omitted: number[] = [];
  for (const i of byNeed) {
    if (total(minimum) <= limit) break;
    if (columns[i]?.optional && shown.size > 1) {
      shown.delete(i);
      omitted.push(i);
    }
  }
  // Each shown column gives up width in proportion to what it can spare, so
  // a long path loses more than a short type; odd columns left over are
  // taken from the lowest priority first.
  const widths = [...natural];
  const excess = total(widths) - limit;
  if (excess > 0) {
    const slack = (i: number) => (shown.has(i) ? (widths[i] ?? 0) - (minimum[i] ?? 0) : 0);
    const spare = byNeed.reduce((sum, i) => sum + slack(i), 0);
    if (spare <= excess) {
      for (const i of shown) widths[i] = minimum[i] ?? 0;
      // Still too wide: the narrowable columns go below their minimum, lowest priority first (a cut cell beats a cut line).
      for (const i of byNeed) {
        const over = total(widths) - limit;
        if (over <= 0) break;
        if (shown.has(i) && columns[i]?.minWidth !== undefined) widths[i] = Math.max(1, (widths[i] ?? 0) - over);
      }
    } else {
      let left = excess;
      const share = byNeed.map((i) => [i, Math.floor((excess * slack(i)) / spare)] as const);
      for (const [i, cut] of share) {
        widths[i] = (widths[i] ?? 0) - cut;
        left -= cut;
      }
      for (const i of byNeed) {
        if (left <= 0) break;
        const cut = Math.min(left, slack(i));
        widths[i] = (widths[i] ?? 0) - cut;
        left -= cut;
      }
    }
  }

  const order = columns.map((_, i) => i).filter((i) => shown.has(i));
  const fit = (text: string, i: number) => {
    const w = widths[i] ?? 0;
    const cut = columns[i]?.ellipsis === 'path' ? ellipsizePath(text, w) : truncate(text, w);
    return padTo(cut, w, columns[i]?.align);
  };
  // The last resort when even the minimums do not fit: cut the line itself.
  const line = (values: string[]) => truncate(order.map((i, k) => fit(values[k] ?? '', i)).join(' '.repeat(GAP)).trimEnd(), limit);
  const text = [line(order.map((i) => columns[i]?.header ?? '')), ...cells.map((r) => line(order.map((i) => r[i] ?? '')))].join('\n');
  return { text, omitted: omitted.map((i) => columns[i]?.header ?? '') };
}

/** A plain-text table with a header row; see layoutTable. */
export function renderTable<T>(rows: readonly T[], columns: ReadonlyArray<Column<T>>, options: TableOptions = {}): string {
  return layoutTable(rows, columns, options).text;
}
