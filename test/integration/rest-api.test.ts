// The headless server over real HTTP: credentials, the Connect-compatible environments API with
// each status code, bad bodies, and the UI's own contract transport (RPC + Server-Sent Events).
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startHttpServer, type HttpServer } from '../../main/api/http-server';
import { loadConfig } from '../../main/config';
import { createCore, type Core } from '../../main/core';
import { silentLogger } from '../../main/log';

let dir: string;
let core: Core;
let server: HttpServer;
const keys: Record<'admin' | 'publisher' | 'viewer', string> = { admin: '', publisher: '', viewer: '' };
const envFile = () => path.join(dir, 'environments.yaml');

beforeAll(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'offhost-rest-'));
  fs.mkdirSync(path.join(dir, 'ui'));
  fs.writeFileSync(path.join(dir, 'ui', 'index.html'), '<!doctype html><title>Offhost test UI</title>');
  fs.writeFileSync(envFile(), '- name: ghcr.io/org/managed:1\n  title: Managed\n');
  const config = loadConfig({}, { dataDir: dir, port: 0, bodyLimitBytes: 64 * 1024, environmentsFile: envFile() });
  core = await createCore(config, silentLogger, 'server');
  server = await startHttpServer(core, { rendererDir: path.join(dir, 'ui') });
  for (const role of ['admin', 'publisher', 'viewer'] as const) keys[role] = (await core.apiKeys.create(`${role} key`, role, 'test')).key;
});

