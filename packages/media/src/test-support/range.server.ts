import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * A tiny HTTP server on a free loopback port serving buffers with single-range
 * support, like a blob behind a SAS URL. It records every request path so a
 * test can prove what a tool did or did not fetch.
 */
export class RangeServer {
  readonly requests: string[] = [];
  /** The Range header of each request, in the same order (undefined: none). */
  readonly ranges: Array<string | undefined> = [];
  private readonly files = new Map<string, Buffer>();
  private server: Server | undefined;
  private port = 0;

  put(path: string, bytes: Buffer | string): this {
    this.files.set(path, Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes));
    return this;
  }

  /** URL with a fake SAS signature, so tests can check it never leaks. */
  url(path: string): string {
    if (!this.server) throw new Error('server not started');
    return `http://127.0.0.1:${this.port}${path}?sv=2024-01-01&sig=SECRETSIGNATURE`;
  }

  async start(): Promise<this> {
    this.server = createServer((req, res) => {
      const path = new URL(req.url ?? '/', 'http://localhost').pathname;
      this.requests.push(path);
      this.ranges.push(req.headers.range);
      const body = this.files.get(path);
      if (!body) {
        res.writeHead(404).end();
        return;
      }
      const range = /^bytes=(\d*)-(\d*)$/.exec(req.headers.range ?? '');
      if (!range || (range[1] === '' && range[2] === '')) {
        res.writeHead(200, { 'Content-Length': body.length, 'Accept-Ranges': 'bytes' });
        res.end(req.method === 'HEAD' ? undefined : body);
        return;
      }
      let start: number;
      let end: number;
      if (range[1] === '') {
        start = Math.max(0, body.length - Number(range[2]));
        end = body.length - 1;
      } else {
        start = Number(range[1]);
        end = range[2] === '' ? body.length - 1 : Math.min(Number(range[2]), body.length - 1);
      }
      if (start >= body.length || start > end) {
        res.writeHead(416, { 'Content-Range': `bytes */${body.length}` }).end();
        return;
      }
      res.writeHead(206, {
        'Content-Length': end - start + 1,
        'Content-Range': `bytes ${start}-${end}/${body.length}`,
        'Accept-Ranges': 'bytes',
      });
      res.end(req.method === 'HEAD' ? undefined : body.subarray(start, end + 1));
    });
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    this.port = (this.server.address() as AddressInfo).port;
    return this;
  }

  async stop(): Promise<void> {
    const server = this.server;
    if (!server) return;
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
    this.server = undefined;
  }
}
