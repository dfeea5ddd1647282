// The app:// protocol: serves the built renderer to the desktop window. Plain Node only (fs
// reads inside app.asar in Electron's main process), so the whole handler runs in the unit
// tests; and nothing needs file:// privileges, so the packaged app can switch them off (fuse).
import fs from 'node:fs/promises';
import path from 'node:path';
import { CONTENT_SECURITY_POLICY } from '../security';
import { isAppUrl } from './app-url';

export type AppFile = { ok: true; file: string } | { ok: false; status: 400 | 404; reason: string };

/**
 * The file under `rendererDir` that an app:// URL names, or why not. Decodes each path segment
 * once and refuses what a built bundle never contains but an attack would: `.`/`..` segments
 * (also encoded, e.g. `..%2f`), encoded separators, backslashes (a separator on Windows), empty
 * segments (absolute paths), NUL, and `:` (drive letters, NTFS streams). Then checks the joined
 * path is still inside the root, as a last line. `p` is injectable to test Windows paths anywhere.
 */
export function resolveAppFile(requestUrl: string, rendererDir: string, p: path.PlatformPath = path): AppFile {
  if (!isAppUrl(requestUrl)) return { ok: false, status: 404, reason: 'not an app://offhost/ URL' };
  const pathname = new URL(requestUrl).pathname;
  const raw = pathname === '/' ? ['index.html'] : pathname.slice(1).split('/');
  const segments: string[] = [];
  for (const part of raw) {
    let seg: string;
    try {
      seg = decodeURIComponent(part);
    } catch {
      return { ok: false, status: 400, reason: `malformed percent-encoding in ${JSON.stringify(part)}` };
    }
    if (seg === '' || seg === '.' || seg === '..' || /[/\\:\0]/.test(seg)) return { ok: false, status: 404, reason: `refused path segment ${JSON.stringify(part)}` };
    segments.push(seg);
  }
  const root = p.resolve(rendererDir);
  const file = p.join(root, ...segments);
  const rel = p.relative(root, file);
  if (rel === '' || rel === '..' || rel.startsWith(`..${p.sep}`) || p.isAbsolute(rel)) return { ok: false, status: 404, reason: 'outside the renderer directory' };
  return { ok: true, file };
}

/** What Vite's build emits; anything else is served as bytes (and nosniff stops guessing). */
const CONTENT_TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.jpg': 'image/jpeg',
  '.jpeg': 'image/jpeg',
  '.gif': 'image/gif',
  '.webp': 'image/webp',
  '.ico': 'image/x-icon',
  '.woff': 'font/woff',
  '.woff2': 'font/woff2',
  '.ttf': 'font/ttf',
  '.txt': 'text/plain; charset=utf-8',
};

/** Reads a resolved file; rejects for a missing file or a directory (serveAppRequest answers 404). */
export async function readAppFile(file: string): Promise<Response> {
  const body = await fs.readFile(file);
  const type = CONTENT_TYPES[path.extname(file).toLowerCase()] ?? 'application/octet-stream';
  return new Response(new Uint8Array(body), { status: 200, headers: { 'Content-Type': type } });
}

/** Headers on every app:// answer, errors included: the CSP, and no MIME sniffing. */
function secured(res: Response): Response {
  const headers = new Headers(res.headers);
  headers.set('Content-Security-Policy', CONTENT_SECURITY_POLICY);
  headers.set('X-Content-Type-Options', 'nosniff');
  return new Response(res.body, { status: res.status, statusText: res.statusText, headers });
}

export async function serveAppRequest(
  request: { url: string; method: string },
  rendererDir: string,
  fetchFile: (file: string) => Promise<Response> = readAppFile,
  p: path.PlatformPath = path,
): Promise<Response> {
  if (request.method !== 'GET' && request.method !== 'HEAD') return secured(new Response('Method not allowed', { status: 405, headers: { Allow: 'GET, HEAD' } }));
  const found = resolveAppFile(request.url, rendererDir, p);
  if (!found.ok) return secured(new Response(found.status === 400 ? 'Bad request' : 'Not found', { status: found.status }));
  let res: Response;
  try {
    res = await fetchFile(found.file);
  } catch {
    // A missing file or a directory: the page sees a plain 404.
    return secured(new Response('Not found', { status: 404 }));
  }
  return secured(res);
}
