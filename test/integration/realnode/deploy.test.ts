/**
 * `rsconnect deploy` end to end, as a data scientist runs it: rsconnect-python from PyPI,
 * unchanged, against the built server (`node dist/main/server.js`, as `npm run serve` starts it)
 * on PostgreSQL, connected to the cluster with the real node. The command exits 0 and prints a
 * URL; GET on that URL, through Offhost, answers the API's JSON / the report's HTML. Both ways
 * of filling the content volume: mounted (the server sees the claim's directory, as in-cluster)
 * and copied (desktop: bundles go in and outputs come back through the Kubernetes API).
 *
 * Pods have no network, so the Python packages come from a wheelhouse on a claim that the
 * environment mounts, named by the admin's package source setting.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';

import { REAL_NODE_NAME, REAL_NODE_TAINT } from '../../cluster/realnode.js';
import { figure, imageMeta, realNodeSkip, useContentClaim, useRealNodeNamespace, JOB_UID } from './helpers.js';
import { wheelhouse } from './wheelhouse.js';
import { createAdminKey, runProgram, startBuiltServer, type BuiltServer } from './built-server.js';
import { BACKENDS } from '../backends.js';
import { md5 } from '../connect-helpers.js';

const root = path.resolve(__dirname, '../../..');
const fastapiApp = path.join(root, 'test/compat/fastapi-app');
const skip = realNodeSkip();
const postgres = BACKENDS.find((b) => b.name === 'postgres')!;


const REPORT_RMD = `---
title: "Offhost report"
output: html_document
---

The answer is \`r 6 * 7\`.
`;

/** An R Markdown report directory with the manifest.json R's rsconnect writes for it. */
function reportDir(rVersion: string): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'offhost-report-'));
  fs.writeFileSync(path.join(dir, 'report.Rmd'), REPORT_RMD);
  const manifest = {
    version: 1,
    locale: 'en_US',
    platform: rVersion,
    metadata: { appmode: 'rmd-static', primary_rmd: 'report.Rmd', primary_html: null, content_category: null, has_parameters: false },
    packages: {},
    files: { 'report.Rmd': { checksum: md5(REPORT_RMD) } },
    users: null,
  };
  fs.writeFileSync(path.join(dir, 'manifest.json'), JSON.stringify(manifest, null, 2));
  return dir;
}

