/**
 * Loaded with NODE_OPTIONS="--import <this file>" by `npm run bench` (with the
 * SQL counter): in the Azurite process only, counts HTTP requests by kind
 * (service, method, operation, empty or not) and their body bytes, and writes
 * them on exit to $EXHIBIT_BENCH_PROFILE_DIR/azurite-requests-<pid>.json, and
 * on SIGUSR2 to mark-<n>-azurite-requests-<pid>.json (n = 1, 2, …) so the
 * bench can count between two moments. Gives the bytes read from storage,
 * the queue operations, and how much of Azurite's CPU goes to data and how
 * much to polling. A measuring aid only.
 */
import { writeFileSync } from 'node:fs';
import http from 'node:http';
import path from 'node:path';

const dir = process.env.EXHIBIT_BENCH_PROFILE_DIR;
// Azurite's entry script, not any argument naming 'azurite' (a checkout path may: /work/wt/azurite-cost).
const isAzurite = /[\\/]azurite[\\/]dist[\\/]src[\\/]azurite\.js$/.test(process.argv[1] ?? '');
if (dir && process.env.EXHIBIT_BENCH_IO_STATS === 'true' && isAzurite) {
  const stats = new Map();
  /** Names the operation without ids: GET blob / PUT queue messages / GET queue messages (empty) … */
  const kindOf = (req, port) => {
    const url = new URL(req.url ?? '/', 'http://x');
    const parts = url.pathname.split('/').filter(Boolean);
    const comp = url.searchParams.get('comp');
    const range = req.headers['x-ms-range'] || req.headers.range ? ' ranged' : '';
    let what;
    if (parts.at(-1) === 'messages') what = 'queue messages';
    else if (parts.length >= 2 && parts.at(-2) === 'messages') what = 'queue message';
    else if (comp) what = `${parts.length <= 2 ? 'container/queue' : 'blob'} comp=${comp}`;
    else if (parts.length >= 3) what = 'blob';
    else what = 'container/queue';
    if (what.startsWith('blob') && parts[1]) what += ` [${parts[1]}]`;
    return `${port} ${req.method} ${what}${range}`;
  };
  const createServer = http.createServer;
  http.createServer = function (...args) {
    const server = createServer.apply(this, args);
    // Azurite removes all 'request' listeners before adding its own, so watch emit instead.
    const emit = server.emit;
    server.emit = function (event, ...rest) {
      if (event === 'request') track(rest[0], rest[1]);
      return emit.call(this, event, ...rest);
    };
    const track = (req, res) => {
      const started = performance.now();
      // From the header: listening to 'data' would switch the body to flowing mode and take it from Azurite.
      const inBytes = Number(req.headers['content-length'] ?? 0) || 0;
      let outBytes = 0;
      const write = res.write;
      res.write = function (chunk, ...rest) {
        if (chunk) outBytes += typeof chunk === 'string' ? Buffer.byteLength(chunk) : chunk.length;
        return write.call(this, chunk, ...rest);
      };
      const end = res.end;
      res.end = function (chunk, ...rest) {
        if (chunk && typeof chunk !== 'function') outBytes += typeof chunk === 'string' ? Buffer.byteLength(chunk) : chunk.length;
        return end.call(this, chunk, ...rest);
      };
      res.on('finish', () => {
        const port = server.address()?.port ?? '?';
        let kind = kindOf(req, port);
        // An empty receive answers with an empty <QueueMessagesList>: about 80 bytes.
        if (kind.endsWith('GET queue messages')) kind += outBytes < 200 ? ' (empty)' : ' (with messages)';
        const s = stats.get(kind) ?? { count: 0, totalMs: 0, inBytes: 0, outBytes: 0 };
        s.count += 1;
        s.totalMs += performance.now() - started;
        s.inBytes += inBytes;
        s.outBytes += outBytes;
        stats.set(kind, s);
      });
    };
    return server;
  };
  // As in cpu-profile.preload.mjs: a second SIGTERM would kill Azurite before 'exit'.
  process.on('SIGTERM', () => undefined);
  const rows = () => [...stats].map(([kind, s]) => ({ kind, ...s })).sort((a, b) => b.count - a.count);
  let marks = 0;
  process.on('SIGUSR2', () => {
    marks += 1;
    writeFileSync(path.join(dir, `mark-${marks}-azurite-requests-${process.pid}.json`), JSON.stringify(rows(), null, 2));
  });
  process.once('exit', () => {
    writeFileSync(path.join(dir, `azurite-requests-${process.pid}.json`), JSON.stringify(rows(), null, 2));
  });
}
