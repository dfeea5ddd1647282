/**
 * What runs inside content pods, on the real node, through the product's own core (createCore:
 * launcher, content service, environments, package sources) in mounted mode: the server side
 * writes the content volume at the host directory a hostPath PersistentVolume is, and the pods
 * mount the same claim — exactly the in-cluster arrangement. Pods have no network: Python
 * packages come from a wheelhouse on another claim the environment mounts, named by the admin's
 * package sources (file://).
 *
 *  - FastAPI: the build makes a venv and pip-installs the pinned requirements from the
 *    wheelhouse; the run serves on 0.0.0.0:8080 and is Ready; it answers through the apiserver's
 *    service proxy. A redeploy with the same requirements reuses the library (no restore).
 *  - A requirement the wheelhouse lacks: the build fails with pip's own words in the task.
 *  - R Markdown: the render writes its HTML into jobs/<id>/output on the volume.
 */
import fs from 'node:fs';
import https from 'node:https';
import os from 'node:os';
import path from 'node:path';
import zlib from 'node:zlib';

import type * as k8s from '@kubernetes/client-node';
import { create as tarCreate } from 'tar';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';

import { dispatch, type CallContext } from '../../../main/api/handlers';
import { loadConfig } from '../../../main/config';
import { createCore, type Core } from '../../../main/core';
import { silentLogger } from '../../../main/log';
import { jobsRepo, type JobRecord } from '../../../main/store/jobs-repo';
import { READY_MARKER } from '../../../main/kube/commands';
import type { Content } from '../../../shared/content';
import { kube } from '../../cluster/kube.js';
import { REAL_NODE_NAME, REAL_NODE_TAINT } from '../../cluster/realnode.js';
import { JOB_UID, enforceRestricted, figure, imageMeta, realNodeSkip, useContentClaim, useRealNodeNamespace } from './helpers.js';
import { wheelhouse } from './wheelhouse.js';

const skip = realNodeSkip();
const root = path.resolve(__dirname, '../../..');
const fastapiApp = path.join(root, 'test/compat/fastapi-app');
const ADMIN: CallContext = { actor: 'test:execution', role: 'admin' };

/** A bundle (.tar.gz) of these files with their manifest.json. */
async function bundle(files: Record<string, string>, manifest: Record<string, unknown>): Promise<string> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'offhost-bundle-'));
  for (const [name, text] of Object.entries(files)) fs.writeFileSync(path.join(dir, name), text);
  fs.writeFileSync(path.join(dir, 'manifest.json'), JSON.stringify({ version: 1, ...manifest }, null, 2));
  const out = `${dir}.tar.gz`;
  await tarCreate({ gzip: true, file: out, cwd: dir, portable: true }, fs.readdirSync(dir));
  fs.rmSync(dir, { recursive: true, force: true });
  return out;
}

