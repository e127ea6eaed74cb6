import { useVirtualizer } from '@tanstack/react-virtual';
import { useCallback, useEffect, useLayoutEffect, useMemo, useRef, useState, type KeyboardEvent } from 'react';
import type { Hit, SearchResult } from '../lib/api-types';
import { apiGet, enc } from '../lib/api';
import { filterParams, queryString, withParams } from '../lib/filters';
import { visibleControls } from '../lib/format';
import { Link, navigate, useLocation } from '../lib/router';
import { useThumbnail } from '../lib/thumbnails';
import { ErrorNote, useApi } from '../lib/use-api';
import { FilterBar } from './filter-bar';

const PAGE = 200;
const CELL_W = 176;
const CELL_H = 196;

/**
 * The thumbnail grid. Only the rows on screen (and a few around them) exist
 * in the page, and only their pages of results are fetched, so 100,000 files
 * scroll like 100. Arrows move, Enter opens, Escape goes back to the filters.
 */
export function GalleryScreen({ caseId }: { caseId: string }) {
  const { search } = useLocation();
  const query = filterParams(search);
  const queryKey = query.toString();
  const evidence = useApi<{ items: Array<{ evidenceId: string }> }>(`/cases/${enc(caseId)}/evidence`);

  const [total, setTotal] = useState<Total | null>(null);
  const [error, setError] = useState<Error | null>(null);
  const pages = useRef(new Map<number, Page | 'loading'>());
  const [, setVersion] = useState(0);
  const generation = useRef(0);

  const loadPage = useCallback(
    (page: number) => {
      if (pages.current.has(page)) return;
      pages.current.set(page, 'loading');
      const gen = generation.current;
      const q = new URLSearchParams(queryKey);
      q.set('limit', String(PAGE));
      // Scrolling on from the page before: its cursor (an index range however
      // deep). A page reached by a jump: its offset.
      const before = pages.current.get(page - 1);
      if (before && before !== 'loading' && before.next) q.set('cursor', before.next);
      else if (page > 0) q.set('offset', String(page * PAGE));
      apiGet<SearchResult>(`/cases/${enc(caseId)}/files?${q.toString()}`)
        .then((r) => {
          if (gen !== generation.current) return;
          pages.current.set(page, { items: r.items, next: r.nextCursor });
          setTotal((t) => mergeTotal(t, r, page * PAGE));
          setVersion((v) => v + 1);
        })
        .catch((e: unknown) => {
          if (gen !== generation.current) return;
          pages.current.delete(page);
          setError(e instanceof Error ? e : new Error(String(e)));
        });
    },
    [caseId, queryKey],
  );

  useEffect(() => {
    generation.current++;
    pages.current = new Map();
    setTotal(null);
    setError(null);
    loadPage(0);
  }, [loadPage]);

  const scrollRef = useRef<HTMLDivElement>(null);
  const [width, setWidth] = useState(1000);
  useLayoutEffect(() => {
    const el = scrollRef.current;
    if (!el) return;
    const ro = new ResizeObserver(() => setWidth(el.clientWidth));
    ro.observe(el);
    setWidth(el.clientWidth);
    return () => ro.disconnect();
  }, []);
  const columns = Math.max(1, Math.floor(width / CELL_W));
  // While the total is a lower bound, one cell past it: scrolling to it fetches the next page, which moves the bound on.
  const count = total ? total.n + (total.lowerBound ? 1 : 0) : 0;
  const rows = Math.ceil(count / columns);

  const virtualizer = useVirtualizer({ count: rows, getScrollElement: () => scrollRef.current, estimateSize: () => CELL_H, overscan: 3 });
  const virtualRows = virtualizer.getVirtualItems();
  // The rows on screen, without the overscan rows rendered around them: their thumbnails are fetched first.
  const onScreenRows = virtualizer.range;

  // Fetch the pages of what is on screen.
  useEffect(() => {
    if (virtualRows.length === 0) return;
    const first = virtualRows[0]!.index * columns;
    const last = Math.min(count - 1, (virtualRows[virtualRows.length - 1]!.index + 1) * columns - 1);
    for (let p = Math.floor(first / PAGE); p <= Math.floor(last / PAGE); p++) loadPage(p);
  });

  const hitAt = (i: number): Hit | undefined => {
    const page = pages.current.get(Math.floor(i / PAGE));
    return page && page !== 'loading' ? page.items[i % PAGE] : undefined;
  };

  // Keyboard: one cell is the tab stop (roving tabindex); arrows move it.
  const stateKey = `exhibit.gallery.${caseId}.${queryKey}`;
  const [active, setActive] = useState(() => Number(sessionStorage.getItem(stateKey) ?? 0) || 0);
  const focusPending = useRef(false);
  useEffect(() => {
    sessionStorage.setItem(stateKey, String(active));
  }, [active, stateKey]);
  useEffect(() => {
    if (total !== null && !total.lowerBound && active >= total.n) setActive(Math.max(0, total.n - 1));
  }, [total, active]);
  useEffect(() => {
    if (total && total.n > 0 && active > 0) virtualizer.scrollToIndex(Math.floor(active / columns), { align: 'center' });
    // Only on arrival (restores where the user was before opening a file).
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [total !== null]);
  useEffect(() => {
    if (!focusPending.current) return;
    const el = scrollRef.current?.querySelector<HTMLElement>(`[data-index="${active}"]`);
    if (el) {
      el.focus({ preventScroll: true });
      focusPending.current = false;
    }
  });

  const onKeyDown = (e: KeyboardEvent<HTMLDivElement>) => {
    if (count === 0) return;
    let next = active;
    if (e.key === 'ArrowRight') next = active + 1;
    else if (e.key === 'ArrowLeft') next = active - 1;
    else if (e.key === 'ArrowDown') next = active + columns;
    else if (e.key === 'ArrowUp') next = active - columns;
    else if (e.key === 'PageDown') next = active + columns * 4;
    else if (e.key === 'PageUp') next = active - columns * 4;
    else if (e.key === 'Home') next = 0;
    else if (e.key === 'End') next = count - 1;
    else if (e.key === 'Escape') {
      e.preventDefault();
      document.getElementById('filter-path')?.focus();
      return;
    } else return;
    e.preventDefault();
    next = Math.max(0, Math.min(count - 1, next));
    setActive(next);
    focusPending.current = true;
    virtualizer.scrollToIndex(Math.floor(next / columns), { align: 'auto' });
  };

  const sort = search.get('sort') ?? 'path';
  const order = search.get('order') ?? 'asc';
  const setSort = (changes: Record<string, string | null>) => navigate(`/cases/${enc(caseId)}/gallery${queryString(withParams(search, changes))}`, { replace: true });
  const evidenceIds = useMemo(() => evidence.data?.items.map((e) => e.evidenceId) ?? [], [evidence.data]);

  return (
    <section className="gallery-screen" aria-labelledby="gallery-title">
      <h1 id="gallery-title">Gallery</h1>
      <FilterBar evidenceIds={evidenceIds} />
      <div className="toolbar">
        <p aria-live="polite" data-testid="result-count">
          {total === null ? 'Searching…' : totalText(total)}
        </p>
        <label>
          Sort by{' '}
          <select name="sort" value={sort} onChange={(e) => setSort({ sort: e.target.value })}>
            <option value="path">path</option>
            <option value="name">name</option>
            <option value="takenAt">taken at</option>
            <option value="size">size</option>
            <option value="sha256">content (SHA-256: groups duplicates)</option>
            <option value="mime">type</option>
            <option value="added">when recorded</option>
          </select>
        </label>
        <label>
          Order{' '}
          <select name="order" value={order} onChange={(e) => setSort({ order: e.target.value })}>
            <option value="asc">ascending</option>
            <option value="desc">descending</option>
          </select>
        </label>
        <span className="hint">Arrows move · Enter opens · Escape returns to the filters</span>
      </div>
      <ErrorNote error={error} />
      <div ref={scrollRef} className="grid-scroll" onKeyDown={onKeyDown} role="region" aria-label="Thumbnails">
        <div style={{ height: virtualizer.getTotalSize(), position: 'relative', width: '100%' }} role="list">
          {virtualRows.map((row) => (
            <div key={row.key} className="grid-row" style={{ transform: `translateY(${row.start}px)`, height: CELL_H }}>
              {Array.from({ length: columns }, (_, c) => {
                const i = row.index * columns + c;
                if (i >= count) return null;
                const onScreen = !onScreenRows || (row.index >= onScreenRows.startIndex && row.index <= onScreenRows.endIndex);
                return <Cell key={i} caseId={caseId} index={i} hit={hitAt(i)} active={i === active} onScreen={onScreen} onFocus={() => setActive(i)} query={queryKey} />;
              })}
            </div>
          ))}
        </div>
      </div>
    </section>
  );
}

interface Page {
  items: Hit[];
  /** The cursor of the page after this one; null on the last page. */
  next: string | null;
}

/** Files matching; `lowerBound`: at least n (the API counts a filtered search up to 10,000). */
interface Total {
  n: number;
  lowerBound: boolean;
}

/**
 * What a page says about the total: an exact total stays; a lower bound rises
 * with every page seen past it, and the last page (no next) tells it exactly.
 */
function mergeTotal(t: Total | null, r: SearchResult, first: number): Total {
  if (t && !t.lowerBound) return t;
  if (!r.totalIsLowerBound) return { n: r.total, lowerBound: false };
  if (r.nextCursor === null) return { n: first + r.items.length, lowerBound: false };
  return { n: Math.max(t?.n ?? 0, r.total, first + r.items.length), lowerBound: true };
}

/** "1,234 files", or "10,000+ files" when only a lower bound is known. */
function totalText(t: Total): string {
  return `${t.n.toLocaleString('en')}${t.lowerBound ? '+' : ''} file${t.n === 1 && !t.lowerBound ? '' : 's'}`;
}

function Cell({
  caseId,
  index,
  hit,
  active,
  onScreen,
  onFocus,
  query,
}: {
  caseId: string;
  index: number;
  hit: Hit | undefined;
  active: boolean;
  onScreen: boolean;
  onFocus: () => void;
  query: string;
}) {
  const hasThumb = hit?.content?.thumbnailStatus === 'done';
  const url = useThumbnail(caseId, hit?.content?.sha256 ?? '', !!hit && hasThumb, onScreen);
  if (!hit) {
    return (
      <div className="cell placeholder" role="listitem" aria-label="loading">
        <div className="thumb" />
      </div>
    );
  }
  const { file, content } = hit;
  const failed = file.stage === 'failed';
  const mismatch = file.flags.includes('ext-mismatch');
  return (
    <div className="cell" role="listitem">
      <Link
        to={`/cases/${enc(caseId)}/files/${enc(file.fileId)}${query ? `?${query}` : ''}`}
        tabIndex={active ? 0 : -1}
        data-index={index}
        data-file-id={file.fileId}
        onFocus={onFocus}
        className={active ? 'cell-link active' : 'cell-link'}
      >
        <div className="thumb">
          {hasThumb && url ? (
            <img src={url} alt="" decoding="async" draggable={false} />
          ) : (
            <span className="kind">{hasThumb && url === undefined ? '…' : (content?.kind ?? file.entryKind)}</span>
          )}
        </div>
        <span className="name">{visibleControls(file.name)}</span>
        {/* The whole path for screen readers, after the visible name (which stays the start of the link's name). */}
        <span className="sr-only">, {visibleControls(file.path)}</span>
        <span className="badges">
          {failed && <span className="badge bad">failed</span>}
          {mismatch && <span className="badge warn">ext mismatch</span>}
          {content?.metadata?.gps && <span className="badge">GPS</span>}
        </span>
      </Link>
    </div>
  );
}
