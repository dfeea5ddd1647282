// The headless server as an attacker and an unlucky operator meet it: single-use sign-in links,
// revocable sessions named in the audit log, the Host allowlist, cross-site writes, the post-login
// redirect, role-filtered events, Secure cookies behind a TLS proxy, and a busy or unreachable
// database (503, never 500, and no writes on the authentication path).
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import SQLite from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { parseEnvironmentSpec } from '../../shared/environment';
import { startHttpServer, type HttpServer } from '../../main/api/http-server';
import { Sessions } from '../../main/auth/session';
import { loadConfig, type Config } from '../../main/config';
import { createCore, type Core } from '../../main/core';
import { silentLogger } from '../../main/log';
import { BACKENDS, freshStore } from './backends';

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!();
});

async function start(over: Partial<Config> = {}): Promise<{ core: Core; server: HttpServer; dir: string; url: (p: string) => string }> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'offhost-sec-'));
  const core = await createCore(loadConfig({}, { dataDir: dir, port: 0, environmentsFile: null, ...over }), silentLogger, 'server');
  const server = await startHttpServer(core);
  cleanups.push(() => fs.rmSync(dir, { recursive: true, force: true }), () => core.close(), () => server.close());
  return { core, server, dir, url: (p) => new URL(p, server.url).toString() };
}

async function signIn(server: HttpServer, url: (p: string) => string): Promise<string> {
  const link = new URL(await server.newLoginUrl('test'));
  const res = await fetch(url(`/${link.search}`), { redirect: 'manual' });
  expect(res.status).toBe(303);
  return res.headers.get('set-cookie')!.split(';')[0]!;
}

const json = { 'Content-Type': 'application/json' };
const env = (name: string) => ({ name, title: 'T' });

describe('sign-in links and sessions', () => {
  it('a sign-in link works once', async () => {
    const { server, url } = await start();
    const link = new URL(await server.newLoginUrl('test'));
    expect((await fetch(url(`/${link.search}`), { redirect: 'manual' })).status).toBe(303);
    const again = await fetch(url(`/${link.search}`), { redirect: 'manual', headers: { Accept: 'text/html' } });
    expect(again.status).toBe(401);
    expect(await again.text()).toMatch(/already used or has expired/);
  });

  it('a session can be revoked, signs out, and the audit log names it', async () => {
    const { core, server, url } = await start();
    const cookie = await signIn(server, url);
    const headers = { Cookie: cookie, ...json };
    const created = await fetch(url('/api/call/environments.create'), { method: 'POST', headers, body: JSON.stringify(env('img/a:1')) });
    expect(created.status).toBe(200);
    const [entry] = await core.store.db.selectFrom('audit_log').selectAll().execute();
    const [session] = await core.sessions.list();
    expect(entry!.actor).toBe(`session #${session!.id} (signed in by test)`);

    expect(await core.sessions.revoke(session!.id)).toBe(1);
    expect((await fetch(url('/api/call/app.info'), { method: 'POST', headers, body: '{}' })).status).toBe(401);

    const second = await signIn(server, url);
    const out = await fetch(url('/api/signout'), { method: 'POST', headers: { Cookie: second } });
    expect(out.status).toBe(204);
    expect(out.headers.get('set-cookie')).toMatch(/^offhost_session=;/);
    expect((await fetch(url('/api/call/app.info'), { method: 'POST', headers: { Cookie: second, ...json }, body: '{}' })).status).toBe(401);
  });

  it('the cookie is Secure when the public URL is https, and with a trusted proxy saying https', async () => {
    const behindIngress = await start({ publicUrl: new URL('https://offhost.example.com/') });
    const link = new URL(await behindIngress.server.newLoginUrl('test'));
    expect(link.origin).toBe('https://offhost.example.com');
    const res = await raw(behindIngress.server.url, 'GET', `/${link.search}`, { Host: 'offhost.example.com' });
    expect(res.status).toBe(303);
    expect((await raw(behindIngress.server.url, 'GET', '/', { Host: 'other.example.com' })).status).toBe(403);
    const l0 = new URL(await behindIngress.server.newLoginUrl('test'));
    expect((await fetch(behindIngress.url(`/${l0.search}`), { redirect: 'manual' })).headers.get('set-cookie')).toMatch(/; Secure/);

    const proxied = await start({ trustProxy: ['127.0.0.1'] });
    const l2 = new URL(await proxied.server.newLoginUrl('test'));
    const viaProxy = await fetch(proxied.url(`/${l2.search}`), { redirect: 'manual', headers: { 'X-Forwarded-Proto': 'https' } });
    expect(viaProxy.headers.get('set-cookie')).toMatch(/; Secure/);

    // Without trust, a forwarded header changes nothing.
    const plain = await start();
    const l3 = new URL(await plain.server.newLoginUrl('test'));
    const spoofed = await fetch(plain.url(`/${l3.search}`), { redirect: 'manual', headers: { 'X-Forwarded-Proto': 'https' } });
    expect(spoofed.headers.get('set-cookie')).not.toMatch(/Secure/);
  });

  it('the redirect after sign-in stays on this server', async () => {
    const { server, url } = await start();
    const link = new URL(await server.newLoginUrl('test'));
    // fetch() would normalise the path; send it raw.
    const res = await raw(server.url, 'GET', `/.//evil.com${link.search}`);
    expect(res.status).toBe(303);
    expect(res.location).toBe('/evil.com');
    void url;
  });
});

