// Where content is served: /content/{guid}/, and a bundle that is not (yet) active at
// /content/{guid}/_bundle{id}/ (rsconnect-python requests it to verify a deploy before it
// activates it, and counts only a 5xx as failure).
//   static        the bundle's files (extracted once into the data directory)
//   documents     the newest succeeded render's output (fetched from the content volume)
//   apps and APIs proxied to the running app, HTTP and WebSocket; an app that is not running is
//                 started and waited for (up to init_timeout); see main/content/{app-runner,proxy}.ts
// Who may see what (Connect's access_type, as far as the content model has it): "all" — anyone,
// signed in or not; "logged_in" — any caller with credentials; "acl" — the owner and admins (the
// model has no access lists yet). Locked content and drafts: the owner and admins only.
import fs from 'node:fs';
import type { IncomingMessage } from 'node:http';
import path from 'node:path';
import type { Duplex } from 'node:stream';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { parseGuid } from '../../../shared/api';
import { isRendered } from '../../../shared/content';
import { AppError, ERRORS } from '../../../shared/errors';
import { SESSION_COOKIE, sessionActor } from '../../auth/session';
import { AppRunner } from '../../content/app-runner';
import { ContentOutputs, indexPage } from '../../content/outputs';
import { ContentProxy, proxyHttp, proxyUpgrade, type ProxyMode } from '../../content/proxy';
import type { Core } from '../../core';
import { loadKube } from '../../kube/config';
import { bundlesRepo, type BundleRecord } from '../../store/bundles-repo';
import { jobsRepo } from '../../store/jobs-repo';
import type { ContentRecord } from '../../store/content-repo';
import type { CallContext } from '../handlers';
import { allowedHostNames, hostAllowed } from '../request-guard';

/** Content pages may be framed by Offhost's own pages only; the UI's strict policy is not theirs. */
const CONTENT_CSP = "frame-ancestors 'self'";

export interface ContentServing {
  runner: AppRunner;
  outputs: ContentOutputs;
  proxy: ContentProxy | undefined;
}


/**
 * Which way apps are reached: straight to the pod when this server runs in the cluster (its own
 * service account), else — a desktop, which cannot reach pod addresses — through the API server.
 */
export function proxyMode(core: Core): ProxyMode {
  return core.config.kube?.source.kind === 'in-cluster' ? 'direct' : 'apiserver';
}

