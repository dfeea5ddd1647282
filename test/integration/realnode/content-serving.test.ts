/**
 * Content reached through Offhost on the real node, desktop mode: the server (in this process, on
 * PostgreSQL) fills the content volume through the store pod and reaches apps through the API
 * server's service proxy with its kubeconfig's credentials.
 *   - a FastAPI app answers at /content/{guid}/ (JSON, a POST body, HTML links the API server
 *     rewrote are pointed back at /content/{guid}/, Offhost's credentials are not forwarded);
 *     unauthenticated and unpermitted callers are refused; latency next to the pod itself
 *   - an R Shiny app: its WebSocket round trip through the proxy
 *   - an app idle past idle_timeout is stopped ("stopped: idle"); the next requests (several at
 *     once) start it again, once, and are answered
 */
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import type { Duplex } from 'node:stream';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { startHttpServer, type HttpServer } from '../../../main/api/http-server';
import { loadConfig } from '../../../main/config';
import { createCore, type Core } from '../../../main/core';
import { ContentProxy, proxyHttp } from '../../../main/content/proxy';
import { createLogger } from '../../../main/log';
import { pino } from 'pino';
import { bundleOf } from '../connect-helpers.js';
import { keyedRequests } from './built-server.js';
import { BACKENDS } from '../backends.js';
import { eventually, kube, kubeconfigPath } from '../../cluster/kube.js';
import { REAL_NODE_NAME, REAL_NODE_TAINT } from '../../cluster/realnode.js';
import { enforceRestricted, figure, imageMeta, realNodeSkip, useContentClaim, useRealNodeNamespace } from './helpers.js';

const skip = realNodeSkip();
const postgres = BACKENDS.find((b) => b.name === 'postgres')!;


const MAIN_PY = `from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse

app = FastAPI()

@app.get("/")
def root():
    return {"hello": "offhost"}

@app.get("/headers")
def headers(request: Request):
    return {k.lower(): v for k, v in request.headers.items()}

@app.post("/echo")
async def echo(request: Request):
    body = await request.body()
    return {"got": body.decode(), "length": len(body)}

@app.get("/page", response_class=HTMLResponse)
def page():
    return '<html><body><a href="/docs">docs</a><img src="/static/x.png"><a href="relative">r</a></body></html>'
`;

const APP_R = `library(shiny)
ui <- fluidPage(textInput("x", "x"), textOutput("y"))
server <- function(input, output, session) {
  output$y <- renderText(paste("echo:", input$x))
}
shinyApp(ui, server)
`;

