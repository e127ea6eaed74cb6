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

export function MapScreen({ caseId }: { caseId: string }) {
  const { search } = useLocation();
  const filterKey = filterParams(search, { withSort: false }).toString();
  const el = useRef<HTMLDivElement>(null);
  const map = useRef<L.Map | null>(null);
  const markers = useRef<L.LayerGroup | null>(null);
  const boxLayer = useRef<L.Rectangle | null>(null);
  const [zoom, setZoom] = useState(2);
  const [answer, setAnswer] = useState<MapAnswer | null>(null);
  const [error, setError] = useState<Error | null>(null);
  const [drawing, setDrawing] = useState(false);
  const fitted = useRef(false);

  useEffect(() => {
    const m = L.map(el.current!, { worldCopyJump: false, minZoom: 1, maxZoom: 18, zoomSnap: 1, attributionControl: true, preferCanvas: false });
    m.attributionControl.setPrefix(false).addAttribution('Basemap: Natural Earth (public domain)');
    L.geoJSON(LAND, { style: { color: '#6b7d6b', weight: 0.6, fillColor: '#dfe8d8', fillOpacity: 1 }, interactive: false }).addTo(m);
    m.setView([20, 0], 2);
    markers.current = L.layerGroup().addTo(m);
    m.on('zoomend', () => setZoom(m.getZoom()));
    map.current = m;
    return () => {
      m.remove();
      map.current = null;
    };
  }, []);

  // The clusters for this filter at this zoom.
  useEffect(() => {
    const abort = new AbortController();
    const q = new URLSearchParams(filterKey);
    q.set('zoom', String(zoom));
    apiGet<MapAnswer>(`/cases/${enc(caseId)}/map?${q.toString()}`, abort.signal)
      .then((a) => {
        setAnswer(a);
        setError(null);
      })
      .catch((e: unknown) => !abort.signal.aborted && setError(e instanceof Error ? e : new Error(String(e))));
    return () => abort.abort();
  }, [caseId, filterKey, zoom]);

  useEffect(() => {
    const m = map.current;
    const layer = markers.current;
    if (!m || !layer || !answer) return;
    layer.clearLayers();
    for (const c of answer.clusters) {
      const single = c.count === 1;
      const size = single ? 14 : Math.min(48, 22 + Math.log2(c.count) * 4);
      const icon = L.divIcon({
        className: single ? 'map-point' : 'map-cluster',
        html: single ? '' : `<span>${c.count}</span>`,
        iconSize: [size, size],
      });
      const marker = L.marker([c.lat, c.lon], {
        icon,
        keyboard: true,
        title: single ? 'One file: open it' : `${c.count} files: zoom in`,
        alt: single ? 'file' : `${c.count} files`,
      });
      marker.on('add', () => marker.getElement()?.setAttribute('data-count', String(c.count)));
      marker.on('click', () => {
        if (single && c.fileId) navigate(`/cases/${enc(caseId)}/files/${enc(c.fileId)}${queryString(filterParams(search))}`);
        else m.fitBounds([[c.bbox[1], c.bbox[0]], [c.bbox[3], c.bbox[2]]], { padding: [40, 40], maxZoom: 16 });
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
      const clamp = (v: number, lim: number) => Math.max(-lim, Math.min(lim, v)).toFixed(6);
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
          {answer ? `${answer.total.toLocaleString('en')} file${answer.total === 1 ? '' : 's'} with a location` : 'Loading…'}
          {answer?.truncated && ' (only the 5,000 fullest cells are drawn; zoom in)'}
        </p>
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
      <div ref={el} className="map" data-testid="map" role="application" aria-label="Map of the files with a location" />
    </section>
  );
}