export function registerServingRoutes(app: FastifyInstance, core: Core): ContentServing {
  const kube = core.config.kube;
  const runner = new AppRunner({ store: core.store, events: core.events, log: core.log, launcher: core.launcher });
  const outputs = new ContentOutputs({ dataDir: core.config.dataDir, store: core.store, events: core.events, log: core.log, volume: () => core.volume, archiveOf: (sha) => core.content.bundles.pathOf(sha) });
  const proxy = kube ? new ContentProxy(proxyMode(core), () => loadKube(kube)) : undefined;
  runner.start();
  outputs.start();
  app.addHook('onClose', async () => {
    runner.stop();
    outputs.stop();
    proxy?.close();
  });
  const serving: ContentServing = { runner, outputs, proxy };
  const allowedHosts = allowedHostNames({ listenHost: core.config.host, publicUrl: core.config.publicUrl, allowedHosts: core.config.allowedHosts });

  // The request body goes to the app as it came: no parsing, no size limit here.
  void app.register(async (scope) => {
    scope.removeAllContentTypeParsers();
    scope.addContentTypeParser('*', (_req, payload, done) => done(null, payload));
    const methods = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'] as const;
    const handler = (req: FastifyRequest<{ Params: { guid: string } }>, reply: FastifyReply) => serve(req, reply);
    scope.route({ method: [...methods], url: '/content/:guid', handler });
    scope.route({ method: [...methods], url: '/content/:guid/*', handler });
  });

  async function serve(req: FastifyRequest<{ Params: { guid: string } }>, reply: FastifyReply) {
    try {
      const at = address(req.url);
      if (!at) throw new AppError('NotFound', 'Nothing is served at this address.');
      // Relative links need the trailing slash: /content/{guid} → /content/{guid}/ (GET and HEAD only).
      if (at.rest === '') {
        if (req.method !== 'GET' && req.method !== 'HEAD') throw new AppError('NotFound', `Send requests to ${at.prefix}/ (with the slash).`);
        return reply.redirect(`${at.prefix}/${at.query}`, 301);
      }
      const content = await core.content.get(parseGuid(at.guid));
      checkAccess(core, content, req.caller, at.draft !== null);
      const bundle = await bundleOf(core, content, at.draft);
      if (bundle.app_mode === 'static') return await sendFromDir(req, reply, await outputs.staticSite(bundle), at.rest, bundle.manifest);
      if (isRendered(bundle.app_mode)) {
        const out = await outputs.current(content, bundle.id);
        if (!out) throw await noOutput(core, content, bundle, at.draft !== null);
        return await sendFromDir(req, reply, out.dir, at.rest, bundle.manifest);
      }
      if (!proxy) throw new AppError('Unavailable', `"${content.name}" is an app, and no cluster is configured to run it on (set OFFHOST_KUBECONFIG and OFFHOST_NAMESPACE).`);
      const job = await runner.ready(content, bundle.id);
      runner.touch(job.id);
      let up;
      try {
        up = await proxy.upstream(job.id);
      } catch (e) {
        proxy.forget(job.id);
        throw new AppError('Unavailable', `"${content.name}" cannot be reached: ${(e as Error).message}`);
      }
      reply.hijack();
      const body = typeof (req.body as NodeJS.ReadableStream | undefined)?.pipe === 'function' ? (req.body as NodeJS.ReadableStream) : undefined;
      const t0 = Date.now();
      try {
        const r = await proxyHttp(req.raw, reply.raw, up, at.rest + at.query, { contentPrefix: at.prefix, extraHeaders: appHeaders(req, core, at), body });
        // A hijacked reply is not in Fastify's request log: say it here, the same way.
        req.log.info({ method: req.method, url: `${at.prefix}${at.rest}`, status: r.status, ms: Date.now() - t0, actor: req.caller?.actor ?? 'anonymous', job: job.key }, 'request');
      } catch (e) {
        proxy.forget(job.id);
        if (!reply.raw.headersSent) {
          const err = new AppError('Unavailable', `"${content.name}" did not answer: ${(e as Error).message}`);
          reply.raw.writeHead(503, { 'content-type': 'application/json; charset=utf-8' });
          reply.raw.end(JSON.stringify({ code: ERRORS.Unavailable.connect, error: err.message, payload: null }));
        } else reply.raw.destroy();
      } finally {
        runner.touch(job.id);
      }
    } catch (e) {
      const err = e instanceof AppError ? e : new AppError('Internal', 'Something went wrong serving this content; the server log has the details.');
      if (!(e instanceof AppError)) req.log.error({ err: e }, 'content serving failed');
      if (reply.sent || reply.raw.headersSent) return;
      // Answered in Connect's error shape (posit-sdk reads `code` and `error` from any error here).
      if (err.code === 'Unavailable') reply.header('Retry-After', '5');
      // A browser without a session gets a page that says how to sign in, as elsewhere.
      if (err.code === 'Unauthenticated' && req.method === 'GET' && (req.headers.accept ?? '').includes('text/html'))
        return reply
          .code(401)
          .header('Cache-Control', 'no-store')
          .type('text/html')
          .send(
            '<!doctype html><meta charset="utf-8"><title>Offhost: sign in</title><h1>Sign in to see this content</h1>' +
              '<p>Open the sign-in address the server printed when it started (or make one with <code>npx offhost login</code>), then this page again. ' +
              'Scripts send an API key in an <code>Authorization: Key …</code> header.</p>',
          );
      return reply.code(err.status).header('Cache-Control', 'no-store').send({ code: ERRORS[err.code].connect, error: err.message, payload: null });
    }
  }

  // WebSocket upgrades never reach Fastify's routes: authenticate and route them here.
  app.server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    const at = address(req.url ?? '');
    if (!at) {
      if (app.server.listenerCount('upgrade') === 1) socket.destroy();
      return;
    }
    void upgrade(req, socket, head, at).catch((e: unknown) => {
      const err = e instanceof AppError ? e : new AppError('Internal', 'Something went wrong opening this connection.');
      if (!(e instanceof AppError)) core.log.error({ err: e }, 'content WebSocket failed');
      const body = JSON.stringify({ code: ERRORS[err.code].connect, error: err.message, payload: null });
      if (socket.writable) socket.end(`HTTP/1.1 ${err.status} ${err.code}\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`);
    });
  });

  async function upgrade(req: IncomingMessage, socket: Duplex, head: Buffer, at: Address): Promise<void> {
    socket.on('error', () => socket.destroy());
    const caller = await rawCaller(core, req, allowedHosts);
    const content = await core.content.get(parseGuid(at.guid));
    checkAccess(core, content, caller, at.draft !== null);
    const bundle = await bundleOf(core, content, at.draft);
    if (bundle.app_mode === 'static' || isRendered(bundle.app_mode)) throw new AppError('NotFound', `"${content.name}" is a document, not an app: it takes no WebSocket connections.`);
    if (!proxy) throw new AppError('Unavailable', `"${content.name}" is an app, and no cluster is configured to run it on.`);
    const job = await runner.ready(content, bundle.id);
    const closed = runner.opened(job.id);
    try {
      const up = await proxy.upstream(job.id);
      const t0 = Date.now();
      const r = await proxyUpgrade(req, socket, head, up, (at.rest || '/') + at.query, { contentPrefix: at.prefix, extraHeaders: appHeaders({ headers: req.headers, protocol: 'http', host: req.headers.host ?? '' }, core, at) });
      core.log.info({ method: 'GET', url: `${at.prefix}${at.rest}`, status: r.status, ms: Date.now() - t0, actor: caller?.actor ?? 'anonymous', websocket: true }, 'request');
    } finally {
      closed();
    }
  }

  return serving;
}