/** A minimal WebSocket client (text frames, masked as a client must), with custom headers. */
function openWebSocket(url: string, headers: Record<string, string>): Promise<{ status: number; ws?: { send(text: string): void; next(match: RegExp, timeoutMs?: number): Promise<string>; all: string[]; close(): void }; body?: string }> {
  return new Promise((resolve, reject) => {
    const key = randomBytes(16).toString('base64');
    const req = http.request(url, { headers: { ...headers, Connection: 'Upgrade', Upgrade: 'websocket', 'Sec-WebSocket-Version': '13', 'Sec-WebSocket-Key': key } });
    req.on('response', (res) => {
      let body = '';
      res.on('data', (d) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.on('upgrade', (res, socket: Duplex, head: Buffer) => {
      let buf = head;
      const messages: string[] = [];
      const all: string[] = [];
      const waiters: (() => void)[] = [];
      socket.on('data', (d: Buffer) => {
        buf = Buffer.concat([buf, d]);
        for (;;) {
          if (buf.length < 2) return;
          let len = buf[1]! & 0x7f;
          let off = 2;
          if (len === 126) {
            if (buf.length < 4) return;
            len = buf.readUInt16BE(2);
            off = 4;
          } else if (len === 127) {
            if (buf.length < 10) return;
            len = Number(buf.readBigUInt64BE(2));
            off = 10;
          }
          if (buf.length < off + len) return;
          const opcode = buf[0]! & 0x0f;
          const payload = buf.subarray(off, off + len);
          buf = buf.subarray(off + len);
          if (opcode === 1) {
            messages.push(payload.toString('utf8'));
            all.push(payload.toString('utf8'));
          }
          waiters.splice(0).forEach((w) => w());
        }
      });
      const send = (text: string) => {
        const data = Buffer.from(text);
        const mask = randomBytes(4);
        const header = data.length < 126 ? Buffer.from([0x81, 0x80 | data.length]) : Buffer.from([0x81, 0x80 | 126, data.length >> 8, data.length & 0xff]);
        const masked = Buffer.from(data.map((b, i) => b ^ mask[i % 4]!));
        socket.write(Buffer.concat([header, mask, masked]));
      };
      const next = async (match: RegExp, timeoutMs = 30_000) => {
        const deadline = Date.now() + timeoutMs;
        for (;;) {
          const i = messages.findIndex((m) => match.test(m));
          if (i >= 0) return messages.splice(0, i + 1).at(-1)!;
          if (Date.now() > deadline) throw new Error(`no WebSocket message matching ${match} in ${timeoutMs} ms (got: ${messages.join(' | ').slice(0, 500)})`);
          await new Promise<void>((r) => {
            waiters.push(r);
            setTimeout(r, 200);
          });
        }
      };
      resolve({ status: res.statusCode ?? 0, ws: { send, next, all, close: () => socket.destroy() } });
    });
    req.end();
  });
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

describe.skipIf(!!skip)('content through Offhost on the real node (desktop mode: store pod + API server proxy)', () => {
  const ns = useRealNodeNamespace('rn-serve');
  const claim = useContentClaim(ns);
  let core: Core;
  let server: HttpServer;
  let dataDir: string;
  let drop: () => Promise<void>;
  let pub: string;
  let viewer: string;
  let logFile: string;

  const req = keyedRequests(() => server.url, () => pub);

  /** Create content, upload the bundle and deploy it; resolves with the finished task. */
  async function deploy(name: string, b: Buffer, settings: Record<string, unknown> = {}) {
    // Small CPU requests: the real node has 2 cores, and running apps keep theirs until idle.
    const c = (await req('POST', '/__api__/v1/content', { body: { name, cpu_request: 0.05, ...settings } })).json;
    expect(c.guid, JSON.stringify(c)).toBeTruthy();
    const up = await req('POST', `/__api__/v1/content/${c.guid}/bundles`, { raw: b });
    expect(up.status, up.text).toBe(200);
    const task = (await req('POST', `/__api__/v1/content/${c.guid}/deploy`, { body: { bundle_id: up.json.id } })).json.task_id;
    const lines: string[] = [];
    let first = 0;
    const t0 = Date.now();
    for (;;) {
      const t = (await req('GET', `/__api__/v1/tasks/${task}?first=${first}&wait=1`)).json;
      lines.push(...t.output);
      first = t.last;
      if (t.finished) {
        expect(t.code, lines.join('\n')).toBe(0);
        return { guid: c.guid as string, lines, ms: Date.now() - t0 };
      }
      if (Date.now() - t0 > 150_000) throw new Error(`deploy of ${name} did not finish in 150 s:\n${lines.join('\n')}\n(server log: ${logFile})`);
    }
  }

  async function runJobs(guid: string) {
    return (await req('GET', `/__api__/v1/content/${guid}/jobs`)).json.filter((j: { tag: string }) => j.tag.startsWith('run_')) as { key: string; status: number; id: string }[];
  }

  beforeAll(async () => {
    await enforceRestricted(ns.name);
    dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'rn-serve-'));
    const db = await postgres.create();
    drop = db.drop;
    const placement = {
      nodeSelector: { 'kubernetes.io/hostname': REAL_NODE_NAME },
      tolerations: [{ key: REAL_NODE_TAINT.key, operator: 'Equal' as const, value: REAL_NODE_TAINT.value, effect: REAL_NODE_TAINT.effect }],
    };
    const config = loadConfig(
      {},
      {
        dataDir,
        port: 0,
        database: db.config,
        environmentsFile: null,
        kube: { source: { kind: 'files', files: [kubeconfigPath()], from: 'OFFHOST_KUBECONFIG' }, context: null, namespace: ns.name, placement },
        contentVolume: { claim: claim.name, mountPath: null, storeImage: imageMeta('python').ref },
      },
    );
    logFile = path.join(dataDir, 'server.log');
    core = await createCore(config, createLogger('info', pino.destination({ dest: logFile, sync: true })), 'server');
    server = await startHttpServer(core);
    const admin = (await core.apiKeys.create('admin', 'admin', 'test', { user: 'alice' })).key;
    pub = (await core.apiKeys.create('publisher', 'publisher', 'test', { user: 'pat' })).key;
    viewer = (await core.apiKeys.create('viewer', 'viewer', 'test', { user: 'vic' })).key;
    const py = imageMeta('python').runtimes.python!;
    const r = imageMeta('r').runtimes.r!;
    for (const env of [
      { name: imageMeta('python').ref, title: 'Python', python: { installations: [{ version: py.version, path: py.path }] } },
      { name: imageMeta('r').ref, title: 'R', r: { installations: [{ version: r.version, path: r.path }] } },
    ]) {
      const e = await req('POST', '/__api__/v1/environments', { key: admin, body: { cluster_name: 'Kubernetes', ...env } });
      expect(e.status, e.text).toBe(200);
    }
  }, 300_000);

  afterAll(async () => {
    await server?.close();
    await core?.close();
    await drop?.();
    if (dataDir) {
      fs.copyFileSync(logFile, '/tmp/rn-serve-last.log');
      fs.rmSync(dataDir, { recursive: true, force: true });
    }
  }, 60_000);

  const fastapiManifest = () => ({ version: 1, metadata: { appmode: 'python-fastapi', entrypoint: 'main:app' }, python: { version: imageMeta('python').runtimes.python!.version } });

  it('a FastAPI app answers at /content/{guid}/ through the API server proxy; callers are checked first', { timeout: 300_000 }, async () => {
    const d = await deploy('hello-api', bundleOf(fastapiManifest(), { 'main.py': MAIN_PY }));
    expect(d.lines.join('\n')).toMatch(/Copying bundle [0-9a-f]{12} .* through the store pod/);
    const base = `/content/${d.guid}/`;

    const t0 = performance.now();
    const first = await req('GET', base);
    const firstMs = performance.now() - t0;
    expect(first.status, first.text).toBe(200);
    expect(first.json).toEqual({ hello: 'offhost' });

    // who may: the owner yes; no credentials, a viewer (acl) no
    expect((await req('GET', base, { key: null })).status).toBe(401);
    expect((await req('GET', base, { key: viewer })).status).toBe(403);

    // a body goes through; Offhost's key does not reach the app; the app learns its public address
    const echo = await req('POST', `${base}echo`, { raw: Buffer.from('x'.repeat(100_000)) });
    expect(echo.json).toEqual({ got: 'x'.repeat(100_000), length: 100_000 });
    const seen = (await req('GET', `${base}headers`, { headers: { Cookie: 'offhost_session=secret; theirs=1' } })).json;
    expect(seen.authorization ?? '').not.toMatch(/^Key /);
    expect(seen.cookie).toBe('theirs=1');
    expect(seen['rstudio-connect-app-base-url']).toBe(`${server.url}content/${d.guid}/`);
    // links the API server rewrote to its own prefix point back at /content/{guid}/
    const page = await req('GET', `${base}page`);
    expect(page.text).toContain(`href="/content/${d.guid}/docs"`);
    expect(page.text).toContain(`src="/content/${d.guid}/static/x.png"`);
    expect(page.text).toContain('href="relative"');
    expect(page.text).not.toContain('/api/v1/namespaces');

    // latency: 100 requests through Offhost (API server proxy) next to the same straight to the pod
    const { core: kcore } = kube();
    const run = (await runJobs(d.guid))[0]!;
    const pod = (await kcore.listNamespacedPod({ namespace: ns.name, labelSelector: `offhost.dev/job-id=${run.id}` })).items[0]!;
    const direct = async () => {
      const t = performance.now();
      const r = await fetch(`http://${pod.status!.podIP}:8080/`);
      await r.text();
      return performance.now() - t;
    };
    const viaOffhost = async () => {
      const t = performance.now();
      const r = await req('GET', base);
      expect(r.status).toBe(200);
      return performance.now() - t;
    };
    const a: number[] = [];
    const b: number[] = [];
    for (let i = 0; i < 100; i++) {
      a.push(await viaOffhost());
      b.push(await direct());
    }
    a.sort((x, y) => x - y);
    b.sort((x, y) => x - y);
    // In-cluster mode: the same app straight at its ready pod's address (the host reaches pod
    // addresses through the node's bridge, as a server pod would through the pod network).
    const directProxy = new ContentProxy('direct', () => ({ kc: kube().kc, context: '', namespace: ns.name, server: kube().kc.getCurrentCluster()!.server }));
    const up = await directProxy.upstream(Number(run.id));
    expect(up.base.toString()).toBe(`http://${pod.status!.podIP}:8080/`);
    const front = http.createServer((rq, rs) => void proxyHttp(rq, rs, up, rq.url ?? '/', { contentPrefix: '/content/x', extraHeaders: {} }));
    await new Promise<void>((r) => front.listen(0, '127.0.0.1', r));
    try {
      const port = (front.address() as { port: number }).port;
      const viaDirect = await fetch(`http://127.0.0.1:${port}/echo`, { method: 'POST', body: 'direct' });
      expect(await viaDirect.json()).toEqual({ got: 'direct', length: 6 });
    } finally {
      front.close();
      directProxy.close();
    }

    figure('proxy: first request through Offhost (API server service proxy)', `${firstMs.toFixed(1)} ms`);
    figure(
      'proxy: 100 requests, Offhost → API server → pod vs straight to the pod',
      `p50 ${percentile(a, 50).toFixed(2)} ms vs ${percentile(b, 50).toFixed(2)} ms (×${(percentile(a, 50) / percentile(b, 50)).toFixed(1)}), p99 ${percentile(a, 99).toFixed(2)} ms vs ${percentile(b, 99).toFixed(2)} ms (×${(percentile(a, 99) / percentile(b, 99)).toFixed(1)})`,
    );
    figure('deploy (copy, build, start) of the FastAPI app through the API', `${(d.ms / 1000).toFixed(1)} s`);
  });

  it('an R Shiny app: the page, then a WebSocket round trip through the proxy; no WebSocket without credentials', { timeout: 300_000 }, async () => {
    const d = await deploy('shiny-echo', bundleOf({ version: 1, metadata: { appmode: 'shiny', entrypoint: 'app.R' }, platform: imageMeta('r').runtimes.r!.version, packages: {} }, { 'app.R': APP_R }));
    const page = await req('GET', `/content/${d.guid}/`);
    expect(page.status, page.text).toBe(200);
    expect(page.text).toMatch(/shiny/i);

    const wsUrl = new URL(`content/${d.guid}/websocket/`, server.url).toString();
    const refused = await openWebSocket(wsUrl, {});
    expect(refused.status).toBe(401);
    expect(refused.ws).toBeUndefined();

    const t0 = performance.now();
    const { status, ws } = await openWebSocket(wsUrl, { Authorization: `Key ${pub}` });
    expect(status).toBe(101);
    try {
      // The browser's first message; Shiny answers with its config and the outputs' values.
      ws!.send(JSON.stringify({ method: 'init', data: { x: 'hello', '.clientdata_output_y_hidden': false } }));
      expect(await ws!.next(/echo: hello/)).toContain('"y":"echo: hello"');
      const opened = performance.now() - t0;
      expect(ws!.all.some((m) => /"config"/.test(m) && /sessionId/.test(m))).toBe(true);
      const t1 = performance.now();
      ws!.send(JSON.stringify({ method: 'update', data: { x: 'again' } }));
      expect(await ws!.next(/echo: again/)).toContain('"y":"echo: again"');
      figure('WebSocket through Offhost + API server proxy (Shiny)', `open + init → first output ${opened.toFixed(0)} ms; one input → output round trip ${(performance.now() - t1).toFixed(0)} ms`);
    } finally {
      ws!.close();
    }
  });

  it("rsconnect's verify: a draft's app answers at /content/{guid}/_bundle{id}/ without replacing the live one; a draft that cannot start answers 503", { timeout: 300_000 }, async () => {
    const v1 = MAIN_PY.replace('"hello": "offhost"', '"hello": "v1"');
    const v2 = MAIN_PY.replace('"hello": "offhost"', '"hello": "v2"');
    const d = await deploy('versions', bundleOf(fastapiManifest(), { 'main.py': v1 }));
    const live = (await runJobs(d.guid))[0]!;
    expect((await req('GET', `/content/${d.guid}/`)).json).toEqual({ hello: 'v1' });

    // a draft, as rsconnect deploys it first: built, not activated
    const draftDeploy = async (files: Record<string, string>) => {
      const up = (await req('POST', `/__api__/v1/content/${d.guid}/bundles`, { raw: bundleOf(fastapiManifest(), files) })).json;
      const task = (await req('POST', `/__api__/v1/content/${d.guid}/deploy`, { body: { bundle_id: up.id, activate: false } })).json.task_id;
      await eventually(async () => (await req('GET', `/__api__/v1/tasks/${task}?wait=1`)).json.finished, { what: 'the draft build', timeoutMs: 120_000 });
      return up.id as string;
    };
    const b2 = await draftDeploy({ 'main.py': v2 });
    const t0 = Date.now();
    const draft = await req('GET', `/content/${d.guid}/_bundle${b2}/`);
    expect(draft.status, draft.text).toBe(200);
    expect(draft.json).toEqual({ hello: 'v2' });
    figure('verify: a draft app started by the first request to its _bundle address', `${((Date.now() - t0) / 1000).toFixed(1)} s`);
    // the live app still serves the content's address, and was not replaced by the draft's run
    expect((await req('GET', `/content/${d.guid}/`)).json).toEqual({ hello: 'v1' });
    expect((await req('GET', `/__api__/v1/content/${d.guid}/jobs/${live.key}`)).json.status).toBe(0);

    // a draft whose app fails on start: 5xx, so rsconnect does not activate it
    const b3 = await draftDeploy({ 'main.py': 'raise SystemExit("broken on purpose")\n' });
    const broken = await req('GET', `/content/${d.guid}/_bundle${b3}/`);
    expect(broken.status, broken.text).toBe(503);
    expect(broken.json.error).toMatch(/did not start: its run job \S+ failed/);
    expect((await req('GET', `/content/${d.guid}/`)).json).toEqual({ hello: 'v1' });
  });

  it('an R Markdown report: rendered, its output fetched back through the store pod, served at /content/{guid}/', { timeout: 300_000 }, async () => {
    const rmd = '---\ntitle: "Offhost report"\noutput: html_document\n---\n\nThe answer is `r 6 * 7`.\n';
    const d = await deploy('report', bundleOf({ version: 1, metadata: { appmode: 'rmd-static', primary_rmd: 'report.Rmd' }, platform: imageMeta('r').runtimes.r!.version, packages: {} }, { 'report.Rmd': rmd }));
    const t0 = performance.now();
    const page = await req('GET', `/content/${d.guid}/`);
    expect(page.status, page.text).toBe(200);
    expect(page.headers.get('content-type')).toBe('text/html; charset=utf-8');
    expect(page.text).toContain('The answer is 42');
    figure('R Markdown: deploy (copy, build, render) through the API; first GET of the page', `${(d.ms / 1000).toFixed(1)} s; ${(performance.now() - t0).toFixed(0)} ms`);
    // kept in the data directory, complete
    const outputs = path.join(dataDir, 'outputs', d.guid);
    const [jobDir] = fs.readdirSync(outputs).filter((n) => /^\d+$/.test(n));
    expect(fs.existsSync(path.join(outputs, jobDir!, '.complete'))).toBe(true);
  });

  it('an app idle past idle_timeout is stopped; the next requests (5 at once) start it again, once', { timeout: 300_000 }, async () => {
    const d = await deploy('sleepy-api', bundleOf(fastapiManifest(), { 'main.py': MAIN_PY }), { idle_timeout: 3 });
    expect((await req('GET', `/content/${d.guid}/`)).status).toBe(200);
    const [first] = await runJobs(d.guid);
    // idle_timeout 3 s, checked every 5 s
    const stopped = await eventually(
      async () => {
        const j = (await req('GET', `/__api__/v1/content/${d.guid}/jobs/${first!.key}`)).json;
        return j.status !== 0 ? j : undefined;
      },
      { what: 'the idle app stopped', timeoutMs: 30_000, intervalMs: 500 },
    );
    const row = await core.store.db.selectFrom('jobs').select(['state', 'message']).where('key', '=', first!.key).executeTakeFirstOrThrow();
    expect(row.state).toBe('cancelled');
    expect(row.message).toMatch(/stopped: idle, no request for 3 s/);
    expect(stopped.status).not.toBe(0);

    const t0 = Date.now();
    const answers = await Promise.all(Array.from({ length: 5 }, () => req('GET', `/content/${d.guid}/`)));
    const wake = Date.now() - t0;
    for (const a of answers) {
      expect(a.status, a.text).toBe(200);
      expect(a.json).toEqual({ hello: 'offhost' });
    }
    const runs = await runJobs(d.guid);
    expect(runs).toHaveLength(2); // the stopped one and exactly one new one
    expect(runs.filter((j) => j.status === 0)).toHaveLength(1);
    figure('wake: a stopped FastAPI app, 5 concurrent requests answered after', `${(wake / 1000).toFixed(1)} s (one run job started)`);
  });
});
