/**
 * Exhibit's own reading of a local file, exactly as the pipeline does it:
 * identify through the same RandomAccessSource (bounded reads, identify stage), then, for
 * an image, a video or audio, the media package's MetadataExtractor through a
 * RandomAccessSource (metadata stage). Only the transport differs: ranged reads
 * of the local file instead of blob ranges, and for ffprobe a loopback HTTP URL
 * serving the file with Range support instead of a SAS URL.
 */
import { randomBytes } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { open, stat } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { errorMessage, isExhibitError, type Identification, type MediaMetadata, type RandomAccessSource } from '@exhibit/core';
import { createMediaTools, type MediaTools } from '@exhibit/media';

/** Serves registered local files to ffprobe over http://127.0.0.1 under unguessable paths, with single Range support. */
export class LocalFileServer {
  private readonly files = new Map<string, string>();
  private server: Server | undefined;
  private port = 0;

  async start(): Promise<this> {
    this.server = createServer((req, res) => {
      const file = this.files.get(new URL(req.url ?? '/', 'http://localhost').pathname);
      if (!file) return void res.writeHead(404).end();
      stat(file).then(
        (s) => {
          const size = s.size;
          const m = /^bytes=(\d*)-(\d*)$/.exec(req.headers.range ?? '');
          if (!m || (m[1] === '' && m[2] === '')) {
            res.writeHead(200, { 'Content-Length': size, 'Accept-Ranges': 'bytes' });
            if (req.method === 'HEAD' || size === 0) return void res.end();
            return void createReadStream(file).pipe(res);
          }
          const start = m[1] === '' ? Math.max(0, size - Number(m[2])) : Number(m[1]);
          const end = m[1] === '' || m[2] === '' ? size - 1 : Math.min(Number(m[2]), size - 1);
          if (start >= size || start > end) return void res.writeHead(416, { 'Content-Range': `bytes */${size}` }).end();
          res.writeHead(206, { 'Content-Length': end - start + 1, 'Content-Range': `bytes ${start}-${end}/${size}`, 'Accept-Ranges': 'bytes' });
          if (req.method === 'HEAD') return void res.end();
          createReadStream(file, { start, end }).pipe(res);
        },
        () => void res.writeHead(404).end(),
      );
    });
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    this.port = (this.server.address() as AddressInfo).port;
    return this;
  }

  /** A URL for this file, valid until `forget` or `stop`. */
  url(file: string): { url: string; forget: () => void } {
    if (!this.server) throw new Error('file server not started');
    const key = `/${randomBytes(12).toString('hex')}/${encodeURIComponent(path.basename(file))}`;
    this.files.set(key, file);
    return { url: `http://127.0.0.1:${this.port}${key}`, forget: () => this.files.delete(key) };
  }

  async stop(): Promise<void> {
    const server = this.server;
    if (!server) return;
    this.server = undefined;
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}

/** What Exhibit made of one file. */
export interface ExhibitReading {
  identification: Identification;
  /** Null when the file is no image, video or audio (the pipeline reads no metadata then) or extraction failed. */
  metadata: MediaMetadata | null;
  /** The failure the metadata stage would record. */
  error?: { code: string; message: string };
}

export class ExhibitReader {
  readonly tools: MediaTools;
  private readonly server = new LocalFileServer();
  private started = false;

  constructor(tools: MediaTools = createMediaTools({})) {
    this.tools = tools;
  }

  async read(file: string): Promise<ExhibitReading> {
    if (!this.started) {
      await this.server.start();
      this.started = true;
    }
    const handle = await open(file, 'r');
    const served = this.server.url(file);
    try {
      const size = (await handle.stat()).size;
      const source: RandomAccessSource = {
        name: path.basename(file),
        size,
        read: async (offset, length) => {
          const start = Math.max(0, Math.min(offset, size));
          const count = Math.max(0, Math.min(length, size - start));
          const buffer = Buffer.alloc(count);
          let done = 0;
          while (done < count) {
            const { bytesRead } = await handle.read(buffer, done, count - done, start + done);
            if (bytesRead === 0) break;
            done += bytesRead;
          }
          return buffer.subarray(0, done);
        },
        url: async () => served.url,
      };
      const { findings: _findings, ...identification } = await this.tools.identifier.identify(source);
      if (identification.kind !== 'image' && identification.kind !== 'video' && identification.kind !== 'audio') return { identification, metadata: null };
      try {
        const metadata =
          identification.kind === 'image'
            ? await this.tools.metadata.image(source, { mime: identification.mime })
            : identification.kind === 'video'
              ? await this.tools.metadata.video(source)
              : await this.tools.metadata.audio(source, { detectedExt: identification.detectedExt });
        return { identification, metadata };
      } catch (err) {
        const code = isExhibitError(err) ? err.code : 'unexpected';
        return { identification, metadata: null, error: { code, message: errorMessage(err) } };
      }
    } finally {
      served.forget();
      await handle.close();
    }
  }

  async close(): Promise<void> {
    if (this.started) await this.server.stop();
    this.started = false;
  }
}
