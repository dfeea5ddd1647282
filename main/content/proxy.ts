// A running app or API reached through Offhost at /content/{guid}/ (HTTP and WebSocket):
// - 'apiserver' (desktop): through the Kubernetes API server's service proxy,
//   /api/v1/namespaces/{ns}/services/{name}:http/proxy/…, authenticated with the kubeconfig's own
//   credentials (kc.applyToHTTPSOptions). The API server rewrites absolute links in HTML and
//   Location headers to its own prefix; they are rewritten back to /content/{guid}/ here.
// - 'direct' (in-cluster): to the ready pod's address on the app port (the Service's endpoint).
// Offhost's own credentials never reach the app: an "Authorization: Key …" header and the
// session cookie are removed from what is forwarded.
import http from 'node:http';
import https from 'node:https';
import type { Duplex } from 'node:stream';
import zlib from 'node:zlib';
import * as k8s from '@kubernetes/client-node';
import { SESSION_COOKIE } from '../auth/session';
import type { KubeConnection } from '../kube/config';
import { APP_PORT, LABELS, objectName } from '../kube/manifests';

export type ProxyMode = 'apiserver' | 'direct';

/** Where one app is reached: a base URL (no trailing slash) and how to connect. */
export interface Upstream {
  base: URL;
  /** TLS and credentials for the API server; undefined for plain HTTP to a pod. */
  tls?: https.RequestOptions;
  headers: Record<string, string>;
  agent: http.Agent;
  /** The API server's prefix for this Service (apiserver mode), to be rewritten back. */
  apiPrefix?: string;
}

const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'proxy-authenticate', 'proxy-authorization', 'te', 'trailer', 'transfer-encoding', 'upgrade', 'host', 'content-length']);
/** HTML bodies larger than this are passed through without rewriting links. */
const MAX_REWRITE_BYTES = 16 * 1024 * 1024;
/** How long a job's resolved address and credentials are reused. */
const UPSTREAM_TTL_MS = 30_000;
/** How long a ready app's first requests wait for the API server to learn its endpoint. */
const ENDPOINT_WAIT_MS = 10_000;

export class ContentProxy {
  private readonly agents = new Map<string, https.Agent>();
  private readonly directAgent = new http.Agent({ keepAlive: true, maxSockets: 64 });
  private readonly podAddresses = new Map<number, string>();
  private readonly upstreams = new Map<number, { up: Upstream; at: number }>();

  constructor(
    readonly mode: ProxyMode,
    private readonly connect: () => KubeConnection,
  ) {}

  /** Forget a job's cached address (it ended). */
  forget(jobId: number): void {
    this.podAddresses.delete(jobId);
    this.upstreams.delete(jobId);
  }

  /**
   * How to reach a job's app. Kept for UPSTREAM_TTL_MS: reading the kubeconfig and its credentials
   * on every request would cost more than the request (exec-plugin tokens are re-read after it).
   */
  async upstream(jobId: number): Promise<Upstream> {
    const hit = this.upstreams.get(jobId);
    if (hit && Date.now() - hit.at < UPSTREAM_TTL_MS) return hit.up;
    const up = await this.resolve(jobId);
    for (const [id, e] of this.upstreams) if (Date.now() - e.at >= UPSTREAM_TTL_MS) this.upstreams.delete(id);
    this.upstreams.set(jobId, { up, at: Date.now() });
    return up;
  }

  private async resolve(jobId: number): Promise<Upstream> {
    const conn = this.connect();
    if (this.mode === 'direct') {
      let addr = this.podAddresses.get(jobId);
      if (!addr) {
        const core = conn.kc.makeApiClient(k8s.CoreV1Api);
        const pods = await core.listNamespacedPod({ namespace: conn.namespace, labelSelector: `${LABELS.managedBy}=offhost,${LABELS.jobId}=${jobId}` });
        const pod = pods.items.find((p) => p.status?.podIP && p.status.conditions?.some((c) => c.type === 'Ready' && c.status === 'True'));
        if (!pod) throw new Error(`the pod of job ${jobId} has no ready address`);
        addr = pod.status!.podIP!.includes(':') ? `[${pod.status!.podIP}]` : pod.status!.podIP!;
        this.podAddresses.set(jobId, addr);
      }
      return { base: new URL(`http://${addr}:${APP_PORT}`), headers: {}, agent: this.directAgent };
    }
    const server = new URL(conn.server);
    const opts: https.RequestOptions = {};
    await conn.kc.applyToHTTPSOptions(opts);
    const apiPrefix = `/api/v1/namespaces/${conn.namespace}/services/${objectName(jobId)}:http/proxy`;
    const headers: Record<string, string> = {};
    for (const [k, v] of Object.entries((opts.headers ?? {}) as Record<string, string>)) headers[k.toLowerCase()] = String(v);
    const tls = { ca: opts.ca, cert: opts.cert, key: opts.key, rejectUnauthorized: opts.rejectUnauthorized, servername: opts.servername };
    const agentKey = `${conn.server}|${String(opts.cert ?? '').length}|${String(opts.ca ?? '').length}`;
    let agent = this.agents.get(agentKey);
    if (!agent) {
      agent = new https.Agent({ keepAlive: true, maxSockets: 64, ...tls });
      this.agents.set(agentKey, agent);
    }
    return { base: new URL(`${server.protocol}//${server.host}${server.pathname.replace(/\/$/, '')}${apiPrefix}`), tls, headers, agent, apiPrefix };
  }

