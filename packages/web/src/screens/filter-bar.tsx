import { useEffect, useState, type FormEvent } from 'react';
import { activeFilterCount, FILTER_KEYS, queryString, withParams } from '../lib/filters';
import { navigate, useLocation } from '../lib/router';

const KINDS = ['image', 'video', 'audio', 'archive', 'document', 'other'];
const STAGES = ['pending', 'identified', 'described', 'thumbnailed', 'indexed', 'failed'];

/**
 * Every search filter the API offers, in its own names. Applying it changes
 * the query string of the current screen (gallery, map or timeline), which is
 * what each of them searches with.
 */
export function FilterBar({ evidenceIds = [] }: { evidenceIds?: string[] }) {
  const { pathname, search } = useLocation();
  const [draft, setDraft] = useState<Record<string, string>>(() => Object.fromEntries(FILTER_KEYS.map((k) => [k, search.get(k) ?? ''])));
  const key = search.toString();
  useEffect(() => {
    setDraft(Object.fromEntries(FILTER_KEYS.map((k) => [k, search.get(k) ?? ''])));
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [key]);

  const set = (k: string) => (e: { target: { value: string } }) => setDraft((d) => ({ ...d, [k]: e.target.value }));
  const apply = (e: FormEvent) => {
    e.preventDefault();
    const changes: Record<string, string | null> = {};
    for (const k of FILTER_KEYS) changes[k] = draft[k]?.trim() ? toApi(k, draft[k]!.trim()) : null;
    navigate(pathname + queryString(withParams(search, changes)));
  };
  const clear = () => navigate(pathname + queryString(withParams(search, Object.fromEntries(FILTER_KEYS.map((k) => [k, null])))));
  const active = activeFilterCount(search);

  return (
    <form className="filters" onSubmit={apply} role="search" aria-label="Filter the files of this case">
      <label>
        Path contains <input id="filter-path" name="path" value={draft.path} onChange={set('path')} />
      </label>
      <label>
        Kind{' '}
        <select name="kind" value={draft.kind} onChange={set('kind')}>
          <option value="">any</option>
          {KINDS.map((k) => (
            <option key={k}>{k}</option>
          ))}
        </select>
      </label>
      {evidenceIds.length > 1 && (
        <label>
          Evidence{' '}
          <select name="evidenceId" value={draft.evidenceId} onChange={set('evidenceId')}>
            <option value="">all</option>
            {evidenceIds.map((k) => (
              <option key={k}>{k}</option>
            ))}
          </select>
        </label>
      )}
      <label>
        MIME type <input name="mime" value={draft.mime} onChange={set('mime')} placeholder="image/jpeg" size={12} />
      </label>
      <label>
        Taken from <input name="takenFrom" type="datetime-local" step="1" value={fromApiTime(draft.takenFrom!)} onChange={set('takenFrom')} />
      </label>
      <label>
        Taken to <input name="takenTo" type="datetime-local" step="1" value={fromApiTime(draft.takenTo!)} onChange={set('takenTo')} />
      </label>
      <label>
        Make <input name="make" value={draft.make} onChange={set('make')} size={10} />
      </label>
      <label>
        Model <input name="model" value={draft.model} onChange={set('model')} size={10} />
      </label>
      <label>
        GPS{' '}
        <select name="hasGps" value={draft.hasGps} onChange={set('hasGps')}>
          <option value="">any</option>
          <option value="true">with GPS</option>
          <option value="false">without GPS</option>
        </select>
      </label>
      <label>
        Box (W,S,E,N) <input name="bbox" value={draft.bbox} onChange={set('bbox')} size={16} placeholder="minLon,minLat,maxLon,maxLat" />
      </label>
      <label>
        Hash <input name="hash" value={draft.hash} onChange={set('hash')} size={16} placeholder="SHA-256, SHA-1 or MD5" />
      </label>
      <label>
        Extension mismatch{' '}
        <select name="extMismatch" value={draft.extMismatch} onChange={set('extMismatch')}>
          <option value="">any</option>
          <option value="true">only mismatches</option>
          <option value="false">none</option>
        </select>
      </label>
      <label>
        Stage{' '}
        <select name="stage" value={draft.stage} onChange={set('stage')}>
          <option value="">any</option>
          {STAGES.map((k) => (
            <option key={k} value={k}>
              {k === 'failed' ? 'failed' : k}
            </option>
          ))}
        </select>
      </label>
      <label>
        Taken (as recorded) from <input name="takenLocalFrom" value={draft.takenLocalFrom} onChange={set('takenLocalFrom')} size={16} placeholder="YYYY-MM-DDTHH:MM" />
      </label>
      <label>
        to <input name="takenLocalTo" value={draft.takenLocalTo} onChange={set('takenLocalTo')} size={16} placeholder="YYYY-MM-DDTHH:MM" />
      </label>
      <label>
        Time offset{' '}
        <select name="takenOffset" value={draft.takenOffset} onChange={set('takenOffset')}>
          <option value="">any</option>
          <option value="recorded">recorded</option>
          <option value="missing">no offset recorded</option>
        </select>
      </label>
      <label>
        Duplicates{' '}
        <select name="duplicates" value={draft.duplicates} onChange={set('duplicates')}>
          <option value="">show all</option>
          <option value="only">only duplicated content</option>
          <option value="collapse">one per content (grouped)</option>
        </select>
      </label>
      <label>
        Tag <input name="tag" value={draft.tag} onChange={set('tag')} size={10} />
      </label>
      <label>
        Bookmarked{' '}
        <select name="tagged" value={draft.tagged} onChange={set('tagged')}>
          <option value="">any</option>
          <option value="true">bookmarked</option>
          <option value="false">not bookmarked</option>
        </select>
      </label>
      <button type="submit">Apply filters</button>
      <button type="button" onClick={clear} disabled={active === 0}>
        Clear ({active})
      </button>
    </form>
  );
}

/** datetime-local gives "2024-05-01T10:00" (no zone): sent as written, compared with times as recorded. */
function toApi(k: string, v: string): string {
  if ((k === 'takenFrom' || k === 'takenTo') && /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}$/.test(v)) return `${v}:00`;
  return v;
}

function fromApiTime(v: string): string {
  return v.replace(/Z$/, '').replace(/\.\d+$/, '').slice(0, 19);
}