afterAll(async () => {
  await server.close();
  await core.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

const url = (p: string) => new URL(p, server.url).toString();
const ENVS = '/__api__/v1/environments';

async function req(method: string, p: string, opts: { key?: string | null; body?: unknown; raw?: string; headers?: Record<string, string> } = {}) {
  const headers: Record<string, string> = { ...opts.headers };
  if (opts.key !== null) headers.Authorization = `Key ${opts.key ?? keys.admin}`;
  let body: string | undefined;
  if (opts.raw !== undefined) body = opts.raw;
  else if (opts.body !== undefined) body = JSON.stringify(opts.body);
  if (body !== undefined && !headers['Content-Type']) headers['Content-Type'] = 'application/json';
  const res = await fetch(url(p), { method, headers, body, redirect: 'manual' });
  const text = await res.text();
  let json: any;
  try {
    json = text ? JSON.parse(text) : undefined;
  } catch {
    json = undefined;
  }
  return { status: res.status, json, text, headers: res.headers };
}

const newEnv = (over: Record<string, unknown> = {}) => ({
  cluster_name: 'Kubernetes',
  name: 'ghcr.io/rstudio/content-base:r4.3.1-py3.11.9',
  title: 'Content base',
  python: { installations: [{ version: '3.11.9', path: '/opt/python/3.11.9/bin/python3' }] },
  r: { installations: [{ version: '4.3.1', path: '/opt/R/4.3.1/bin/R' }] },
  ...over,
});

describe('credentials', () => {
  it('the health check answers without them', async () => {
    const r = await req('GET', '/healthz', { key: null });
    expect(r.status).toBe(200);
    expect(r.json).toEqual({ status: 'ok' });
  });

  it.each([
    ['GET', ENVS],
    ['POST', ENVS],
    ['GET', '/'],
    ['GET', '/assets/index.js'],
    ['POST', '/api/call/environments.list'],
    ['GET', '/api/events'],
  ])('%s %s is 401 without them', async (method, p) => {
    const r = await req(method, p, { key: null, ...(method === 'POST' ? { body: {} } : {}) });
    expect(r.status).toBe(401);
  });

  it('a wrong or malformed key is 401 with Connect\'s error body', async () => {
    for (const header of ['Key ohk_wrong', 'Bearer abc', 'Key', `Key ${keys.admin} extra`]) {
      const r = await fetch(url(ENVS), { headers: { Authorization: header } });
      expect(r.status).toBe(401);
      // Connect's code for a key it does not know (rsconnect-python prints its own message for 30).
      expect(await r.json()).toEqual({ code: 30, error: 'The specified API key is not valid.', payload: null });
    }
  });

  it('roles: viewers cannot list, publishers can list but not change', async () => {
    expect((await req('GET', ENVS, { key: keys.viewer })).status).toBe(403);
    expect((await req('GET', ENVS, { key: keys.publisher })).status).toBe(200);
    const r = await req('POST', ENVS, { key: keys.publisher, body: newEnv() });
    expect(r.status).toBe(403);
    expect(r.json.code).toBe(22);
  });

  it('the login URL sets an HttpOnly, SameSite=Strict session cookie and strips the token', async () => {
    const loginUrl = await server.newLoginUrl('test');
    expect(loginUrl).toMatch(new RegExp(`^${server.url.replace(/[.?]/g, '\\$&')}\\?token=ohl_[\\w-]{43}$`));
    const bad = await fetch(url('/?token=nope'), { redirect: 'manual' });
    expect(bad.status).toBe(401);
    const res = await fetch(url(`/environments?${new URL(loginUrl).search.slice(1)}&x=1`), { redirect: 'manual' });
    expect(res.status).toBe(303);
    expect(res.headers.get('location')).toBe('/environments?x=1');
    const cookie = res.headers.get('set-cookie')!;
    expect(cookie).toMatch(/^offhost_session=ohs_[\w-]{43}; Max-Age=43200; Path=\/; HttpOnly; SameSite=Strict$/);
    const session = cookie.split(';')[0]!;

    const page = await fetch(url('/'), { headers: { Cookie: session } });
    expect(page.status).toBe(200);
    expect(await page.text()).toContain('Offhost test UI');
    expect(page.headers.get('content-security-policy')).toMatch(/default-src 'self'.*script-src 'self'.*frame-ancestors 'none'/);
    // Unknown UI paths fall back to the app; unknown API paths do not.
    expect((await fetch(url('/processes'), { headers: { Cookie: session } })).status).toBe(200);
    expect((await fetch(url('/__api__/v1/nothing'), { headers: { Cookie: session } })).status).toBe(404);

    const forged = await fetch(url('/api/call/environments.list'), { method: 'POST', headers: { Cookie: `${session.slice(0, -2)}xx`, 'Content-Type': 'application/json' }, body: '{}' });
    expect(forged.status).toBe(401);
    const crossSite = await fetch(url('/api/call/environments.list'), {
      method: 'POST',
      headers: { Cookie: session, 'Content-Type': 'application/json', Origin: 'http://evil.example' },
      body: '{}',
    });
    expect(crossSite.status).toBe(403);
    const sameSite = await fetch(url('/api/call/environments.list'), { method: 'POST', headers: { Cookie: session, 'Content-Type': 'application/json', Origin: server.url.slice(0, -1) }, body: '{}' });
    expect(sameSite.status).toBe(200);
  });

  it('a browser without credentials gets a page that says how to sign in', async () => {
    const r = await fetch(url('/'), { headers: { Accept: 'text/html' } });
    expect(r.status).toBe(401);
    expect(await r.text()).toMatch(/Open the sign-in address the server printed.*npx offhost login/s);
  });
});

describe('/__api__/v1/environments', () => {
  it('create, list, get, replace, delete with Connect\'s status codes', async () => {
    const created = await req('POST', ENVS, { body: newEnv({ description: 'made by curl' }) });
    expect(created.status).toBe(200);
    const env = created.json;
    expect(env).toMatchObject({ name: newEnv().name, title: 'Content base', cluster_name: 'Kubernetes', environment_type: 'Kubernetes', matching: 'any', managed_by: null });
    expect(Object.keys(env).sort()).toEqual(
      ['created_time', 'cluster_name', 'description', 'environment_type', 'guid', 'id', 'managed_by', 'matching', 'name', 'nodejs', 'python', 'quarto', 'r', 'supervisor', 'tensorflow', 'title', 'updated_time', 'volume_mounts'].sort(),
    );

    const list = await req('GET', ENVS);
    expect(list.status).toBe(200);
    expect(list.json.map((e: { guid: string }) => e.guid)).toContain(env.guid);

    const got = await req('GET', `${ENVS}/${env.guid}`);
    expect(got.status).toBe(200);
    expect(got.json).toEqual(env);

    // What rsconnect-python sends: the existing record, back-filled, with installations: null.
    const put = await req('PUT', `${ENVS}/${env.guid}`, {
      body: { title: 'Renamed', description: env.description, matching: 'exact', supervisor: null, python: env.python, quarto: { installations: null }, r: env.r, tensorflow: env.tensorflow, volume_mounts: null },
    });
    expect(put.status).toBe(200);
    expect(put.json).toMatchObject({ guid: env.guid, title: 'Renamed', matching: 'exact', name: env.name });

    const del = await req('DELETE', `${ENVS}/${env.guid}`);
    expect(del.status).toBe(204);
    expect(del.text).toBe('');
    const gone = await req('GET', `${ENVS}/${env.guid}`);
    expect(gone.status).toBe(404);
    expect(gone.json).toEqual({ code: 4, error: expect.stringContaining(env.guid), payload: null, field: 'guid' });
    expect((await req('DELETE', `${ENVS}/${env.guid}`)).status).toBe(404);
    expect((await req('PUT', `${ENVS}/${env.guid}`, { body: { title: 'x' } })).status).toBe(404);
  });

  it('a guid that is not one is 400', async () => {
    const r = await req('GET', `${ENVS}/not-a-guid`);
    expect(r.status).toBe(400);
    expect(r.json).toMatchObject({ code: 3, field: 'guid' });
  });

  it.each([
    [{ title: '' }, 168, 'title'],
    [{ title: 'x'.repeat(65) }, 168, 'title'],
    [{ description: 'd'.repeat(4097) }, 169, 'description'],
    [{ cluster_name: 'Local' }, 170, 'cluster_name'],
    [{ name: 'Not An Image' }, 171, 'name'],
    [{ name: undefined }, 171, 'name'],
    [{ matching: 'sometimes' }, 172, 'matching'],
    [{ r: { installations: [{ version: '4.3.1', path: 'R' }] } }, 173, 'r.installations[0].path'],
    [{ python: { installations: [{ version: 'three', path: '/p' }] } }, 174, 'python.installations[0].version'],
    [{ supervisor: 'a\nb' }, 177, 'supervisor'],
    [{ volume_mounts: [{ source: { volume_type: 'pvc', pvc_name: 'x' }, target: { path: 'rel' } }] }, 254, 'volume_mounts[0].target.path'],
    [{ colour: 'blue' }, 121, 'colour'],
  ])('POST %j is 400 with code %d naming %s, and saves nothing', async (over, code, field) => {
    const before = (await req('GET', ENVS)).json.length;
    const r = await req('POST', ENVS, { body: newEnv({ name: `ghcr.io/org/v${code}:1`, ...over }) });
    expect(r.status).toBe(400);
    expect(r.json).toMatchObject({ code, field, payload: null });
    expect(r.json.error.length).toBeGreaterThan(10);
    expect((await req('GET', ENVS)).json.length).toBe(before);
  });

  it('bad JSON, an empty body, a wrong content type and an oversized body are 400 with a clear message', async () => {
    const bad = await req('POST', ENVS, { raw: '{"name": "x",' });
    expect(bad.status).toBe(400);
    expect(bad.json).toMatchObject({ code: 87, error: expect.stringMatching(/not valid JSON: .*JSON/) });

    const empty = await req('POST', ENVS, { raw: '' });
    expect(empty.status).toBe(400);
    expect(empty.json.error).toMatch(/request body is required/);

    const text = await req('POST', ENVS, { raw: 'name=x', headers: { 'Content-Type': 'text/plain' } });
    expect(text.status).toBe(400);
    expect(text.json.error).toMatch(/Send the body as JSON/);

    const big = await req('POST', ENVS, { body: newEnv({ description: 'x'.repeat(70 * 1024) }) });
    expect(big.status).toBe(400);
    expect(big.json).toMatchObject({ code: 87, error: expect.stringMatching(/larger than the 64 KiB limit/) });
  });

  it('409 for a duplicate image and for file-managed environments', async () => {
    const first = await req('POST', ENVS, { body: newEnv({ name: 'ghcr.io/org/dup:1' }) });
    expect(first.status).toBe(200);
    const dup = await req('POST', ENVS, { body: newEnv({ name: 'ghcr.io/org/dup:1', title: 'Again' }) });
    expect(dup.status).toBe(409);
    expect(dup.json).toMatchObject({ code: 175, field: 'name' });

    const managed = (await req('GET', ENVS)).json.find((e: { managed_by: string | null }) => e.managed_by === envFile());
    expect(managed).toBeDefined();
    const put = await req('PUT', `${ENVS}/${managed.guid}`, { body: { title: 'Hijack' } });
    expect(put.status).toBe(409);
    expect(put.json.code).toBe(265);
    expect((await req('DELETE', `${ENVS}/${managed.guid}`)).status).toBe(409);
  });

  it('changing the image on PUT is 400 ImmutableField', async () => {
    const env = (await req('POST', ENVS, { body: newEnv({ name: 'ghcr.io/org/imm:1' }) })).json;
    const r = await req('PUT', `${ENVS}/${env.guid}`, { body: { title: 't', name: 'ghcr.io/org/other:1' } });
    expect(r.status).toBe(400);
    expect(r.json).toMatchObject({ code: 53, field: 'name' });
  });

  it('every change is in the audit log with the key that made it', async () => {
    const env = (await req('POST', ENVS, { body: newEnv({ name: 'ghcr.io/org/audited:1' }) })).json;
    const { auditRepo } = await import('../../main/store/audit-repo');
    const entries = await auditRepo.list(core.store.db, { targetType: 'environment', targetId: env.guid });
    expect(entries[0]).toMatchObject({ action: 'environment.create', actor: expect.stringMatching(/^api-key:admin key \(#\d+\)$/) });
  });
});

describe('the UI contract over HTTP', () => {
  const call = (method: string, input: unknown, key = keys.admin) => req('POST', `/api/call/${method}`, { key, body: input });

  it('dispatches methods and wraps results', async () => {
    const r = await call('environments.create', newEnv({ name: 'ghcr.io/org/rpc:1', title: 'RPC' }));
    expect(r.status).toBe(200);
    expect(r.json.result).toMatchObject({ title: 'RPC' });
    const info = await call('app.info', {});
    expect(info.json.result).toMatchObject({ mode: 'server', database: { kind: 'sqlite' }, user: { role: 'admin' } });
  });

  it('returns errors with code, message and field', async () => {
    const r = await call('environments.update', { guid: 'nope', spec: {} });
    expect(r.status).toBe(400);
    expect(r.json.error).toMatchObject({ code: 'InvalidId', field: 'guid' });
    const v = await call('environments.create', newEnv({ name: 'ghcr.io/org/x:1', title: '' }));
    expect(v.json.error).toMatchObject({ code: 'InvalidEnvironmentTitle', field: 'title', message: expect.stringMatching(/title is required/) });
    expect((await call('environments.drop', {})).status).toBe(404);
    expect((await call('environments.delete', { guid: '3f9a6c1e-0b7d-4e52-9a3c-2d1f0e8b7a65' }, keys.publisher)).status).toBe(403);
  });

  it('pushes changes over Server-Sent Events', async () => {
    const controller = new AbortController();
    const res = await fetch(url('/api/events'), { headers: { Authorization: `Key ${keys.admin}` }, signal: controller.signal });
    expect(res.headers.get('content-type')).toBe('text/event-stream');
    const reader = res.body!.getReader();
    const decoder = new TextDecoder();
    let text = '';
    const created = await call('environments.create', newEnv({ name: 'ghcr.io/org/sse:1', title: 'SSE' }));
    while (!text.includes('event: environments.changed')) {
      const { value, done } = await reader.read();
      if (done) break;
      text += decoder.decode(value);
    }
    controller.abort();
    expect(text).toContain(`data: {"action":"created","guids":["${created.json.result.guid}"]}`);
  });

  it('closing the server ends open event streams instead of waiting for them forever', async () => {
    const second = await startHttpServer(core, {});
    const res = await fetch(new URL('/api/events', second.url), { headers: { Authorization: `Key ${keys.admin}` } });
    const reader = res.body!.getReader();
    await reader.read(); // ": connected"
    const closed = second.close().then(() => 'closed');
    const hung = new Promise((r) => setTimeout(() => r('still open after 10 s'), 10_000));
    expect(await Promise.race([closed, hung])).toBe('closed');
    expect((await reader.read()).done).toBe(true);
  });

  it('tests which environment a manifest would get', async () => {
    const r = await call('environments.select', { manifest: JSON.stringify({ version: 1, platform: '4.3.0', python: { version: '3.11.2' } }) });
    expect(r.status).toBe(200);
    expect(r.json.result).toMatchObject({ ok: true, step: 'automatic' });
    expect(r.json.result.reasons.length).toBeGreaterThan(1);
    const bad = await call('environments.select', { manifest: '{not json' });
    expect(bad.json.error).toMatchObject({ code: 'InvalidManifest', field: 'manifest' });
  });
});