  close(): void {
    for (const a of this.agents.values()) a.destroy();
    this.directAgent.destroy();
  }
}

/** The app's URL for a path after /content/{guid} ("/x?y"): the base's path, then it (one slash between). */
export function targetOf(up: Upstream, path: string): URL {
  return new URL(`${up.base.origin}${up.base.pathname.replace(/\/+$/, '')}${path.startsWith('/') ? path : `/${path}`}`);
}

/** The headers an app gets: the client's, without hop-by-hop ones and without Offhost's credentials. */
export function forwardHeaders(raw: http.IncomingHttpHeaders, extra: Record<string, string>): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {};
  const connectionTokens = String(raw.connection ?? '')
    .split(',')
    .map((t) => t.trim().toLowerCase())
    .filter(Boolean);
  for (const [name, value] of Object.entries(raw)) {
    if (value === undefined || HOP_BY_HOP.has(name) || connectionTokens.includes(name)) continue;
    if (name === 'authorization' && /^\s*key\s/i.test(String(value))) continue;
    if (name === 'cookie') {
      const kept = String(value)
        .split(';')
        .map((c) => c.trim())
        .filter((c) => c && c.split('=')[0]!.trim() !== SESSION_COOKIE);
      if (kept.length) out.cookie = kept.join('; ');
      continue;
    }
    if (name.startsWith('x-forwarded-')) continue;
    out[name] = value;
  }
  return { ...out, ...extra };
}

/** What the app sent back, for the client: hop-by-hop headers dropped, the API server's prefix undone. */
export function responseHeaders(raw: http.IncomingHttpHeaders, up: Upstream, contentPrefix: string): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {};
  for (const [name, value] of Object.entries(raw)) {
    if (value === undefined || HOP_BY_HOP.has(name) || name === 'audit-id') continue;
    out[name] = name === 'location' && up.apiPrefix ? unprefix(String(value), up, contentPrefix) : value;
  }
  return out;
}

/** The API server's rewritten address (absolute or a path) → the same place under /content/{guid}. */
export function unprefix(text: string, up: Upstream, contentPrefix: string): string {
  if (!up.apiPrefix) return text;
  const origin = `${up.base.protocol}//${up.base.host}`;
  return text.split(`${origin}${up.apiPrefix}`).join(contentPrefix).split(up.apiPrefix).join(contentPrefix);
}

/**
 * Forward one HTTP request to the app and stream the answer back. `path` is what follows
 * /content/{guid} (starting with "/", with the query). Resolves when the response is sent.
 */
