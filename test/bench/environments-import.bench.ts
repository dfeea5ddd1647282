// /healthz latency while a YAML import at the caps runs over HTTP (1000 environments, ~0.95 MB:
// LIMITS.environmentsPerFile, and as much YAML as fits a 1 MiB request body), on SQLite.
// Two servers on one database: "worker" (large YAML parsed in a worker thread, the default; here
// the bundled worker that ships, built first with build/bundle-main.mjs) and "in place" (parsed on
// the event loop, as before). Each iteration replaces all 1000 environments.
// `npm run bench` prints the import time per variant (vitest's table) and, at the end, the
// /healthz latencies measured during the imports.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, bench, describe } from 'vitest';
import { createHandlers } from '../../main/api/handlers';
import { startHttpServer, type HttpServer } from '../../main/api/http-server';
import { loadConfig } from '../../main/config';
import { createCore, type Core } from '../../main/core';
import { BUNDLED_WORKER_FILE } from '../../main/environments/parse-off-thread';
import { EnvironmentService } from '../../main/environments/service';
import { silentLogger } from '../../main/log';

const ENVIRONMENTS = 1000;
const TARGET_BYTES = 950_000;

/** 1000 environments of about TARGET_BYTES of YAML; `round` changes every title. */
function importYaml(round: number): string {
  const entry = (i: number, pad: string) =>
    [
      `- name: ghcr.io/org/content-base-${i}:r4.3-py3.11-jammy`,
      `  title: Content base ${i} round ${round}`,
      `  description: "${pad}"`,
      '  matching: any',
      '  r: { installations: [{ version: 4.3.1, path: /opt/R/4.3.1/bin/R }, { version: 4.2.3, path: /opt/R/4.2.3/bin/R }] }',
      `  python: { installations: [{ version: 3.11.${i % 10}, path: /opt/python/3.11/bin/python3 }, { version: 3.12.1, path: /opt/python/3.12/bin/python3 }] }`,
      '  quarto: { installations: [{ version: 1.4.550, path: /opt/quarto/bin/quarto }] }',
      '  volume_mounts: [{ source: { volume_type: pvc, pvc_name: shared-data }, target: { path: /mnt/data, read_only: true } }]',
      '',
    ].join('\n');
  const bare = entry(0, '').length;
  const pad = 'd'.repeat(Math.max(0, Math.floor(TARGET_BYTES / ENVIRONMENTS) - bare - 6));
  return Array.from({ length: ENVIRONMENTS }, (_, i) => entry(i, pad)).join('');
}

interface Measured {
  /** /healthz round trips, ms. */
  samples: number[];
  /** The longest time a 5 ms timer came late, ms: how long the event loop was held. */
  maxStall: number;
}
const measured: Record<string, Measured> = {};

let dir: string;
let core: Core;
let key: string;
const servers: Record<string, HttpServer> = {};
let round = 0;
let bundleDir: string | undefined;

beforeAll(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'offhost-bench-'));
  core = await createCore(loadConfig({}, { dataDir: dir, port: 0 }), silentLogger, 'server');
  key = (await core.apiKeys.create('bench', 'admin', 'bench')).key;
  // The bundle goes inside the repository so that its external packages resolve from node_modules.
  bundleDir = path.resolve(`node_modules/.cache/offhost-bench-bundle-${process.pid}`);
  execFileSync(process.execPath, ['build/bundle-main.mjs'], { env: { ...process.env, OFFHOST_BUNDLE_OUTDIR: bundleDir } });
  const variants = {
    worker: { workerFile: path.join(bundleDir, 'main', BUNDLED_WORKER_FILE) },
    // Every YAML parsed in place: the threshold is never reached.
    'in place': { inlineMaxBytes: Number.POSITIVE_INFINITY },
  };
  for (const [name, yaml] of Object.entries(variants)) {
    const parts = { ...core, environments: new EnvironmentService({ store: core.store, events: core.events, yaml }) };
    servers[name] = await startHttpServer({ ...parts, handlers: createHandlers(parts, 'server') });
  }
});

afterAll(async () => {
  for (const s of Object.values(servers)) await s.close();
  await core?.close();
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
  if (bundleDir) fs.rmSync(bundleDir, { recursive: true, force: true });
  const rows = Object.entries(measured).map(([name, { samples, maxStall }]) => {
    const sorted = [...samples].sort((a, b) => a - b);
    const pick = (q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!.toFixed(1);
    return `${name.padEnd(9)} /healthz during the imports: ${String(samples.length).padStart(4)} requests, median ${pick(0.5)} ms, p99 ${pick(0.99)} ms, max ${sorted.at(-1)!.toFixed(1)} ms; longest event-loop stall ${maxStall.toFixed(0)} ms`;
  });
  console.log(`\n${rows.join('\n')}\n`);
});

/** Import once through `server`, asking /healthz every 10 ms (as a prober would) until it is done. */
async function importWhilePolling(name: string): Promise<void> {
  const server = servers[name]!;
  const yaml = importYaml(++round);
  const m = (measured[name] ??= { samples: [], maxStall: 0 });
  let done = false;
  const poll = (async () => {
    while (!done) {
      const started = performance.now();
      const res = await fetch(new URL('/healthz', server.url));
      await res.text();
      m.samples.push(performance.now() - started);
      await new Promise((r) => setTimeout(r, 10));
    }
  })();
  let lastTick = performance.now();
  const ticker = setInterval(() => {
    const now = performance.now();
    m.maxStall = Math.max(m.maxStall, now - lastTick - 5);
    lastTick = now;
  }, 5);
  // Let the poller get going before the import starts.
  await new Promise((r) => setTimeout(r, 20));
  const res = await fetch(new URL('/api/call/environments.importYaml', server.url), {
    method: 'POST',
    headers: { Authorization: `Key ${key}`, 'Content-Type': 'application/json' },
    body: JSON.stringify({ yaml }),
  });
  const body = (await res.json()) as { result?: { created: string[]; updated: string[] }; message?: string };
  done = true;
  await poll;
  clearInterval(ticker);
  if (res.status !== 200) throw new Error(`import failed: ${res.status} ${JSON.stringify(body).slice(0, 300)}`);
  if (body.result!.created.length + body.result!.updated.length !== ENVIRONMENTS) throw new Error('not every environment was written');
}

describe(`import ${ENVIRONMENTS} environments (~${Math.round(TARGET_BYTES / 1000)} kB of YAML) over HTTP, SQLite`, () => {
  const options = { iterations: 4, time: 0, warmupIterations: 1, warmupTime: 0 };
  bench('worker', () => importWhilePolling('worker'), options);
  bench('in place', () => importWhilePolling('in place'), options);
});
