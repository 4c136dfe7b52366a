// Small HTTPS static server for the built softphone (dist/). No dependencies.
//   node server/serve.mjs            serves dist/ on https://0.0.0.0:3000
// Environment: SOFTPHONE_PORT (3000), SOFTPHONE_HOST (0.0.0.0), SOFTPHONE_CERT, SOFTPHONE_KEY
// (PEM files, required), SOFTPHONE_ROOT (dist/), SOFTPHONE_HSTS_MAX_AGE (seconds, 31536000;
// 0 tells browsers to forget it).
// Every answer carries a Content-Security-Policy (only this origin's scripts and styles, no
// inline code, no framing; WebSocket connections to any wss: server, since the user types
// the PABX's address) and Strict-Transport-Security.
import { createReadStream, readFileSync, statSync } from 'node:fs';
import { createServer } from 'node:https';
import { extname, join, normalize, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

const TYPES = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.wav': 'audio/wav',
  '.txt': 'text/plain; charset=utf-8',
};

const BASE_HEADERS = {
  'X-Content-Type-Options': 'nosniff',
  'Referrer-Policy': 'no-referrer',
  'X-Frame-Options': 'DENY',
  'Permissions-Policy': 'microphone=(self), camera=()',
};

export const CSP = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "media-src 'self' blob:",
  "connect-src 'self' wss:",
  "object-src 'none'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join('; ');

/** The headers of every answer; throws on a malformed SOFTPHONE_HSTS_MAX_AGE. */
export function securityHeaders(env = process.env) {
  const raw = env.SOFTPHONE_HSTS_MAX_AGE ?? '31536000';
  if (!/^\d{1,9}$/.test(raw)) throw new Error(`SOFTPHONE_HSTS_MAX_AGE inválido: ${raw} (segundos)`);
  return {
    ...BASE_HEADERS,
    'Content-Security-Policy': CSP,
    'Strict-Transport-Security': `max-age=${Number(raw)}`,
  };
}

/**
 * Maps a request path to a file under root, or null when it must be refused.
 * Unknown paths without an extension fall back to index.html (single-page app).
 */
export function resolvePath(root, rawUrl) {
  if (typeof rawUrl !== 'string' || !rawUrl.startsWith('/')) return null;
  let path;
  try {
    path = decodeURIComponent(rawUrl.split('?')[0].split('#')[0]);
  } catch {
    return null;
  }
  if (path.includes('\0') || path.includes('\\')) return null;
  const full = normalize(join(root, path));
  if (full !== root && !full.startsWith(root.endsWith(sep) ? root : root + sep)) return null;
  try {
    const st = statSync(full);
    if (st.isFile()) return full;
    if (st.isDirectory()) {
      const index = join(full, 'index.html');
      if (statSync(index).isFile()) return index;
    }
  } catch {
    // fall through
  }
  return extname(path) === '' ? join(root, 'index.html') : undefined;
}

/** The request handler: GET/HEAD only; 400 for malformed paths, 404 for missing assets. */
export function createHandler(rootDir, HEADERS = securityHeaders()) {
  const root = resolve(rootDir);
  return (req, res) => {
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { ...HEADERS, Allow: 'GET, HEAD' });
      res.end();
      return;
    }
    const file = resolvePath(root, req.url);
    if (file === null) {
      res.writeHead(400, { ...HEADERS, 'Content-Type': 'text/plain; charset=utf-8' });
      res.end('requisição inválida\n');
      return;
    }
    if (file === undefined) {
      res.writeHead(404, { ...HEADERS, 'Content-Type': 'text/plain; charset=utf-8' });
      res.end('não encontrado\n');
      return;
    }
    let size;
    try {
      size = statSync(file).size;
    } catch {
      res.writeHead(404, { ...HEADERS, 'Content-Type': 'text/plain; charset=utf-8' });
      res.end('não encontrado\n');
      return;
    }
    const type = TYPES[extname(file)] ?? 'application/octet-stream';
    const cache = file.includes(`${sep}assets${sep}`) ? 'public, max-age=31536000, immutable' : 'no-cache';
    res.writeHead(200, { ...HEADERS, 'Content-Type': type, 'Content-Length': size, 'Cache-Control': cache });
    if (req.method === 'HEAD') {
      res.end();
      return;
    }
    createReadStream(file).pipe(res);
  };
}

function main() {
  const here = fileURLToPath(new URL('..', import.meta.url));
  const root = process.env.SOFTPHONE_ROOT ?? join(here, 'dist');
  const port = Number(process.env.SOFTPHONE_PORT ?? 3000);
  const host = process.env.SOFTPHONE_HOST ?? '0.0.0.0';
  const certFile = process.env.SOFTPHONE_CERT;
  const keyFile = process.env.SOFTPHONE_KEY;
  if (!certFile || !keyFile) {
    process.stderr.write('SOFTPHONE_CERT e SOFTPHONE_KEY são obrigatórios\n');
    process.exit(2);
  }
  let headers;
  try {
    headers = securityHeaders();
  } catch (e) {
    process.stderr.write(`${e.message}\n`);
    process.exit(2);
  }
  const server = createServer({ cert: readFileSync(certFile), key: readFileSync(keyFile) }, createHandler(root, headers));
  server.on('tlsClientError', () => undefined); // browsers probing a self-signed cert
  server.listen(port, host, () => {
    process.stdout.write(`softphone em https://${host}:${server.address().port}/ (raiz ${root})\n`);
  });
  const stop = () => server.close(() => process.exit(0));
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) main();
