// Hostile or oversized environment inputs over real HTTP: each gets a 400 with a stable code, the
// field and a short message — never a 500, never the input echoed back.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startHttpServer, type HttpServer } from '../../main/api/http-server';
import { loadConfig } from '../../main/config';
import { createCore, type Core } from '../../main/core';
import { silentLogger } from '../../main/log';
import { LIMITS } from '../../shared/environment';

let dir: string;
let core: Core;
let server: HttpServer;
let key: string;

beforeAll(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'offhost-envhttp-'));
  core = await createCore(loadConfig({}, { dataDir: dir, port: 0 }), silentLogger, 'server');
  server = await startHttpServer(core);
  key = (await core.apiKeys.create('admin', 'admin', 'test')).key;
});

afterAll(async () => {
  await server?.close();
  await core?.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

async function post(p: string, body: unknown) {
  const res = await fetch(new URL(p, server.url), {
    method: 'POST',
    headers: { Authorization: `Key ${key}`, 'Content-Type': 'application/json' },
    body: JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, text, json: JSON.parse(text) };
}

const importYaml = (yaml: string) => post('/api/call/environments.importYaml', { yaml });

describe('YAML import', () => {
  it('an alias bomb is 400 InvalidYaml', async () => {
    let bomb = 'a: &a [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n';
    for (let i = 1; i < 9; i++) bomb += `${String.fromCharCode(97 + i)}: &${String.fromCharCode(97 + i)} [${Array(9).fill(`*${String.fromCharCode(96 + i)}`).join(', ')}]\n`;
    const r = await importYaml(bomb);
    expect(r.status).toBe(400);
    expect(r.json.error).toMatchObject({ code: 'InvalidYaml', message: expect.stringMatching(/aliases/) });
  });

  it.each([['!!js/function "function () {}"'], ['!custom ghcr.io/org/a:1'], ['!!binary aGVsbG8=']])('a %s tag is 400 InvalidYaml', async (tagged) => {
    const r = await importYaml(`- name: ${tagged}\n  title: A\n`);
    expect(r.status).toBe(400);
    expect(r.json.error.code).toBe('InvalidYaml');
    expect(r.json.error.message).toMatch(/Unresolved tag/);
  });

  it(`more than ${LIMITS.environmentsPerFile} environments is 400 LimitExceeded, and nothing is written`, async () => {
    let yaml = '';
    for (let i = 0; i <= LIMITS.environmentsPerFile; i++) yaml += `- {name: "ghcr.io/org/i${i}:1", title: I${i}}\n`;
    const r = await importYaml(yaml);
    expect(r.status).toBe(400);
    expect(r.json.error).toMatchObject({ code: 'LimitExceeded', field: `[${LIMITS.environmentsPerFile}]` });
    expect(await core.environments.list()).toEqual([]);
  });
});

describe('the Connect-compatible API', () => {
  const env = (over: Record<string, unknown>) => ({ name: 'ghcr.io/org/limits:1', title: 'Limits', ...over });

  it('20,000 installations are 400 LimitExceeded with the field', async () => {
    const installations = Array.from({ length: 20_000 }, (_, i) => ({ version: `3.${i}.0`, path: '/p' }));
    const r = await post('/__api__/v1/environments', env({ python: { installations } }));
    expect(r.status).toBe(400);
    expect(r.json).toMatchObject({ field: 'python.installations', error: `Too many installations: 20000 given; the limit is ${LIMITS.installationsPerRuntime}.` });
  });

  it('a title with a control character is 400, naming it; a huge value is not echoed', async () => {
    const bell = await post('/__api__/v1/environments', env({ title: 'Ring\u0007' }));
    expect(bell.status).toBe(400);
    expect(bell.json).toMatchObject({ code: 168, field: 'title', error: expect.stringMatching(/U\+0007 at character 5/) });
    const huge = await post('/__api__/v1/environments', env({ matching: 'm'.repeat(500_000) }));
    expect(huge.status).toBe(400);
    expect(huge.text.length).toBeLessThan(500);
  });
});
