// The quotas contract over real HTTP with API keys: roles, error bodies that name every bad field,
// quantities in and Connect's units out, the audit trail, and quotas.changed on the event stream.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startHttpServer, type HttpServer } from '../../main/api/http-server';
import { loadConfig } from '../../main/config';
import { createCore, type Core } from '../../main/core';
import { silentLogger } from '../../main/log';
import { DEFAULT_QUOTAS } from '../../shared/quota';

let dir: string;
let core: Core;
let server: HttpServer;
const keys = { admin: '', publisher: '', viewer: '' };

beforeAll(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'offhost-quotashttp-'));
  core = await createCore(loadConfig({}, { dataDir: dir, port: 0, environmentsFile: null, kube: null }), silentLogger, 'server');
  server = await startHttpServer(core);
  for (const role of ['admin', 'publisher', 'viewer'] as const) keys[role] = (await core.apiKeys.create(role, role, 'test')).key;
});

afterAll(async () => {
  await server?.close();
  await core?.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

async function call(method: string, body: unknown, key = keys.admin) {
  const res = await fetch(new URL(`/api/call/${method}`, server.url), {
    method: 'POST',
    headers: { Authorization: `Key ${key}`, 'Content-Type': 'application/json' },
    body: JSON.stringify(body),
  });
  return { status: res.status, json: (await res.json()) as { result?: any; error?: any } };
}

describe('quotas over HTTP', () => {
  it('publishers read, only admins preview and save, viewers neither', async () => {
    const got = await call('quotas.get', {}, keys.publisher);
    expect(got.status).toBe(200);
    expect(got.json.result).toEqual({ quotas: DEFAULT_QUOTAS, version: 0, updated_time: null, updated_by: null, limit_range: null });
    expect((await call('quotas.history', {}, keys.publisher)).status).toBe(200);
    expect((await call('quotas.preview', { quotas: DEFAULT_QUOTAS }, keys.publisher)).status).toBe(403);
    expect((await call('quotas.update', { quotas: DEFAULT_QUOTAS }, keys.publisher)).status).toBe(403);
    expect((await call('quotas.get', {}, keys.viewer)).status).toBe(403);
  });

  it('a bad save is a 400 naming every bad field, and writes nothing', async () => {
    const bad = { ...DEFAULT_QUOTAS, cpu_request: { min: 0.01, default: 0.5, max: 'lots' }, memory_limit: { min: '128Mi', default: '64Gi', max: '32Gi' }, max_concurrent_jobs: 0 };
    const r = await call('quotas.update', { quotas: bad });
    expect(r.status).toBe(400);
    expect(r.json.error).toMatchObject({ code: 'InvalidQuota', field: 'quotas.cpu_request.max' });
    expect(r.json.error.details.map((d: { field: string }) => d.field)).toEqual(['quotas.cpu_request.max', 'quotas.memory_limit.default', 'quotas.max_concurrent_jobs']);
    expect((await call('quotas.get', {})).json.result.version).toBe(0);
  });

  it('previews, saves quantities as cores and bytes, audits, announces, and refuses a stale version', async () => {
    const controller = new AbortController();
    const events = await fetch(new URL('/api/events', server.url), { headers: { Authorization: `Key ${keys.publisher}` }, signal: controller.signal });
    const reader = events.body!.getReader();
    await reader.read(); // ": connected"

    const input = { ...DEFAULT_QUOTAS, cpu_request: { min: '10m', default: '250m', max: '2' }, memory_limit: { min: '128Mi', default: '2Gi', max: '32Gi' } };
    const preview = await call('quotas.preview', { quotas: input });
    expect(preview.status).toBe(200);
    expect(preview.json.result).toMatchObject({ version: 0, impact: { content_count: expect.any(Number), affected: [] } });
    expect(preview.json.result.quotas.cpu_request).toEqual({ min: 0.01, default: 0.25, max: 2 });

    const saved = await call('quotas.update', { quotas: input, version: preview.json.result.version });
    expect(saved.status).toBe(200);
    expect(saved.json.result.state).toMatchObject({ version: 1, quotas: { memory_limit: { min: 134217728, default: 2147483648, max: 34359738368 } } });
    expect(saved.json.result.state.updated_by).toMatch(/^api-key:admin/);

    let text = '';
    const decoder = new TextDecoder();
    while (!text.includes('event: quotas.changed')) {
      const { value, done } = await reader.read();
      if (done) break;
      text += decoder.decode(value);
    }
    controller.abort();
    expect(text).toContain('data: {"version":1}');

    const stale = await call('quotas.update', { quotas: DEFAULT_QUOTAS, version: 0 });
    expect(stale.status).toBe(409);
    expect(stale.json.error).toMatchObject({ code: 'QuotasChanged', field: 'version' });

    const history = await call('quotas.history', { limit: 10 }, keys.publisher);
    expect(history.json.result).toEqual([
      expect.objectContaining({ actor: expect.stringMatching(/^api-key:admin/), before: DEFAULT_QUOTAS, after: saved.json.result.state.quotas }),
    ]);
  });
});