interface Address {
  guid: string;
  /** /content/{guid} or /content/{guid}/_bundle{id} */
  prefix: string;
  /** The path after the prefix ("" when there is no slash after it), not decoded. */
  rest: string;
  /** "?…" or "". */
  query: string;
  /** The bundle id of a draft address, else null. */
  draft: number | null;
}

function address(url: string): Address | null {
  const q = url.indexOf('?');
  const p = q < 0 ? url : url.slice(0, q);
  const query = q < 0 ? '' : url.slice(q);
  const m = /^\/content\/([^/]+)(\/.*)?$/.exec(p);
  if (!m) return null;
  const guid = m[1]!;
  let rest = m[2] ?? '';
  let prefix = `/content/${guid}`;
  let draft: number | null = null;
  const d = /^\/_bundle([1-9]\d{0,15})(\/.*)?$/.exec(rest);
  if (d) {
    draft = Number(d[1]);
    prefix += `/_bundle${d[1]}`;
    rest = d[2] ?? '';
  }
  return { guid, prefix, rest, query, draft };
}

/** Whether the caller may see this content; throws 401/403 in words. */
export function canView(content: ContentRecord, caller: CallContext | undefined, draft: boolean): 'yes' | 'sign-in' | 'forbidden' {
  const privileged = caller !== undefined && (caller.role === 'admin' || (caller.user !== undefined && caller.user.guid === content.owner_guid));
  if (privileged) return 'yes';
  if (draft || content.locked) return caller ? 'forbidden' : 'sign-in';
  if (content.access_type === 'all') return 'yes';
  if (content.access_type === 'logged_in') return caller ? 'yes' : 'sign-in';
  return caller ? 'forbidden' : 'sign-in';
}