describe.each(BACKENDS)('sign-in links on $name', (backend) => {
  it('expire, and two instances cannot both spend one', async () => {
    const store = await freshStore(backend);
    cleanups.push(() => store.close());
    let now = new Date('2026-01-01T00:00:00Z');
    const a = new Sessions(store.db, () => now);
    const b = new Sessions(store.db, () => now);
    const token = await a.createLoginToken('test');
    const [x, y] = await Promise.all([a.signIn(token), b.signIn(token)]);
    expect([x, y].filter(Boolean)).toHaveLength(1);

    const late = await a.createLoginToken('test');
    now = new Date('2026-01-01T00:15:01Z');
    expect(await a.signIn(late)).toBeUndefined();

    const fresh = await a.signIn(await a.createLoginToken('test'));
    expect(await a.verify(fresh!.cookie)).toMatchObject({ createdBy: 'test' });
    now = new Date('2026-01-01T12:15:02Z');
    expect(await a.verify(fresh!.cookie)).toBeUndefined();
    expect(await a.verify('ohs_forged')).toBeUndefined();
  });
});

describe('browser requests', () => {
  it('a name other than ours is refused (DNS rebinding), API keys are not affected', async () => {
    const { core, server, url } = await start();
    const cookie = await signIn(server, url);
    const rebound = await raw(server.url, 'POST', '/api/call/app.info', { Cookie: cookie, Host: 'evil.example:3939', ...json }, '{}');
    expect(rebound.status).toBe(403);
    expect(JSON.parse(rebound.text).error.message).toMatch(/does not answer to the name "evil.example".*OFFHOST_PUBLIC_URL/);
    const link = new URL(await server.newLoginUrl('test'));
    expect((await raw(server.url, 'GET', `/${link.search}`, { Host: 'evil.example' })).status).toBe(403);
    // The refused request did not spend the link.
    expect((await raw(server.url, 'GET', `/${link.search}`)).status).toBe(303);
    expect((await raw(server.url, 'POST', '/api/call/app.info', { Cookie: cookie, Host: `localhost:${new URL(server.url).port}`, ...json }, '{}')).status).toBe(200);

    const { key } = await core.apiKeys.create('k', 'admin', 'test');
    const withKey = await raw(server.url, 'GET', '/__api__/v1/environments', { Authorization: `Key ${key}`, Host: 'offhost.ns.svc:3939' });
    expect(withKey.status).toBe(200);
    void url;
  });

  it.each([
    [{ Origin: 'null' }, /Cross-origin/],
    [{ Origin: 'http://evil.example' }, /Cross-origin/],
    [{ 'Sec-Fetch-Site': 'cross-site' }, /cross-site/],
    [{ 'Sec-Fetch-Site': 'same-site' }, /same-site/],
  ])('a cookie write with %j is 403 with a reason, never a 500', async (headers, why) => {
    const { server, url } = await start();
    const cookie = await signIn(server, url);
    const r = await fetch(url('/api/call/environments.create'), { method: 'POST', headers: { Cookie: cookie, ...json, ...headers }, body: JSON.stringify(env('img/x:1')) });
    expect(r.status).toBe(403);
    expect((await r.json()).error.message).toMatch(why);
  });

  it('our own page may write', async () => {
    const { server, url } = await start();
    const cookie = await signIn(server, url);
    const origin = server.url.slice(0, -1);
    const r = await fetch(url('/api/call/environments.create'), { method: 'POST', headers: { Cookie: cookie, Origin: origin, 'Sec-Fetch-Site': 'same-origin', ...json }, body: JSON.stringify(env('img/y:1')) });
    expect(r.status).toBe(200);
  });
});

describe('the event stream', () => {
  it('needs the role its events need', async () => {
    const { core, url } = await start();
    const viewer = (await core.apiKeys.create('v', 'viewer', 'test')).key;
    const publisher = (await core.apiKeys.create('p', 'publisher', 'test')).key;
    const refused = await fetch(url('/api/events'), { headers: { Authorization: `Key ${viewer}` } });
    expect(refused.status).toBe(403);

    const ac = new AbortController();
    cleanups.push(() => ac.abort());
    const res = await fetch(url('/api/events'), { headers: { Authorization: `Key ${publisher}` }, signal: ac.signal });
    expect(res.status).toBe(200);
    const reader = res.body!.getReader();
    await reader.read(); // ": connected"
    await core.environments.create(parseEnvironmentSpec(env('img/e:1')), 'test');
    let text = '';
    while (!text.includes('environments.changed')) text += new TextDecoder().decode((await reader.read()).value);
    expect(text).toMatch(/event: environments.changed/);
  });
});

