import { useRef, useState } from 'react';
import { apiGet, ApiError, enc } from '../lib/api';
import { afterCanPlay, afterUserStart, decideRenewal, initialRenewalState, type RenewalState } from '../lib/playback-renewal';

/** GET …/playback-link: a ticket URL for this one file, served inline as `contentType`. */
interface PlaybackLink {
  url: string;
  expiresAt: string;
  contentType: string;
  kind: 'video' | 'audio';
}

type Problem =
  /** The API will not serve it for playback (not video/audio of a playable type): download only. */
  | { kind: 'refused'; message: string }
  /** The browser cannot decode it (a codec it lacks), or decodes the sound of a video but not its picture. */
  | { kind: 'unplayable'; pictureOnly?: boolean }
  | { kind: 'failed'; message: string };

/**
 * Plays a video or sound of the evidence in the page.
 *
 * Nothing is fetched until the user asks: every part the player fetches is
 * a 'download' in custody, so opening a file's page must not fetch any.
 *
 * A <video src> cannot send the Authorization header, so the src is a
 * playback link (a ticket for this one file, about 10 minutes; never the
 * token). A player keeps fetching parts as it plays and seeks, so a long
 * look outlives the ticket: when a fetch fails the app asks for a new link
 * and resumes at the same time, playing if it was. The ticket stays short
 * (a URL can end up in history or a proxy's log) and each fetch is still
 * checked against the user's assignment. One new link per failure: when the
 * player fails again without having played anything since, the format is
 * what it cannot play, and it says so instead of showing a broken player.
 */

export function MediaPlayer({ caseId, fileId, name, mime }: { caseId: string; fileId: string; name: string; mime: string | null }) {
  const [link, setLink] = useState<PlaybackLink | null>(null);
  const [problem, setProblem] = useState<Problem | null>(null);
  const [busy, setBusy] = useState(false);
  const media = useRef<HTMLVideoElement & HTMLAudioElement>(null);
  /** Where to pick up after a new link, and whether it was playing. */
  const resume = useRef<{ timeSec: number; playing: boolean } | null>(null);
  /** New links asked for since the player last could play, and when each recent one was (lib/playback-renewal.ts). */
  const renewal = useRef<RenewalState>(initialRenewalState());

  const fetchLink = () => apiGet<PlaybackLink>(`/cases/${enc(caseId)}/files/${enc(fileId)}/playback-link`);
  const explain = (e: unknown): Problem =>
    e instanceof ApiError && e.status === 409 ? { kind: 'refused', message: e.message } : { kind: 'failed', message: e instanceof Error ? e.message : String(e) };

  const start = async () => {
    setBusy(true);
    setProblem(null);
    renewal.current = afterUserStart(renewal.current);
    try {
      setLink(await fetchLink());
    } catch (e) {
      setProblem(explain(e));
    } finally {
      setBusy(false);
    }
  };

  const onError = async () => {
    const el = media.current;
    if (!el) return;
    const code = el.error?.code;
    const decision = decideRenewal(renewal.current, Date.now());
    renewal.current = decision.next;
    if (!decision.renew) {
      setLink(null);
      setProblem(code === 2 /* MEDIA_ERR_NETWORK */ ? { kind: 'failed', message: 'the file could not be fetched' } : { kind: 'unplayable' });
      return;
    }
    const playing = !el.paused;
    try {
      const renewed = await fetchLink();
      // Read when the new link is in, not when the fetch failed: currentTime is where the player was, or where the
      // user seeked to since (a failed fetch may be the player's own reading ahead, before the seek that matters).
      resume.current = { timeSec: el.currentTime, playing };
      setLink(renewed);
    } catch (e) {
      setLink(null);
      setProblem(explain(e));
    }
  };

  const onLoadedMetadata = () => {
    const el = media.current;
    const at = resume.current;
    if (!el || !at) return;
    resume.current = null;
    el.currentTime = at.timeSec;
    if (at.playing) void el.play().catch(() => undefined);
  };

  if (problem?.kind === 'refused') {
    return (
      <p className="hint" data-testid="player-refused">
        Not playable here: {problem.message}
      </p>
    );
  }
  if (problem?.kind === 'unplayable') {
    return (
      <p role="status" data-testid="player-unplayable">
        This browser cannot {problem.pictureOnly ? "show this video's picture" : 'play this file'}
        {mime ? ` (${mime})` : ''}. Download the original to view it.
      </p>
    );
  }
  if (!link) {
    return (
      <p>
        <button type="button" onClick={() => void start()} disabled={busy}>
          Play {name}
        </button>{' '}
        <span className="hint">(each part played is recorded in custody)</span>
        {problem?.kind === 'failed' && (
          <span role="alert" className="error">
            {' '}
            Playback failed: {problem.message}
          </span>
        )}
      </p>
    );
  }
  const common = {
    ref: media,
    src: link.url,
    controls: true,
    preload: 'metadata' as const,
    'data-testid': 'media-player',
    'data-content-type': link.contentType,
    'aria-label': `Playback of ${name}`,
    onError: () => void onError(),
    onLoadedMetadata,
    onLoadedData: () => {
      // Chromium plays the sound of a video whose picture codec it lacks, showing nothing: say so instead.
      const el = media.current;
      if (link.kind === 'video' && el && el.videoWidth === 0) {
        el.removeAttribute('src');
        setLink(null);
        setProblem({ kind: 'unplayable', pictureOnly: true });
      }
    },
    onCanPlay: () => {
      renewal.current = afterCanPlay(renewal.current);
    },
  };
  return link.kind === 'video' ? <video {...common} className="media-player" /> : <audio {...common} className="media-player" />;
}