function checkAccess(_core: Core, content: ContentRecord, caller: CallContext | undefined, draft: boolean): void {
  const verdict = canView(content, caller, draft);
  if (verdict === 'yes') return;
  if (verdict === 'sign-in')
    throw new AppError('Unauthenticated', `"${content.name}" needs credentials: an "Authorization: Key <api key>" header or a signed-in browser session.`);
  if (content.locked && !draft) throw new AppError('Forbidden', content.locked_message || `"${content.name}" is locked.`);
  throw new AppError('Forbidden', draft ? `Only the owner of "${content.name}" or an admin may see its drafts.` : `"${content.name}" is shared with its owner only; ${caller?.user ? `${caller.user.username} is not` : 'your credentials have no user'}.`);
}

async function bundleOf(core: Core, content: ContentRecord, draft: number | null): Promise<BundleRecord> {
  const id = draft ?? content.bundle_id;
  if (id === null) throw new AppError('NotFound', `"${content.name}" has not been deployed yet: it has no active bundle.`);
  const b = await bundlesRepo.get(core.store.db, content.id, id);
  if (!b) throw new AppError('NotFound', `Content ${content.guid} has no bundle ${id}.`);
  return b;
}

async function noOutput(core: Core, content: ContentRecord, bundle: BundleRecord, draft: boolean): Promise<AppError> {
  const renders = (await jobsRepo.listForContent(core.store.db, content.id)).filter((j) => j.kind === 'render' && j.bundle_id === bundle.id);
  const live = renders.find((j) => ['queued', 'creating', 'pending', 'running'].includes(j.state));
  if (live) return new AppError('Unavailable', `"${content.name}" is being rendered (render job ${live.key} is ${live.state}); try again in a moment.`);
  if (draft) return new AppError('NotFound', `Bundle ${bundle.id} of "${content.name}" has no rendered output: a draft is built, and rendered once it is activated.`);
  const last = renders[0];
  return new AppError(
    'Unavailable',
    last
      ? `"${content.name}" has no rendered output: its last render job ${last.key} ${last.state}${last.message ? ` (${last.message})` : ''}.`
      : `"${content.name}" has no rendered output yet.`,
  );
}

/** What apps are told about the request (as Connect tells them). */
function appHeaders(req: { headers: IncomingMessage['headers']; protocol: string; host: string }, core: Core, at: Address): Record<string, string> {
  const base = core.config.publicUrl?.toString() ?? `${req.protocol}://${req.host}/`;
  const appBase = new URL(`${at.prefix.slice(1)}/`, base).toString();
  return {
    'x-forwarded-proto': new URL(base).protocol.replace(':', ''),
    'x-forwarded-host': new URL(base).host,
    'rstudio-connect-app-base-url': appBase,
    'x-rsc-request': new URL(`${at.prefix.slice(1)}${at.rest}${at.query}`, base).toString(),
  };
}