describe('a busy or unreachable database', () => {
  it('SQLite locked by another process: authenticated reads still answer; a write is 503; key use is recorded later', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'offhost-busy-'));
    cleanups.push(() => fs.rmSync(dir, { recursive: true, force: true }));
    const file = path.join(dir, 'offhost.db');
    const { core, url } = await start({ database: { kind: 'sqlite', file, busyTimeoutMs: 300 } });
    const { key, info } = await core.apiKeys.create('k', 'admin', 'test');
    const auth = { Authorization: `Key ${key}` };

    const other = new SQLite(file);
    cleanups.push(() => void other.close());
    other.exec('BEGIN IMMEDIATE'); // holds the write lock, as another process's transaction would
    const read = await fetch(url('/__api__/v1/environments'), { headers: auth });
    expect(read.status).toBe(200);
    const write = await fetch(url('/__api__/v1/environments'), { method: 'POST', headers: { ...auth, ...json }, body: JSON.stringify(env('img/busy:1')) });
    expect(write.status).toBe(503);
    expect((await write.json()).error).toMatch(/busy or cannot be reached/);
    expect((await fetch(url('/healthz'))).status).toBe(200);
    await expect(core.apiKeys.flush()).rejects.toThrow(/locked|busy/i);
    other.exec('ROLLBACK');

    await core.apiKeys.flush();
    const [row] = await core.store.db.selectFrom('api_keys').select('last_used_time').where('id', '=', info.id).execute();
    expect(row!.last_used_time).toMatch(/^\d{4}-\d\d-\d\dT/);
  });

  it('PostgreSQL going away: 503 and /readyz says so, /healthz stays up; both recover', async () => {
    const pgBackend = BACKENDS.find((b) => b.name === 'postgres')!;
    const { config: pgConfig, drop } = await pgBackend.create();
    cleanups.push(drop);
    const target = new URL((pgConfig as { url: string }).url);
    const proxy = await tcpProxy(target.hostname, Number(target.port || 5432));
    cleanups.push(() => proxy.close());
    const viaProxy = new URL(target);
    viaProxy.port = String(proxy.port);
    const { core, url } = await start({ database: { kind: 'postgres', url: viaProxy.toString() } });
    const { key } = await core.apiKeys.create('k', 'admin', 'test');
    const auth = { Authorization: `Key ${key}` };
    expect((await fetch(url('/__api__/v1/environments'), { headers: auth })).status).toBe(200);
    expect((await fetch(url('/readyz'))).status).toBe(200);

    await proxy.close();
    const down = await fetch(url('/__api__/v1/environments'), { headers: auth });
    expect(down.status).toBe(503);
    expect((await down.json()).error).toMatch(/busy or cannot be reached/);
    const ready = await fetch(url('/readyz'));
    expect(ready.status).toBe(503);
    expect(await ready.json()).toEqual({ status: 'unavailable', error: 'The database does not answer.' });
    expect((await fetch(url('/healthz'))).status).toBe(200);

    await proxy.reopen();
    expect((await fetch(url('/readyz'))).status).toBe(200);
    expect((await fetch(url('/__api__/v1/environments'), { headers: auth })).status).toBe(200);
  });
});

/** A TCP forwarder that can be cut (every connection dropped, nothing listening) and restored. */
async function tcpProxy(host: string, port: number) {
  const sockets = new Set<net.Socket>();
  const make = () =>
    net.createServer((client) => {
      const upstream = net.connect(port, host);
      for (const s of [client, upstream]) {
        sockets.add(s);
        s.on('close', () => sockets.delete(s));
        s.on('error', () => {});
      }
      client.pipe(upstream).pipe(client);
    });
  let server = make();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const own = (server.address() as net.AddressInfo).port;
  return {
    port: own,
    async close() {
      for (const s of sockets) s.destroy();
      await new Promise((r) => server.close(r));
    },
    async reopen() {
      server = make();
      await new Promise<void>((r, j) => server.once('error', j).listen(own, '127.0.0.1', r));
    },
  };
}

/** A request sent exactly as given: fetch() would normalise the path and ignores a Host header. */
function raw(base: string, method: string, pathAndQuery: string, headers: Record<string, string> = {}, body?: string): Promise<{ status: number; location?: string; text: string }> {
  const { hostname, port } = new URL(base);
  return new Promise((resolve, reject) => {
    const r = http.request({ host: hostname, port, method, path: pathAndQuery, headers }, (res) => {
      let text = '';
      res.on('data', (d) => (text += d));
      res.on('end', () => resolve({ status: res.statusCode!, location: res.headers.location, text }));
    });
    r.on('error', reject);
    r.end(body);
  });
}
