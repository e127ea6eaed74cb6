import { useCallback, useEffect, useState } from 'react';
import { apiGet, ApiError } from './api';

export interface Loaded<T> {
  data: T | null;
  error: ApiError | Error | null;
  loading: boolean;
  reload: () => void;
}

/** GET a route, again whenever `path` changes (null: nothing yet); optional polling while `pollMs` is set. */
export function useApi<T>(path: string | null, options: { pollMs?: number | null; pollWhile?: (data: T) => boolean; key?: string } = {}): Loaded<T> {
  const [state, setState] = useState<{ data: T | null; error: Error | null; loading: boolean }>({ data: null, error: null, loading: path !== null });
  const [tick, setTick] = useState(0);
  const reload = useCallback(() => setTick((t) => t + 1), []);
  useEffect(() => {
    if (path === null) return;
    const abort = new AbortController();
    setState((s) => ({ ...s, loading: true }));
    apiGet<T>(path, abort.signal)
      .then((data) => setState({ data, error: null, loading: false }))
      .catch((error: unknown) => {
        if (abort.signal.aborted) return;
        setState((s) => ({ data: s.data, error: error instanceof Error ? error : new Error(String(error)), loading: false }));
      });
    return () => abort.abort();
  }, [path, tick, options.key]);
  const polling = !!options.pollMs && path !== null && !(state.data !== null && options.pollWhile && !options.pollWhile(state.data));
  useEffect(() => {
    if (!polling || !options.pollMs) return;
    const t = setInterval(reload, options.pollMs);
    return () => clearInterval(t);
  }, [options.pollMs, polling, reload]);
  return { ...state, reload };
}

export function ErrorNote({ error }: { error: Error | null }) {
  if (!error) return null;
  const notFound = error instanceof ApiError && error.status === 404;
  return (
    <p role="alert" className="error">
      {notFound ? 'Not found (or you are not assigned to it).' : error.message}
    </p>
  );
}
