import L from 'leaflet';
import 'leaflet/dist/leaflet.css';
import { useEffect, useRef, useState } from 'react';
import { feature } from 'topojson-client';
import type { GeometryCollection, Topology } from 'topojson-specification';
import land50m from 'world-atlas/land-50m.json';
import { apiGet, enc } from '../lib/api';
import { filterParams, queryString, withParams } from '../lib/filters';
import { Link, navigate, useLocation } from '../lib/router';
import { ErrorNote } from '../lib/use-api';
import { FilterBar } from './filter-bar';

interface MapCluster {
  lat: number;
  lon: number;
  count: number;
  bbox: [number, number, number, number];
  fileId: string | null;
  sha256: string | null;
}
interface MapAnswer {
  cellDeg: number;
  total: number;
  clusters: MapCluster[];
  truncated: boolean;
}

/**
 * The basemap is Natural Earth's land at 1:50m (world-atlas, bundled into the
 * app) drawn as a vector layer: no tiles, nothing fetched from elsewhere. The
 * points are clustered by the API in SQL on a grid that follows the zoom.
 */
const LAND = feature(land50m as unknown as Topology, (land50m as unknown as Topology).objects.land as GeometryCollection);

/**
 * The server's review summary keeps map cells down to this zoom
 * (REVIEW_SUMMARY.mapMaxZoom): up to it the whole case's cells are one small
 * read. Deeper, the server groups the files themselves, so the app asks only
 * for what is on screen (its view, with a margin to pan into).
 */
const WHOLE_CASE_MAX_ZOOM = 12;
/** The API's deepest zoom (cells of 360 / 2^22 / 4 degrees, about 2 m): clusters keep splitting down to it. */
const MAX_ZOOM = 22;
/** Past this zoom the basemap (Natural Earth 1:50m) has nothing more to show: said on screen. */
const BASEMAP_DETAIL_ZOOM = 8;

/** minLon, minLat, maxLon, maxLat, as the API's bbox. */
type Box = [number, number, number, number];

function parseBox(text: string | null): Box | null {
  const b = text?.split(',').map(Number);
  return b && b.length === 4 && b.every(Number.isFinite) ? (b as Box) : null;
}

/** A box as the API takes it: each edge as JavaScript prints it (exact, never rounded). */
const boxParam = (b: Box) => b.map(String).join(',');

function intersect(a: Box, b: Box): Box | null {
  const r: Box = [Math.max(a[0], b[0]), Math.max(a[1], b[1]), Math.min(a[2], b[2]), Math.min(a[3], b[3])];
  return r[0] <= r[2] && r[1] <= r[3] ? r : null;
}

/** The map's view as a box on the globe (a view across the antimeridian keeps its part on this side of it). */
function viewBox(bounds: L.LatLngBounds): Box {
  const clamp = (v: number, lim: number) => Math.max(-lim, Math.min(lim, v));
  return [clamp(bounds.getWest(), 180), clamp(bounds.getSouth(), 90), clamp(bounds.getEast(), 180), clamp(bounds.getNorth(), 90)];
}

const boxHolds = (outer: Box, inner: Box) => outer[0] <= inner[0] && outer[1] <= inner[1] && outer[2] >= inner[2] && outer[3] >= inner[3];