/** GET through the apiserver (its service proxy) with the admin credentials. */
async function apiGet(kc: k8s.KubeConfig, p: string): Promise<{ status: number; body: string }> {
  const server = new URL(kc.getCurrentCluster()!.server);
  const opts: https.RequestOptions = { host: server.hostname, port: server.port, path: p, method: 'GET' };
  await kc.applyToHTTPSOptions(opts);
  return new Promise((resolve, reject) => {
    const req = https.request(opts, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

/** A CRAN-like repository (src/contrib + PACKAGES) holding one tiny source package, offhosthello. */
async function cranLike(dir: string): Promise<void> {
  const contrib = path.join(dir, 'src', 'contrib');
  const pkg = fs.mkdtempSync(path.join(os.tmpdir(), 'offhost-rpkg-'));
  const root = path.join(pkg, 'offhosthello');
  fs.mkdirSync(path.join(root, 'R'), { recursive: true });
  fs.writeFileSync(
    path.join(root, 'DESCRIPTION'),
    'Package: offhosthello\nVersion: 0.1.0\nTitle: Says Hello\nDescription: A package for the tests.\nLicense: MIT\nAuthor: Offhost\nMaintainer: Offhost <test@example.com>\nNeedsCompilation: no\n',
  );
  fs.writeFileSync(path.join(root, 'NAMESPACE'), 'export(hello)\n');
  fs.writeFileSync(path.join(root, 'R', 'hello.R'), 'hello <- function() "Hello from a local CRAN-like repository"\n');
  fs.mkdirSync(contrib, { recursive: true });
  await tarCreate({ gzip: true, file: path.join(contrib, 'offhosthello_0.1.0.tar.gz'), cwd: pkg, portable: true }, ['offhosthello']);
  fs.writeFileSync(path.join(contrib, 'PACKAGES'), 'Package: offhosthello\nVersion: 0.1.0\nNeedsCompilation: no\n');
  fs.rmSync(pkg, { recursive: true, force: true });
  for (const p of [dir, path.join(dir, 'src'), contrib]) fs.chmodSync(p, 0o755);
}

const seconds = (a: string | null, b: string | null) => (a && b ? (new Date(b).getTime() - new Date(a).getTime()) / 1000 : NaN);

describe.skipIf(!!skip)('content execution on the real node (mounted content volume)', () => {
  const ns = useRealNodeNamespace('rn-exec');
  const content = useContentClaim(ns, 'offhost-content');
  const packages = useContentClaim(ns, 'offhost-packages');
  let core: Core;
  let dataDir: string;
  const call = (method: string, input: unknown) => dispatch(core.handlers, method, input, ADMIN);

  beforeAll(async () => {
    await enforceRestricted(ns.name);
    // The wheelhouse the environment mounts at /packages (pip download on the host, cached).
    const requirements = fs.readFileSync(path.join(fastapiApp, 'requirements.txt'), 'utf8').split('\n').filter((l) => l.trim() && !l.startsWith('#'));
    const wheels = await wheelhouse(requirements);
    const dest = path.join(packages.hostDir, 'wheels');
    fs.cpSync(wheels, dest, { recursive: true });
    if (process.getuid?.() === 0) for (const f of [dest, ...fs.readdirSync(dest).map((n) => path.join(dest, n))]) fs.chownSync(f, JOB_UID, JOB_UID);

    dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'offhost-exec-'));
    const config = loadConfig(
      { OFFHOST_DATA_DIR: dataDir },
      {
        kube: {
          source: { kind: 'files', files: [inject('kubeconfigPath')], from: 'OFFHOST_KUBECONFIG' },
          context: null,
          namespace: ns.name,
          placement: { nodeSelector: { 'kubernetes.io/hostname': REAL_NODE_NAME }, tolerations: [{ key: REAL_NODE_TAINT.key, operator: 'Exists', effect: REAL_NODE_TAINT.effect }] },
        },
        contentVolume: { claim: content.name, mountPath: content.hostDir, storeImage: null },
        environmentsFile: null,
      },
    );
    core = await createCore(config, silentLogger, 'server');
    const py = imageMeta('python');
    const r = imageMeta('r');
    await call('environments.create', {
      title: 'Debian Python',
      name: py.ref,
      matching: 'any',
      python: { installations: [{ version: py.runtimes.python!.version, path: py.runtimes.python!.path }] },
      volume_mounts: [{ source: { volume_type: 'pvc', pvc_name: packages.name }, target: { path: '/packages', read_only: true } }],
    });
    await call('environments.create', {
      title: 'Debian R',
      name: r.ref,
      matching: 'any',
      r: { installations: [{ version: r.runtimes.r!.version, path: r.runtimes.r!.path }] },
      volume_mounts: [{ source: { volume_type: 'pvc', pvc_name: packages.name }, target: { path: '/packages', read_only: true } }],
    });
    // A local CRAN-like repository beside the wheelhouse, with one small source package.
    await cranLike(path.join(packages.hostDir, 'cran'));
    await call('settings.packageSources.update', {
      python_find_links: ['file:///packages/wheels'],
      python_no_index: true,
      r_repositories: [{ name: 'local', url: 'file:///packages/cran' }],
    });
  }, 600_000);

  afterAll(async () => {
    await core?.close();
    if (dataDir) fs.rmSync(dataDir, { recursive: true, force: true });
  });

  /** Create content, upload the bundle, deploy; resolves when the task finishes, with its output and jobs. */
  async function deploy(name: string, archive: string, guid?: string): Promise<{ guid: string; code: number; output: string[]; jobs: JobRecord[]; ms: number }> {
    const t0 = Date.now();
    const item = guid ? { guid } : ((await call('content.create', { name })) as Content);
    const b = await core.content.uploadBundle(item.guid, fs.createReadStream(archive), {}, ADMIN);
    const { task_id } = (await call('content.deploy', { guid: item.guid, bundle_id: String(b.id) })) as { task_id: string };
    const deadline = Date.now() + 300_000;
    for (;;) {
      const task = await core.content.tasks.get(task_id);
      if (task.finished) {
        const c = await core.content.get(item.guid);
        const jobs = (await jobsRepo.listForContent(core.store.db, c.id)).filter((j) => j.task_id === task_id).sort((a, b2) => a.id - b2.id);
        return { guid: item.guid, code: task.code, output: task.output, jobs, ms: Date.now() - t0 };
      }
      if (Date.now() > deadline) throw new Error(`task ${task_id} did not finish in 300 s:\n${task.output.join('\n')}`);
      await new Promise((r) => setTimeout(r, 250));
    }
  }

  let fastapi: { guid: string; archive: string; firstBuild: number };

  it('FastAPI: the build restores the requirements into a venv from the wheelhouse; the app serves on 8080, Ready, through the service proxy', async () => {
    const archive = await bundle(
      { 'main.py': fs.readFileSync(path.join(fastapiApp, 'main.py'), 'utf8'), 'requirements.txt': fs.readFileSync(path.join(fastapiApp, 'requirements.txt'), 'utf8') },
      { metadata: { appmode: 'python-fastapi', entrypoint: 'main:app' }, python: { version: imageMeta('python').runtimes.python!.version, package_manager: { name: 'pip', package_file: 'requirements.txt' } } },
    );
    const d = await deploy('exec-fastapi', archive);
    const text = d.output.join('\n');
    expect(d.code, text).toBe(0);
    expect(text).toMatch(/Extracting bundle [0-9a-f]{12} .* onto the content volume \(claim offhost-content\)/);
    expect(text).toContain('Creating a Python virtual environment for the package library');
    expect(text).toContain('Restoring Python packages from requirements.txt with pip, from find-links file:///packages/wheels');
    expect(text).toMatch(/Successfully installed .*fastapi-0\.115\.0/);
    expect(text).toContain('Starting main:app with uvicorn on 0.0.0.0:8080');
    expect(text).toContain('Status: the content is running.');
    const [build, run] = d.jobs;
    expect(build!.kind).toBe('build');
    expect(run!.kind).toBe('run');
    expect(run!.ready_time).not.toBeNull();
    // The library is on the volume, marked ready, owned by the job user.
    const libs = path.join(content.hostDir, 'libraries', d.guid);
    const [key] = fs.readdirSync(libs);
    expect(key).toMatch(/^lib-[0-9a-f]{32}$/);
    expect(fs.existsSync(path.join(libs, key!, READY_MARKER))).toBe(true);
    expect(fs.existsSync(path.join(libs, key!, 'python', 'bin', 'python'))).toBe(true);
    const { kc } = kube();
    const res = await apiGet(kc, `/api/v1/namespaces/${ns.name}/services/offhost-job-${run!.id}:80/proxy/`);
    expect(res.status, res.body).toBe(200);
    expect(JSON.parse(res.body)).toEqual({ hello: 'world' });
    const firstBuild = seconds(build!.created_time, build!.finished_time);
    figure('FastAPI build, cold (venv + pip from the wheelhouse)', `${firstBuild.toFixed(1)} s (job created → finished); deploy → running ${(d.ms / 1000).toFixed(1)} s`);
    fastapi = { guid: d.guid, archive, firstBuild };
  }, 400_000);

  it('redeploying with the same requirements reuses the library: no restore', async () => {
    expect(fastapi, 'the FastAPI test ran first').toBeDefined();
    const d = await deploy('exec-fastapi', fastapi.archive, fastapi.guid);
    const text = d.output.join('\n');
    expect(d.code, text).toBe(0);
    expect(text).toMatch(/Reusing the package library lib-[0-9a-f]{32} \(restored \d{4}-\d\d-\d\dT[\d:]+Z\); nothing to restore\./);
    expect(text).not.toContain('Restoring Python packages');
    expect(text).not.toContain('Successfully installed');
    expect(text).toContain(`already on the content volume`);
    const build = d.jobs.find((j) => j.kind === 'build')!;
    const reuse = seconds(build.created_time, build.finished_time);
    figure('FastAPI build, library reused', `${reuse.toFixed(1)} s (job created → finished) vs ${fastapi.firstBuild.toFixed(1)} s cold; deploy → running ${(d.ms / 1000).toFixed(1)} s`);
    expect(reuse).toBeLessThan(fastapi.firstBuild);
  }, 400_000);

  it('a requirement the wheelhouse lacks fails the build with pip’s words in the task', async () => {
    const archive = await bundle(
      { 'main.py': 'from fastapi import FastAPI\napp = FastAPI()\n', 'requirements.txt': 'fastapi==0.115.0\nno-such-package-offhost==1.0\n' },
      { metadata: { appmode: 'python-fastapi', entrypoint: 'main:app' }, python: { version: imageMeta('python').runtimes.python!.version, package_manager: { name: 'pip', package_file: 'requirements.txt' } } },
    );
    const d = await deploy('exec-missing', archive);
    const text = d.output.join('\n');
    expect(d.code, text).not.toBe(0);
    expect(text).toMatch(/Could not find a version that satisfies the requirement no-such-package-offhost==1\.0/);
    expect(text).toMatch(/No matching distribution found for no-such-package-offhost==1\.0/);
    const build = d.jobs.find((j) => j.kind === 'build')!;
    expect(build.state).toBe('failed');
    expect(build.exit_code).not.toBe(0);
    // The failed library is not marked ready, so the next build tries again.
    const libs = path.join(content.hostDir, 'libraries', d.guid);
    for (const key of fs.readdirSync(libs)) expect(fs.existsSync(path.join(libs, key, READY_MARKER))).toBe(false);
    // The run never started.
    expect(d.jobs.find((j) => j.kind === 'run')?.state).toBe('cancelled');
  }, 400_000);

  it.each([
    {
      mode: 'api',
      files: { 'plumber.R': '#* @get /\n#* @serializer unboxedJSON\nfunction() list(hello = "plumber")\n' },
      entrypoint: 'plumber.R',
      packages: ['plumber'],
      check: (body: string) => expect(JSON.parse(body)).toEqual({ hello: 'plumber' }),
    },
    {
      mode: 'shiny',
      files: { 'app.R': 'library(shiny)\nui <- fluidPage(h1("Hello from Shiny"))\nserver <- function(input, output) {}\nshinyApp(ui, server)\n' },
      entrypoint: 'app.R',
      packages: ['shiny'],
      check: (body: string) => expect(body).toContain('Hello from Shiny'),
    },
  ])('R $mode: built and run from the image’s packages, Ready and answering through the service proxy', async ({ mode, files, entrypoint, packages: pkgs, check }) => {
    const archive = await bundle(files as unknown as Record<string, string>, {
      platform: imageMeta('r').runtimes.r!.version,
      metadata: { appmode: mode, entrypoint },
      packages: Object.fromEntries(pkgs.map((p) => [p, { Source: 'CRAN', description: { Package: p } }])),
    });
    const d = await deploy(`exec-${mode}`, archive);
    const text = d.output.join('\n');
    expect(d.code, text).toBe(0);
    expect(text).toContain(`All ${pkgs.length} R packages the bundle needs are in the image.`);
    expect(text).toContain('Status: the content is running.');
    const run = d.jobs.find((j) => j.kind === 'run')!;
    const { kc } = kube();
    const res = await apiGet(kc, `/api/v1/namespaces/${ns.name}/services/offhost-job-${run.id}:80/proxy/`);
    expect(res.status, res.body).toBe(200);
    check(res.body);
    figure(`R ${mode} app`, `deploy → running ${(d.ms / 1000).toFixed(1)} s (run job created → ready ${seconds(run.created_time, run.ready_time).toFixed(1)} s)`);
  }, 400_000);

  it('R: a package the image lacks is installed from the local CRAN-like repository into the library, and the render uses it', async () => {
    const rmd = '---\ntitle: "Uses a package"\noutput: html_document\n---\n\n`r offhosthello::hello()`.\n';
    const archive = await bundle(
      { 'report.Rmd': rmd },
      {
        platform: imageMeta('r').runtimes.r!.version,
        metadata: { appmode: 'rmd-static', primary_rmd: 'report.Rmd', entrypoint: 'report.Rmd' },
        packages: {
          offhosthello: { Source: 'Repository', Repository: 'file:///packages/cran', description: { Package: 'offhosthello', Version: '0.1.0' } },
          rmarkdown: { Source: 'CRAN', description: { Package: 'rmarkdown' } },
        },
      },
    );
    const d = await deploy('exec-rpkg', archive);
    const text = d.output.join('\n');
    expect(d.code, text).toBe(0);
    expect(text).toContain('Installing 1 R package(s) the image lacks (offhosthello) from file:///packages/cran');
    expect(text).toMatch(/DONE \(offhosthello\)/);
    const build = d.jobs.find((j) => j.kind === 'build')!;
    const render = d.jobs.find((j) => j.kind === 'render')!;
    const [key] = fs.readdirSync(path.join(content.hostDir, 'libraries', d.guid));
    expect(fs.existsSync(path.join(content.hostDir, 'libraries', d.guid, key!, 'R', 'offhosthello', 'DESCRIPTION'))).toBe(true);
    const html = fs.readFileSync(path.join(content.hostDir, 'jobs', String(render.id), 'output', 'index.html'), 'utf8');
    expect(html).toContain('Hello from a local CRAN-like repository.');
    figure('R build installing one source package from a file:// CRAN-like repository', `${seconds(build.created_time, build.finished_time).toFixed(1)} s (created → finished)`);
  }, 400_000);

  it('R Markdown: the render writes its HTML into jobs/<id>/output on the content volume', async () => {
    const rmd = '---\ntitle: "Offhost report"\noutput: html_document\n---\n\nThe answer is `r 6 * 7`.\n';
    const archive = await bundle(
      { 'report.Rmd': rmd },
      {
        platform: imageMeta('r').runtimes.r!.version,
        metadata: { appmode: 'rmd-static', primary_rmd: 'report.Rmd', entrypoint: 'report.Rmd' },
        packages: { rmarkdown: { Source: 'CRAN', description: { Package: 'rmarkdown' } }, knitr: { Source: 'CRAN', description: { Package: 'knitr' } } },
      },
    );
    const d = await deploy('exec-report', archive);
    const text = d.output.join('\n');
    expect(d.code, text).toBe(0);
    expect(text).toContain('All 2 R packages the bundle needs are in the image.');
    expect(text).toContain('Rendering report.Rmd with rmarkdown::render');
    const render = d.jobs.find((j) => j.kind === 'render')!;
    expect(render.state).toBe('succeeded');
    const out = path.join(content.hostDir, 'jobs', String(render.id), 'output');
    const html = fs.readFileSync(path.join(out, 'index.html'), 'utf8');
    expect(html).toMatch(/<html/i);
    expect(html).toContain('The answer is 42.');
    expect(fs.existsSync(path.join(out, 'report.html'))).toBe(true);
    // The server reads it back through the volume (what /content/{guid}/ serves from).
    const local = fs.mkdtempSync(path.join(os.tmpdir(), 'offhost-output-'));
    try {
      const { MountedContentVolume } = await import('../../../main/content/volume-mounted');
      await new MountedContentVolume(content.hostDir, content.name).fetchOutput(render.id, local);
      expect(fs.readFileSync(path.join(local, 'index.html'), 'utf8')).toContain('The answer is 42.');
    } finally {
      fs.rmSync(local, { recursive: true, force: true });
    }
    figure('R Markdown render job', `${seconds(render.created_time, render.finished_time).toFixed(1)} s (created → finished); deploy → done ${(d.ms / 1000).toFixed(1)} s`);
  }, 400_000);
});