describe.skipIf(skip)('rsconnect deploy, end to end on the real node', () => {
  const ns = useRealNodeNamespace('deploy');
  const packages = useContentClaim(ns, 'offhost-packages');
  const venv = inject('pythonClients');
  let home: string;

  beforeAll(async () => {
    if (!venv) throw new Error(`no Python clients for this run: ${inject('pythonClientsError')}`);
    home = fs.mkdtempSync(path.join(os.tmpdir(), 'offhost-deploy-home-'));
    // The package mirror the environment mounts: the wheels the app's requirements need.
    const wheels = await wheelhouse(fs.readFileSync(path.join(fastapiApp, 'requirements.txt'), 'utf8').split('\n').filter((l) => l.trim() && !l.startsWith('#')));
    const dest = path.join(packages.hostDir, 'wheels');
    fs.cpSync(wheels, dest, { recursive: true });
    if (process.getuid?.() === 0) for (const f of [dest, ...fs.readdirSync(dest).map((n) => path.join(dest, n))]) fs.chownSync(f, JOB_UID, JOB_UID);
  }, 600_000);
  afterAll(() => {
    if (home) fs.rmSync(home, { recursive: true, force: true });
  });

  describe.each([
    { mode: 'mounted', volume: true },
    { mode: 'copied', volume: false },
  ])('$mode content volume', ({ mode, volume }) => {
    // A claim of its own: in mounted mode the server (root here) owns what it writes there.
    const content = useContentClaim(ns, `offhost-content-${mode}`);
    let server: BuiltServer;
    let key: string;
    let drop: () => Promise<void>;
    let dataDir: string;
    let serverEnv: Record<string, string>;

    const rsconnect = (args: string[], cwd = home) =>
      runProgram(path.join(venv, 'bin', 'rsconnect'), [...args, '-s', server.url, '-k', key], {
        PATH: `${path.join(venv, 'bin')}:${process.env.PATH}`,
        HOME: home,
        XDG_CONFIG_HOME: path.join(home, '.config'),
        NO_COLOR: '1',
      }, cwd);

    const api = async (method: string, p: string, body?: unknown) => {
      const res = await fetch(new URL(p, server.url), {
        method,
        headers: { Authorization: `Key ${key}`, ...(body ? { 'Content-Type': 'application/json' } : {}) },
        body: body ? JSON.stringify(body) : undefined,
      });
      const text = await res.text();
      if (!res.ok) throw new Error(`${method} ${p}: ${res.status} ${text}`);
      return text ? JSON.parse(text) : undefined;
    };

    beforeAll(async () => {
      const db = await postgres.create();
      drop = db.drop;
      if (db.config.kind !== 'postgres') throw new Error('expected PostgreSQL');
      dataDir = fs.mkdtempSync(path.join(os.tmpdir(), `offhost-deploy-${mode}-`));
      serverEnv = {
        OFFHOST_DATA_DIR: dataDir,
        DATABASE_URL: db.config.url ?? '',
        OFFHOST_ENVIRONMENTS_FILE: '',
        OFFHOST_KUBECONFIG: inject('kubeconfigPath') ?? '',
        OFFHOST_NAMESPACE: ns.name,
        OFFHOST_CONTENT_CLAIM: content.name,
        ...(volume ? { OFFHOST_CONTENT_VOLUME: content.hostDir } : {}),
        OFFHOST_STORE_IMAGE: imageMeta('python').ref,
        // Pods run on real-0 (the cluster's other node is KWOK's, where nothing really runs).
        OFFHOST_JOB_NODE_SELECTOR: JSON.stringify({ 'kubernetes.io/hostname': REAL_NODE_NAME }),
        OFFHOST_JOB_TOLERATIONS: JSON.stringify([{ key: REAL_NODE_TAINT.key, operator: 'Exists', effect: REAL_NODE_TAINT.effect }]),
      };
      key = await createAdminKey(serverEnv, 'deployer');
      server = await startBuiltServer(serverEnv);
      const py = imageMeta('python');
      const r = imageMeta('r');
      await api('POST', '/__api__/v1/environments', {
        title: 'Debian Python',
        name: py.ref,
        matching: 'any',
        python: { installations: [{ version: py.runtimes.python!.version, path: py.runtimes.python!.path }] },
        volume_mounts: [{ source: { volume_type: 'pvc', pvc_name: packages.name }, target: { path: '/packages', read_only: true } }],
      });
      await api('POST', '/__api__/v1/environments', {
        title: 'Debian R',
        name: r.ref,
        matching: 'any',
        r: { installations: [{ version: r.runtimes.r!.version, path: r.runtimes.r!.path }] },
      });
      await setPackageSources(api);
    }, 120_000);
    afterAll(async () => {
      await server?.stop();
      await drop?.();
      if (dataDir) fs.rmSync(dataDir, { recursive: true, force: true });
    });

    it('rsconnect deploy fastapi: exits 0, prints the URL, and the URL answers the API through Offhost', { timeout: 300_000 }, async () => {
      // A copy: rsconnect writes its deployment record next to the app.
      const app = fs.mkdtempSync(path.join(home, 'app-'));
      fs.cpSync(fastapiApp, app, { recursive: true });
      const deploy = await rsconnect(['deploy', 'fastapi', '--title', `Hello ${mode}`, app]);
      const text = deploy.stdout + deploy.stderr;
      expect(deploy.code, `rsconnect deploy failed:\n${text}\n--- server log ---\n${server.log().slice(-4000)}`).toBe(0);
      figure(`rsconnect deploy fastapi (${mode}), first deploy`, `${(deploy.ms / 1000).toFixed(1)} s`);
      // The build's own words came through the task, line by line: pip's.
      expect(text).toMatch(/Successfully installed [^\n]*fastapi-0\.115\.0/);
      const urls = [...text.matchAll(/(http:\/\/127\.0\.0\.1:\d+\/content\/[0-9a-f-]{36}\/)/g)].map((m) => m[1]!);
      expect(urls.length).toBeGreaterThan(0);
      const res = await fetch(urls.at(-1)!, { headers: { Authorization: `Key ${key}` } });
      const body = await res.text();
      expect(res.status, `GET ${urls.at(-1)}: ${body}\n--- server log ---\n${server.log().slice(-4000)}`).toBe(200);
      expect(JSON.parse(body)).toEqual({ hello: 'world' });
    });

    it.runIf(mode === 'mounted')('an app that crashes on start: rsconnect deploy fails, and the task it prints ends with the crash in the app\'s own words', { timeout: 300_000 }, async () => {
      const app = fs.mkdtempSync(path.join(home, 'broken-'));
      fs.cpSync(fastapiApp, app, { recursive: true });
      fs.writeFileSync(path.join(app, 'main.py'), 'import sys\nprint("starting the broken app", flush=True)\nraise SystemExit("broken on purpose: no database configured")\n');
      // --no-verify: activate at once, so the run job belongs to the deploy's task.
      const deploy = await rsconnect(['deploy', 'fastapi', '--no-verify', '--title', 'Broken', app]);
      const text = deploy.stdout + deploy.stderr;
      expect(deploy.code, text).not.toBe(0);
      expect(text).toContain('starting the broken app');
      expect(text).toContain('broken on purpose: no database configured');
      // the launcher's verdict comes after the app's own lines
      expect(text.lastIndexOf('Status: failed')).toBeGreaterThan(text.indexOf('broken on purpose'));
    });

    it('rsconnect deploy manifest of an R Markdown report: exits 0, and the URL shows the rendered HTML', { timeout: 300_000 }, async () => {
      const dir = reportDir(imageMeta('r').runtimes.r!.version);
      try {
        const deploy = await rsconnect(['deploy', 'manifest', '--title', `Report ${mode}`, path.join(dir, 'manifest.json')], dir);
        const text = deploy.stdout + deploy.stderr;
        expect(deploy.code, `rsconnect deploy failed:\n${text}\n--- server log ---\n${server.log().slice(-4000)}`).toBe(0);
        figure(`rsconnect deploy manifest (R Markdown, ${mode})`, `${(deploy.ms / 1000).toFixed(1)} s`);
        const url = [...text.matchAll(/(http:\/\/127\.0\.0\.1:\d+\/content\/[0-9a-f-]{36}\/)/g)].map((m) => m[1]!).at(-1)!;
        const res = await fetch(url, { headers: { Authorization: `Key ${key}` } });
        const html = await res.text();
        expect(res.status, `GET ${url}: ${html.slice(0, 2000)}`).toBe(200);
        expect(html).toMatch(/<html/i);
        expect(html).toContain('The answer is 42.');
      } finally {
        fs.rmSync(dir, { recursive: true, force: true });
      }
    });
  });
});

/** The admin's package sources: the wheelhouse the environment mounts at /packages. */
async function setPackageSources(api: (method: string, p: string, body?: unknown) => Promise<unknown>): Promise<void> {
  await api('POST', '/api/call/settings.packageSources.update', { python_find_links: ['file:///packages/wheels'], python_no_index: true, python_index_url: null, r_repositories: [] });
}