export function MapScreen({ caseId }: { caseId: string }) {
  const { search } = useLocation();
  const filterKey = filterParams(search, { withSort: false }).toString();
  const el = useRef<HTMLDivElement>(null);
  const map = useRef<L.Map | null>(null);
  const markers = useRef<L.LayerGroup | null>(null);
  const boxLayer = useRef<L.Rectangle | null>(null);
  const [zoom, setZoom] = useState(2);
  // Past WHOLE_CASE_MAX_ZOOM: the box asked for (the view and a margin), kept while the view stays inside it.
  const [view, setView] = useState<Box | null>(null);
  const [answer, setAnswer] = useState<MapAnswer | null>(null);
  const [error, setError] = useState<Error | null>(null);
  const [drawing, setDrawing] = useState(false);
  const fitted = useRef(false);

  useEffect(() => {
    const m = L.map(el.current!, { worldCopyJump: false, minZoom: 1, maxZoom: MAX_ZOOM, zoomSnap: 1, attributionControl: true, preferCanvas: false });
    m.attributionControl.setPrefix(false).addAttribution('Basemap: Natural Earth (public domain)');
    L.control.scale({ imperial: false }).addTo(m);
    L.geoJSON(LAND, { style: { color: '#6b7d6b', weight: 0.6, fillColor: '#dfe8d8', fillOpacity: 1 }, interactive: false }).addTo(m);
    m.setView([20, 0], 2);
    markers.current = L.layerGroup().addTo(m);
    // After a zoom and after a pan (a zoom ends with a moveend too).
    m.on('moveend', () => {
      const z = m.getZoom();
      setZoom(z);
      if (z <= WHOLE_CASE_MAX_ZOOM) return setView(null);
      const onScreen = viewBox(m.getBounds());
      setView((asked) => (asked && boxHolds(asked, onScreen) ? asked : viewBox(m.getBounds().pad(0.5))));
    });
    map.current = m;
    return () => {
      m.remove();
      map.current = null;
    };
  }, []);

  // The clusters for this filter at this zoom (past WHOLE_CASE_MAX_ZOOM, in the view and the drawn box both).
  useEffect(() => {
    const abort = new AbortController();
    const q = new URLSearchParams(filterKey);
    q.set('zoom', String(zoom));
    if (view) {
      const drawn = parseBox(q.get('bbox'));
      const box = drawn ? intersect(drawn, view) : view;
      if (!box) {
        setAnswer({ cellDeg: 360 / 2 ** zoom / 4, total: 0, clusters: [], truncated: false });
        setError(null);
        return;
      }
      q.set('bbox', boxParam(box));
    }
    apiGet<MapAnswer>(`/cases/${enc(caseId)}/map?${q.toString()}`, abort.signal)
      .then((a) => {
        setAnswer(a);
        setError(null);
      })
      .catch((e: unknown) => !abort.signal.aborted && setError(e instanceof Error ? e : new Error(String(e))));
    return () => abort.abort();
  }, [caseId, filterKey, zoom, view]);

  useEffect(() => {
    const m = map.current;
    const layer = markers.current;
    if (!m || !layer || !answer) return;
    layer.clearLayers();
    for (const c of answer.clusters) {
      const single = c.count === 1;
      // Files at one position (copies of a photo, a burst) never split, at any zoom: they open in the gallery.
      const onePlace = !single && c.bbox[0] === c.bbox[2] && c.bbox[1] === c.bbox[3];
      const size = single ? 14 : Math.min(48, 22 + Math.log2(c.count) * 4);
      const icon = L.divIcon({
        className: single ? 'map-point' : 'map-cluster',
        html: single ? '' : `<span>${c.count}</span>`,
        iconSize: [size, size],
      });
      const marker = L.marker([c.lat, c.lon], {
        icon,
        keyboard: true,
        title: single ? 'One file: open it' : onePlace ? `${c.count} files at one position: show them in the gallery` : `${c.count} files: zoom in`,
        alt: single ? 'file' : `${c.count} files`,
      });
      marker.on('add', () => {
        const e = marker.getElement();
        e?.setAttribute('data-count', String(c.count));
        e?.setAttribute('data-lat', String(c.lat));
        e?.setAttribute('data-lon', String(c.lon));
        e?.setAttribute('data-bbox', boxParam(c.bbox));
        e?.setAttribute('data-cell-deg', String(answer.cellDeg));
      });
      marker.on('click', () => {
        if (single && c.fileId) navigate(`/cases/${enc(caseId)}/files/${enc(c.fileId)}${queryString(filterParams(search))}`);
        // The cluster's box holds exactly its files: they share its cell, and no other file matching the filter lies in it.
        else if (onePlace || m.getZoom() >= MAX_ZOOM) navigate(`/cases/${enc(caseId)}/gallery${queryString(withParams(filterParams(search), { bbox: boxParam(c.bbox) }))}`);
        else m.fitBounds([[c.bbox[1], c.bbox[0]], [c.bbox[3], c.bbox[2]]], { padding: [40, 40], maxZoom: MAX_ZOOM });
      });
      layer.addLayer(marker);
    }
    if (!fitted.current && answer.clusters.length > 0) {
      fitted.current = true;
      const b = L.latLngBounds(answer.clusters.map((c) => [c.lat, c.lon] as [number, number]));
      m.fitBounds(b, { padding: [40, 40], maxZoom: 12 });
    }
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [answer]);

  // The box of the current filter, drawn.
  useEffect(() => {
    const m = map.current;
    if (!m) return;
    boxLayer.current?.remove();
    boxLayer.current = null;
    const bbox = search.get('bbox')?.split(',').map(Number);
    if (bbox && bbox.length === 4 && bbox.every(Number.isFinite)) {
      boxLayer.current = L.rectangle([[bbox[1]!, bbox[0]!], [bbox[3]!, bbox[2]!]], { color: '#b3261e', weight: 2, fill: false, interactive: false }).addTo(m);
    }
  }, [search]);

  // Drawing a box: press, drag, release. The map does not pan meanwhile.
  useEffect(() => {
    const m = map.current;
    if (!m || !drawing) return;
    m.dragging.disable();
    m.getContainer().style.cursor = 'crosshair';
    let start: L.LatLng | null = null;
    let rect: L.Rectangle | null = null;
    const down = (e: L.LeafletMouseEvent) => {
      start = e.latlng;
      rect = L.rectangle(L.latLngBounds(start, start), { color: '#b3261e', weight: 2, dashArray: '4', fill: false }).addTo(m);
    };
    const move = (e: L.LeafletMouseEvent) => {
      if (start && rect) rect.setBounds(L.latLngBounds(start, e.latlng));
    };
    const up = (e: L.LeafletMouseEvent) => {
      if (!start) return;
      const b = L.latLngBounds(start, e.latlng);
      rect?.remove();
      start = null;
      setDrawing(false);
      // 7 decimals (about 1 cm): finer than a pixel even at MAX_ZOOM. The URL's box is then the box, for the map and the gallery alike.
      const clamp = (v: number, lim: number) => Math.max(-lim, Math.min(lim, v)).toFixed(7);
      const bbox = [clamp(b.getWest(), 180), clamp(b.getSouth(), 90), clamp(b.getEast(), 180), clamp(b.getNorth(), 90)].join(',');
      if (b.getWest() === b.getEast() || b.getSouth() === b.getNorth()) return;
      navigate(`/cases/${enc(caseId)}/map${queryString(withParams(search, { bbox }))}`);
    };
    m.on('mousedown', down);
    m.on('mousemove', move);
    m.on('mouseup', up);
    return () => {
      m.off('mousedown', down);
      m.off('mousemove', move);
      m.off('mouseup', up);
      m.dragging.enable();
      m.getContainer().style.cursor = '';
    };
  }, [drawing, caseId, search]);

  const hasBox = !!search.get('bbox');
  return (
    <section aria-labelledby="map-title" className="map-screen">
      <h1 id="map-title">Map</h1>
      <FilterBar />
      <div className="toolbar">
        <p aria-live="polite" data-testid="map-total">
          {answer ? `${answer.total.toLocaleString('en')} file${answer.total === 1 ? '' : 's'} with a location${view ? ' in this view' : ''}` : 'Loading…'}
          {answer?.truncated && ' (only the 5,000 fullest cells are drawn; zoom in)'}
        </p>
        {zoom > BASEMAP_DETAIL_ZOOM && (
          <p className="map-note" data-testid="map-detail-note">
            Zoom {zoom}: the offline basemap has coastlines only, no streets or buildings; the points are the recorded positions.
          </p>
        )}
        <button type="button" aria-pressed={drawing} onClick={() => setDrawing((d) => !d)}>
          {drawing ? 'Drag a box on the map… (click to cancel)' : 'Draw a box'}
        </button>
        {hasBox && (
          <>
            <Link to={`/cases/${enc(caseId)}/gallery${queryString(filterParams(search))}`} className="button">
              Show the files in the box in the gallery
            </Link>
            <button type="button" onClick={() => navigate(`/cases/${enc(caseId)}/map${queryString(withParams(search, { bbox: null }))}`)}>
              Remove the box
            </button>
          </>
        )}
      </div>
      <ErrorNote error={error} />
      <div ref={el} className="map" data-testid="map" data-zoom={zoom} role="application" aria-label="Map of the files with a location" />
    </section>
  );
}