export function proxyHttp(
  req: http.IncomingMessage,
  res: http.ServerResponse,
  up: Upstream,
  path: string,
  opts: { contentPrefix: string; extraHeaders: Record<string, string>; body?: NodeJS.ReadableStream },
): Promise<{ status: number }> {
  const bodyless = req.method === 'GET' || req.method === 'HEAD' || req.method === 'OPTIONS';
  return new Promise((resolve, reject) => {
    const target = targetOf(up, path);
    const headers = forwardHeaders(req.headers, { ...opts.extraHeaders, ...up.headers, host: target.host });
    if (req.headers['content-length'] !== undefined) headers['content-length'] = req.headers['content-length'];
    if (req.headers['transfer-encoding'] !== undefined) headers['transfer-encoding'] = req.headers['transfer-encoding'];
    const send = up.tls ? https.request : http.request;
    const deadline = Date.now() + ENDPOINT_WAIT_MS;
    const attempt = (): void => {
      const upReq = send(
        {
          protocol: target.protocol,
          hostname: target.hostname.replace(/^\[|\]$/g, ''),
          port: target.port,
          method: req.method,
          path: target.pathname + target.search,
          headers,
          agent: up.agent,
          ...(up.tls ?? {}),
        },
        (upRes) => {
          const status = upRes.statusCode ?? 502;
          // The pod is ready, but the API server may not know its endpoint yet (the EndpointSlice
          // follows the pod's readiness by a moment): its "no endpoints available" is retried
          // briefly, for requests without a body.
          if (status === 503 && up.apiPrefix && bodyless && Date.now() < deadline && !upRes.headers['content-type']?.includes('html')) {
            const chunks: Buffer[] = [];
            upRes.on('data', (c: Buffer) => chunks.push(c));
            upRes.on('end', () => {
              const text = Buffer.concat(chunks).toString('utf8');
              if (/no endpoints available for service/.test(text)) return void setTimeout(attempt, 100);
              res.writeHead(status, responseHeaders(upRes.headers, up, opts.contentPrefix));
              res.end(text);
              resolve({ status });
            });
            upRes.on('error', reject);
            return;
          }
          const out = responseHeaders(upRes.headers, up, opts.contentPrefix);
          const type = String(upRes.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
          const encoding = String(upRes.headers['content-encoding'] ?? '').toLowerCase();
          const rewrite = up.apiPrefix && type === 'text/html' && (encoding === '' || encoding === 'gzip') && req.method !== 'HEAD';
          if (!rewrite) {
            res.writeHead(status, out);
            upRes.pipe(res);
            upRes.on('end', () => resolve({ status }));
            upRes.on('error', reject);
            return;
          }
          // HTML through the API server: read it whole (bounded), undo the API server's prefix.
          const chunks: Buffer[] = [];
          let size = 0;
          let passed = false;
          upRes.on('data', (c: Buffer) => {
            if (passed) return;
            size += c.length;
            chunks.push(c);
            if (size > MAX_REWRITE_BYTES) {
              passed = true;
              res.writeHead(status, out);
              for (const b of chunks) res.write(b);
              upRes.pipe(res);
            }
          });
          upRes.on('end', () => {
            if (passed) return resolve({ status });
            let body = Buffer.concat(chunks);
            if (encoding === 'gzip') {
              try {
                body = zlib.gunzipSync(body);
              } catch {
                res.writeHead(status, out);
                res.end(Buffer.concat(chunks));
                return resolve({ status });
              }
              delete out['content-encoding'];
            }
            const text = unprefix(body.toString('utf8'), up, opts.contentPrefix);
            out['content-length'] = String(Buffer.byteLength(text));
            res.writeHead(status, out);
            res.end(text);
            resolve({ status });
          });
          upRes.on('error', reject);
        },
      );
      upReq.on('error', reject);
      res.on('close', () => {
        if (!res.writableFinished) upReq.destroy();
      });
      const body = opts.body ?? req;
      if (bodyless) upReq.end();
      else body.pipe(upReq);
    };
    attempt();
  });
}

/**
 * Forward a WebSocket upgrade to the app and splice the two sockets together. `onOpen` is called
 * once the app accepted; the returned promise settles when both sides are closed (or the app
 * refused: its answer is passed to the client).
 */
export function proxyUpgrade(req: http.IncomingMessage, socket: Duplex, head: Buffer, up: Upstream, path: string, opts: { contentPrefix: string; extraHeaders: Record<string, string> }): Promise<{ status: number }> {
  return new Promise((resolve) => {
    const target = targetOf(up, path);
    const headers = forwardHeaders(req.headers, { ...opts.extraHeaders, ...up.headers, host: target.host });
    headers.connection = 'Upgrade';
    headers.upgrade = String(req.headers.upgrade ?? 'websocket');
    const send = up.tls ? https.request : http.request;
    // No pooled agent: an upgraded socket leaves the pool anyway.
    const upReq = send({
      protocol: target.protocol,
      hostname: target.hostname.replace(/^\[|\]$/g, ''),
      port: target.port,
      method: 'GET',
      path: target.pathname + target.search,
      headers,
      agent: false,
      ...(up.tls ?? {}),
    });
    upReq.on('upgrade', (upRes, upSocket, upHead) => {
      const lines = [`HTTP/1.1 ${upRes.statusCode ?? 101} ${upRes.statusMessage ?? 'Switching Protocols'}`];
      for (let i = 0; i < upRes.rawHeaders.length; i += 2) {
        if (upRes.rawHeaders[i]!.toLowerCase() === 'audit-id') continue;
        lines.push(`${upRes.rawHeaders[i]}: ${upRes.rawHeaders[i + 1]}`);
      }
      socket.write(`${lines.join('\r\n')}\r\n\r\n`);
      if (upHead.length) socket.write(upHead);
      if (head.length) upSocket.write(head);
      upSocket.pipe(socket);
      socket.pipe(upSocket);
      let done = false;
      const end = () => {
        if (done) return;
        done = true;
        upSocket.destroy();
        socket.destroy();
        resolve({ status: 101 });
      };
      upSocket.on('close', end);
      socket.on('close', end);
      upSocket.on('error', end);
      socket.on('error', end);
    });
    upReq.on('response', (upRes) => {
      // The app (or the API server) did not switch protocols: pass its answer on and close.
      const status = upRes.statusCode ?? 502;
      const out = responseHeaders(upRes.headers, up, opts.contentPrefix);
      const lines = [`HTTP/1.1 ${status} ${upRes.statusMessage ?? ''}`];
      for (const [k, v] of Object.entries(out)) for (const one of Array.isArray(v) ? v : [v]) lines.push(`${k}: ${one}`);
      lines.push('connection: close');
      socket.write(`${lines.join('\r\n')}\r\n\r\n`);
      upRes.pipe(socket);
      upRes.on('end', () => {
        socket.end();
        resolve({ status });
      });
    });
    upReq.on('error', (e) => {
      const body = `The app could not be reached: ${e.message}\n`;
      socket.end(`HTTP/1.1 502 Bad Gateway\r\ncontent-type: text/plain; charset=utf-8\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`);
      resolve({ status: 502 });
    });
    socket.on('error', () => upReq.destroy());
    upReq.end();
  });
}
