import { useEffect, useRef, useState } from 'react';
import { apiBlob, enc } from './api';
import { takeNextThumbnail } from './thumbnail-queue';

/**
 * Thumbnails need the bearer token, which an <img src> cannot send: each is
 * fetched with it and shown from an object URL. A bounded cache keeps recent
 * ones (scrolling back is instant) and releases the rest; a bounded number of
 * fetches run at once, newest first, so a fast scroll does not queue hundreds
 * of requests for cells that are gone; cells on screen go before the rows
 * rendered around it (thumbnail-queue.ts).
 */
const MAX_CACHED = 1500;
const MAX_PARALLEL = 6;
const cache = new Map<string, string>();
const waiting: Array<{ key: string; path: string; resolve: (url: string | null) => void; cancelled: () => boolean; onScreen: () => boolean }> = [];
let running = 0;

function remember(key: string, url: string): void {
  cache.set(key, url);
  while (cache.size > MAX_CACHED) {
    const oldest = cache.keys().next().value as string;
    URL.revokeObjectURL(cache.get(oldest)!);
    cache.delete(oldest);
  }
}

function pump(): void {
  while (running < MAX_PARALLEL && waiting.length > 0) {
    const job = takeNextThumbnail(waiting)!;
    if (job.cancelled()) {
      job.resolve(null);
      continue;
    }
    const hit = cache.get(job.key);
    if (hit) {
      job.resolve(hit);
      continue;
    }
    running++;
    apiBlob(job.path)
      .then(({ blob }) => {
        const url = URL.createObjectURL(blob);
        remember(job.key, url);
        job.resolve(url);
      })
      .catch(() => job.resolve(null))
      .finally(() => {
        running--;
        pump();
      });
  }
}

/** The thumbnail of a content (by SHA-256): content-addressed, so the browser may cache it for good. */
export function useThumbnail(caseId: string, sha256: string, enabled: boolean, onScreen = true): string | null | undefined {
  const key = `${caseId}/${sha256}`;
  // Read when the request's turn comes: the cell may have scrolled onto the screen (or off it) since.
  const onScreenNow = useRef(onScreen);
  onScreenNow.current = onScreen;
  const [url, setUrl] = useState<string | null | undefined>(() => cache.get(key));
  useEffect(() => {
    if (!enabled) return;
    const hit = cache.get(key);
    if (hit) {
      setUrl(hit);
      return;
    }
    let gone = false;
    setUrl(undefined);
    waiting.push({ key, path: `/cases/${enc(caseId)}/contents/${enc(sha256)}/thumbnail`, resolve: (u) => !gone && setUrl(u), cancelled: () => gone, onScreen: () => onScreenNow.current });
    pump();
    return () => {
      gone = true;
    };
  }, [key, enabled, caseId, sha256]);
  return url;
}
