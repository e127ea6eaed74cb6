import { useRef, useState, type PointerEvent } from 'react';
import { enc } from '../lib/api';
import { filterParams, queryString, withParams } from '../lib/filters';
import { navigate, useLocation } from '../lib/router';
import { ErrorNote, useApi } from '../lib/use-api';
import { FilterBar } from './filter-bar';

interface Bucket {
  start: string;
  end: string;
  withOffset: number;
  withoutOffset: number;
}
interface TimelineAnswer {
  bucket: string;
  from: string | null;
  to: string | null;
  buckets: Bucket[];
  total: number;
  withTakenAt: number;
  withoutTakenAt: number;
}

const W = 1000;
const BAND = 110;
const GAP = 28;
const H = BAND * 2 + GAP + 30;

/**
 * Capture times as recorded (wall clock, never shifted), one bar per bucket:
 * above the axis the files whose time has a recorded offset, below it, apart
 * and in another colour, those without one. Dragging across the bars (the
 * brush) opens the gallery with exactly those buckets' files.
 */
export function TimelineScreen({ caseId }: { caseId: string }) {
  const { search } = useLocation();
  const q = filterParams(search, { withSort: false });
  const bucket = search.get('bucket');
  if (bucket) q.set('bucket', bucket);
  const { data, error } = useApi<TimelineAnswer>(`/cases/${enc(caseId)}/timeline${queryString(q)}`);
  const svg = useRef<SVGSVGElement>(null);
  const [brush, setBrush] = useState<{ a: number; b: number } | null>(null);
  const dragging = useRef(false);

  const buckets = data?.buckets ?? [];
  const n = buckets.length;
  const slot = n > 0 ? W / n : W;
  const maxWith = Math.max(1, ...buckets.map((b) => b.withOffset));
  const maxWithout = Math.max(1, ...buckets.map((b) => b.withoutOffset));

  const indexAt = (e: PointerEvent<SVGSVGElement>) => {
    const r = svg.current!.getBoundingClientRect();
    const x = ((e.clientX - r.left) / r.width) * W;
    return Math.max(0, Math.min(n - 1, Math.floor(x / slot)));
  };
  const apply = (a: number, b: number) => {
    const lo = Math.min(a, b);
    const hi = Math.max(a, b);
    const from = buckets[lo]!.start;
    const to = buckets[hi]!.end;
    navigate(`/cases/${enc(caseId)}/gallery${queryString(withParams(search, { takenLocalFrom: from, takenLocalTo: to }))}`);
  };

  return (
    <section aria-labelledby="timeline-title">
      <h1 id="timeline-title">Timeline</h1>
      <FilterBar />
      <div className="toolbar">
        <label>
          Bucket{' '}
          <select
            name="bucket"
            value={bucket ?? ''}
            onChange={(e) => {
              const p = withParams(search, {});
              if (e.target.value) p.set('bucket', e.target.value);
              navigate(`/cases/${enc(caseId)}/timeline${queryString(p)}`);
            }}
          >
            <option value="">automatic</option>
            {['minute', 'hour', 'day', 'week', 'month', 'year'].map((b) => (
              <option key={b}>{b}</option>
            ))}
          </select>
        </label>
        {data && (
          <p data-testid="timeline-summary">
            {data.withTakenAt.toLocaleString('en')} of {data.total.toLocaleString('en')} files have a capture time ({data.bucket} buckets);{' '}
            {data.withoutTakenAt.toLocaleString('en')} have none and are not on the timeline.
          </p>
        )}
      </div>
      <ErrorNote error={error} />
      {data && n === 0 && <p>No file matching the filter has a capture time.</p>}
      {n > 0 && (
        <>
          <p className="legend">
            <span className="swatch with" aria-hidden="true" /> capture time with a recorded offset · <span className="swatch without" aria-hidden="true" /> no offset recorded (wall clock only) ·
            drag across the bars to open those files in the gallery
          </p>
          <svg
            ref={svg}
            viewBox={`0 0 ${W} ${H}`}
            className="timeline"
            role="img"
            aria-label={`Histogram of capture times from ${data!.from} to ${data!.to}`}
            data-testid="timeline"
            onPointerDown={(e) => {
              dragging.current = true;
              svg.current!.setPointerCapture(e.pointerId);
              const i = indexAt(e);
              setBrush({ a: i, b: i });
            }}
            onPointerMove={(e) => dragging.current && setBrush((br) => (br ? { a: br.a, b: indexAt(e) } : br))}
            onPointerUp={(e) => {
              if (!dragging.current) return;
              dragging.current = false;
              const i = indexAt(e);
              const a = brush?.a ?? i;
              setBrush(null);
              apply(a, i);
            }}
          >
            <line x1={0} x2={W} y1={BAND + GAP / 2} y2={BAND + GAP / 2} stroke="#555" />
            {buckets.map((b, i) => {
              const hw = (b.withOffset / maxWith) * BAND;
              const hwo = (b.withoutOffset / maxWithout) * BAND;
              return (
                <g key={b.start}>
                  <title>{`${b.start} – ${b.end}: ${b.withOffset} with offset, ${b.withoutOffset} without`}</title>
                  <rect x={i * slot + 1} y={BAND - hw} width={Math.max(1, slot - 2)} height={hw} className="bar with" />
                  <rect x={i * slot + 1} y={BAND + GAP} width={Math.max(1, slot - 2)} height={hwo} className="bar without" />
                </g>
              );
            })}
            {brush && (
              <rect
                x={Math.min(brush.a, brush.b) * slot}
                width={(Math.abs(brush.a - brush.b) + 1) * slot}
                y={0}
                height={BAND * 2 + GAP}
                className="brush"
              />
            )}
            <text x={0} y={H - 6} className="axis">
              {data!.from}
            </text>
            <text x={W} y={H - 6} textAnchor="end" className="axis">
              {data!.to}
            </text>
          </svg>
          <h2>Buckets</h2>
          <table className="grid-table compact">
            <caption className="sr-only">Files per bucket</caption>
            <thead>
              <tr>
                <th scope="col">From (as recorded)</th>
                <th scope="col">To</th>
                <th scope="col">With offset</th>
                <th scope="col">No offset recorded</th>
                <th scope="col">Open</th>
              </tr>
            </thead>
            <tbody>
              {buckets.map((b, i) => (
                <tr key={b.start}>
                  <td>{b.start}</td>
                  <td>{b.end}</td>
                  <td>{b.withOffset}</td>
                  <td>{b.withoutOffset}</td>
                  <td>
                    <button type="button" onClick={() => apply(i, i)}>
                      Show {b.withOffset + b.withoutOffset} in the gallery
                    </button>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </>
      )}
    </section>
  );
}