/** The caller of a request Fastify did not see (a WebSocket upgrade), by the same rules as http-auth.ts. */
async function rawCaller(core: Core, req: IncomingMessage, allowedHosts: Set<string>): Promise<CallContext | undefined> {
  const auth = req.headers.authorization;
  if (auth !== undefined) {
    const m = /^Key\s+(\S+)\s*$/i.exec(auth);
    const key = m ? await core.apiKeys.verify(m[1]!) : undefined;
    if (key) return { actor: `api-key:${key.name} (#${key.id})`, role: key.user?.user_role ?? key.role, ...(key.user ? { user: key.user } : {}) };
    if (m) throw new AppError('InvalidApiKey', 'The specified API key is not valid.');
  }
  const cookie = (req.headers.cookie ?? '')
    .split(';')
    .map((c) => c.trim())
    .find((c) => c.startsWith(`${SESSION_COOKIE}=`));
  if (!cookie) return undefined;
  // The cookie rides along with any page's request: only our own names and our own pages count.
  if (!hostAllowed(req.headers.host, allowedHosts)) throw new AppError('Forbidden', 'This server does not answer to that name.');
  const origin = req.headers.origin;
  if (origin !== undefined) {
    let originHost = '';
    try {
      originHost = new URL(origin).host.toLowerCase();
    } catch {
      // refused below
    }
    if (originHost !== String(req.headers.host ?? '').toLowerCase()) throw new AppError('Forbidden', 'Cross-origin WebSocket connections are not accepted.');
  }
  let value = cookie.slice(SESSION_COOKIE.length + 1);
  try {
    value = decodeURIComponent(value);
  } catch {
    return undefined;
  }
  const session = await core.sessions.verify(value);
  return session ? { actor: sessionActor(session), role: 'admin', session: session.id } : undefined;
}

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.htm': 'text/html; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.json': 'application/json',
  '.map': 'application/json',
  '.txt': 'text/plain; charset=utf-8',
  '.md': 'text/markdown; charset=utf-8',
  '.csv': 'text/csv; charset=utf-8',
  '.xml': 'application/xml',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.jpg': 'image/jpeg',
  '.jpeg': 'image/jpeg',
  '.gif': 'image/gif',
  '.webp': 'image/webp',
  '.ico': 'image/x-icon',
  '.pdf': 'application/pdf',
  '.woff': 'font/woff',
  '.woff2': 'font/woff2',
  '.ttf': 'font/ttf',
  '.otf': 'font/otf',
  '.wasm': 'application/wasm',
  '.zip': 'application/zip',
};

/** Serve `rest` (a URL path, still encoded) from `root`; the root's page is the manifest's index. */
async function sendFromDir(req: FastifyRequest, reply: FastifyReply, root: string, rest: string, manifest: Record<string, unknown>) {
  if (req.method !== 'GET' && req.method !== 'HEAD') throw new AppError('InvalidRequest', `A document or static site answers GET and HEAD, not ${req.method}.`);
  let segments: string[];
  try {
    segments = rest.split('/').filter(Boolean).map((s) => decodeURIComponent(s));
  } catch {
    throw new AppError('InvalidRequest', 'The address has a malformed %-escape.');
  }
  if (segments.some((s) => s === '..' || s === '.' || s.includes('\0') || s.includes('/') || s.includes('\\')) || segments.at(-1) === '.complete')
    throw new AppError('NotFound', 'Nothing is served at this address.');
  let rel = segments.join('/');
  if (rel === '') {
    const index = indexPage(root, manifest);
    if (!index) throw new AppError('NotFound', 'This content has no page to show at its root (no primary_html, no index.html).');
    rel = index;
  }
  let file = path.join(root, ...rel.split('/'));
  let st = await fs.promises.lstat(file).catch(() => undefined);
  if (st?.isDirectory()) {
    if (!rest.endsWith('/')) return reply.redirect(`${req.url.split('?')[0]}/${req.url.includes('?') ? req.url.slice(req.url.indexOf('?')) : ''}`, 301);
    file = path.join(file, 'index.html');
    st = await fs.promises.lstat(file).catch(() => undefined);
  }
  if (!st?.isFile()) throw new AppError('NotFound', `There is no ${rel} here.`);
  const etag = `"${st.size.toString(16)}-${Math.floor(st.mtimeMs).toString(16)}"`;
  reply
    .header('Content-Type', TYPES[path.extname(file).toLowerCase()] ?? 'application/octet-stream')
    .header('ETag', etag)
    .header('Last-Modified', st.mtime.toUTCString())
    .header('Cache-Control', 'no-cache')
    .header('Content-Security-Policy', CONTENT_CSP)
    .header('X-Frame-Options', 'SAMEORIGIN');
  if (req.headers['if-none-match'] === etag) return reply.code(304).send();
  reply.header('Content-Length', st.size);
  if (req.method === 'HEAD') return reply.send();
  return reply.send(fs.createReadStream(file));
}
