/**
 * The server image (build/server-image.sh) run the way the Helm chart's pod runs it, without a
 * kubelet: runc starts the image's own runtime config with the chart's Deployment applied — its
 * environment, a read-only root filesystem, uid/gid 999, no capabilities, no privilege escalation,
 * /tmp as tmpfs, the content volume, the database URL and bootstrap key as read-only Secret files,
 * and the chart's ServiceAccount token where a pod finds it (in-cluster configuration). Against the
 * test cluster and PostgreSQL it must: answer /readyz, take the bootstrap key as an admin, pass
 * test connection with every permission, and run a deploy as a Job whose bundle it wrote to the
 * content volume (mounted mode).
 *
 * Host network instead of a pod network, and the test cluster's KWOK nodes instead of a kubelet.
 * Needs root (runc). The image: OFFHOST_SERVER_IMAGE=path/to/offhost-server-*.oci.tar, else this
 * test builds it from the dist/ that is there with build/server-image.sh (its Debian root
 * filesystem cached in ~/.cache/offhost/server-image/: the first build fetches Debian packages,
 * later ones only repack, about 30 s). Skipped, saying so, when not root.
 */
import { execFile, execFileSync, spawn } from 'node:child_process';
import { promisify } from 'node:util';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import * as k8s from '@kubernetes/client-node';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { fastapiBundle, PYTHON_ENV } from '../connect-helpers';
import { renderChart, type K8sObject } from '../../cluster/helm.js';
import { eventually, isLocalCluster, kube, loadKubeConfig, useTestNamespace } from '../../cluster/kube.js';

const root = path.resolve(__dirname, '../../..');
let IMAGE = process.env.OFFHOST_SERVER_IMAGE ? path.resolve(process.env.OFFHOST_SERVER_IMAGE) : '';
const why = process.getuid?.() !== 0 ? 'runc and mmdebstrap need root (sudo npx vitest run --project cluster test/integration/cluster/server-image-runc.test.ts)' : '';
if (why) process.stderr.write(`[server-image-runc] skipped: ${why}\n`);

const ns = useTestNamespace('server-image');
const ID = `offhost-h12-${randomBytes(3).toString('hex')}`;
let dir = '';
let base = '';
let adminKey = '';
let dbName = '';
let output = '';
const cleanup: (() => Promise<unknown>)[] = [];

async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address() as net.AddressInfo;
      s.close(() => resolve(port));
    });
  });
}

describe.skipIf(Boolean(why) || !isLocalCluster())('the server image under runc, as the chart runs it', () => {
  beforeAll(async () => {
    const { core, objects } = kube();
    dir = fs.mkdtempSync('/var/tmp/offhost-runc-');
    if (!IMAGE) {
      // The image of this checkout's dist/ (npm test built it), as the README's command makes it.
      IMAGE = `${dir}/offhost-server.oci.tar`;
      const t0 = Date.now();
      await promisify(execFile)('bash', [path.join(root, 'build/server-image.sh'), IMAGE], { env: { ...process.env, OFFHOST_IMAGE_SKIP_BUILD: '1' }, timeout: 600_000, maxBuffer: 64 * 1024 * 1024 });
      process.stderr.write(`[server-image-runc] built the image in ${((Date.now() - t0) / 1000).toFixed(1)} s\n`);
    }
    // The image, unpacked into a runtime bundle with the image's own config (user, entrypoint, env).
    fs.mkdirSync(`${dir}/oci`);
    execFileSync('tar', ['-C', `${dir}/oci`, '-xf', IMAGE]);
    const tag = JSON.parse(fs.readFileSync(`${dir}/oci/index.json`, 'utf8')).manifests[0].annotations['org.opencontainers.image.ref.name'];
    execFileSync('umoci', ['unpack', '--image', `${dir}/oci:${tag}`, `${dir}/bundle`]);

    // The chart, rendered for this namespace: its account and RBAC created, its Deployment read.
    const objs = renderChart({ namespace: ns.name, set: { 'database.existingSecret': 'offhost-database' } });
    for (const o of objs.filter((x) => ['ServiceAccount', 'Role', 'RoleBinding', 'ClusterRole', 'ClusterRoleBinding'].includes(x.kind))) {
      await objects.create(o as k8s.KubernetesObject);
      if (o.kind.startsWith('Cluster')) cleanup.push(() => objects.delete(o as k8s.KubernetesObject).catch(() => undefined));
    }
    const deployment = objs.find((o) => o.kind === 'Deployment') as K8sObject as k8s.V1Deployment;
    const podSpec = deployment.spec!.template.spec!;
    const container = podSpec.containers[0]!;
    const claim = (objs.find((o) => o.kind === 'PersistentVolumeClaim') as K8sObject).metadata.name;

    // The content volume: a host directory, and a PV + PVC so job pods that mount the claim schedule.
    const content = `${dir}/content`;
    fs.mkdirSync(content, { mode: 0o775 });
    fs.chownSync(content, 999, 999);
    const pvName = `${ns.name}-content`;
    await core.createPersistentVolume({ body: { metadata: { name: pvName }, spec: { capacity: { storage: '1Gi' }, accessModes: ['ReadWriteMany'], hostPath: { path: content }, storageClassName: '', claimRef: { namespace: ns.name, name: claim } } } });
    cleanup.push(() => core.deletePersistentVolume({ name: pvName }).catch(() => undefined));
    await core.createNamespacedPersistentVolumeClaim({ namespace: ns.name, body: { metadata: { name: claim }, spec: { accessModes: ['ReadWriteMany'], storageClassName: '', volumeName: pvName, resources: { requests: { storage: '1Gi' } } } } });

    // What the kubelet would mount: the account's token (TokenRequest), the CA, the namespace; the Secrets' keys.
    const sa = podSpec.serviceAccountName!;
    const token = (await core.createNamespacedServiceAccountToken({ name: sa, namespace: ns.name, body: { spec: { audiences: [], expirationSeconds: 3600 } } })).status!.token;
    const admin = loadKubeConfig();
    const cluster = admin.getCurrentCluster()!;
    const saDir = `${dir}/serviceaccount`;
    fs.mkdirSync(saDir);
    fs.writeFileSync(`${saDir}/token`, token);
    fs.writeFileSync(`${saDir}/ca.crt`, cluster.caData ? Buffer.from(cluster.caData, 'base64') : fs.readFileSync(cluster.caFile!));
    fs.writeFileSync(`${saDir}/namespace`, ns.name);
    const pgBase = inject('postgresUrl');
    if (!pgBase) throw new Error(`no PostgreSQL for this run: ${inject('postgresError')}`);
    dbName = `offhost_img_${randomBytes(4).toString('hex')}`;
    const c = new pg.Client({ connectionString: pgBase });
    await c.connect();
    await c.query(`CREATE DATABASE ${dbName}`);
    await c.end();
    const dbUrl = new URL(pgBase);
    dbUrl.pathname = `/${dbName}`;
    adminKey = `ohk_${randomBytes(32).toString('base64url')}`;
    const secretDirs: Record<string, Record<string, string>> = { database: { 'database-url': `${dbUrl}\n` }, 'api-key': { 'admin-key': `${adminKey}\n` } };
    for (const [name, files] of Object.entries(secretDirs)) {
      fs.mkdirSync(`${dir}/${name}`);
      for (const [f, v] of Object.entries(files)) {
        fs.writeFileSync(`${dir}/${name}/${f}`, v, { mode: 0o440 });
        fs.chownSync(`${dir}/${name}/${f}`, 0, 999); // root:fsGroup 0440, as the kubelet makes Secret files with fsGroup
      }
    }

    // The runtime config: the image's, with the chart's pod applied.
    const port = await freePort();
    base = `http://127.0.0.1:${port}`;
    const apiserver = new URL(cluster.server);
    const spec = JSON.parse(fs.readFileSync(`${dir}/bundle/config.json`, 'utf8'));
    // On the host network: loopback only, on a free port (in a pod: 0.0.0.0:3939 of the pod's own network).
    const hostOverrides: Record<string, string> = { OFFHOST_PORT: String(port), OFFHOST_HOST: '127.0.0.1' };
    const env = (container.env ?? []).filter((e) => e.value !== undefined).map((e) => `${e.name}=${hostOverrides[e.name] ?? e.value}`);
    env.push(`OFFHOST_NAMESPACE=${ns.name}`, `KUBERNETES_SERVICE_HOST=${apiserver.hostname}`, `KUBERNETES_SERVICE_PORT=${apiserver.port}`);
    spec.process.env = [...spec.process.env.filter((e: string) => !env.some((x) => x.split('=')[0] === e.split('=')[0])), ...env];
    spec.process.terminal = false;
    spec.process.user = { uid: podSpec.securityContext!.runAsUser, gid: podSpec.securityContext!.runAsGroup, additionalGids: [podSpec.securityContext!.fsGroup] };
    spec.process.noNewPrivileges = container.securityContext!.allowPrivilegeEscalation === false;
    spec.process.capabilities = { bounding: [], effective: [], permitted: [], ambient: [] }; // drop: [ALL]
    spec.root = { path: 'rootfs', readonly: container.securityContext!.readOnlyRootFilesystem === true };
    const byName = new Map((podSpec.volumes ?? []).map((v) => [v.name, v]));
    for (const m of container.volumeMounts ?? []) {
      const v = byName.get(m.name)!;
      if (v.emptyDir) spec.mounts.push({ destination: m.mountPath, type: 'tmpfs', source: 'tmpfs', options: ['nosuid', 'nodev', 'mode=1777', 'size=256m'] });
      else if (v.persistentVolumeClaim) spec.mounts.push({ destination: m.mountPath, type: 'bind', source: content, options: ['rbind', 'rw'] });
      else if (v.secret) spec.mounts.push({ destination: m.mountPath, type: 'bind', source: `${dir}/${m.name}`, options: ['rbind', 'ro'] });
      else throw new Error(`volume ${m.name}: not a kind this test mounts`);
    }
    spec.mounts.push({ destination: '/var/run/secrets/kubernetes.io/serviceaccount', type: 'bind', source: saDir, options: ['rbind', 'ro'] });
    // Host network stands in for the pod network (the apiserver and PostgreSQL are on 127.0.0.1).
    spec.linux.namespaces = spec.linux.namespaces.filter((n: { type: string }) => n.type !== 'network');
    fs.writeFileSync(`${dir}/bundle/config.json`, JSON.stringify(spec, null, 2));

    const log = fs.openSync(`${dir}/server.log`, 'w');
    const run = spawn('runc', ['run', '--detach', '--bundle', `${dir}/bundle`, ID], { stdio: ['ignore', log, log] });
    await new Promise<void>((resolve, reject) => run.once('exit', (code) => (code === 0 ? resolve() : reject(new Error(`runc run exited ${code}: ${fs.readFileSync(`${dir}/server.log`, 'utf8')}`)))));
    fs.closeSync(log);
    cleanup.push(async () => {
      execFileSync('runc', ['kill', ID, 'TERM'], { stdio: 'ignore' });
      await eventually(async () => !/running/.test(execFileSync('runc', ['state', ID], { encoding: 'utf8' })), { what: 'the server to stop', timeoutMs: 10_000 }).catch(() => execFileSync('runc', ['kill', ID, 'KILL'], { stdio: 'ignore' }));
      execFileSync('runc', ['delete', '--force', ID], { stdio: 'ignore' });
    });
    await eventually(async () => (await fetch(`${base}/readyz`)).status === 200, { what: `the server in the image to be ready (${dir}/server.log)`, timeoutMs: 60_000 });
  }, 900_000);

  afterAll(async () => {
    for (const f of cleanup.reverse()) await f().catch(() => undefined);
    if (dir) output = fs.existsSync(`${dir}/server.log`) ? fs.readFileSync(`${dir}/server.log`, 'utf8') : '';
    if (dbName) {
      const c = new pg.Client({ connectionString: inject('postgresUrl')! });
      await c.connect();
      await c.query(`DROP DATABASE IF EXISTS ${dbName}`).catch(() => undefined);
      await c.end();
    }
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  const call = async (method: string, p: string, body?: unknown, raw?: Buffer) => {
    const r = await fetch(`${base}${p}`, {
      method,
      headers: { Authorization: `Key ${adminKey}`, ...(body !== undefined ? { 'Content-Type': 'application/json' } : {}) },
      body: raw ? new Uint8Array(raw) : body !== undefined ? JSON.stringify(body) : undefined,
    });
    const text = await r.text();
    return { status: r.status, json: text ? JSON.parse(text) : null, text };
  };

  it('as the chart runs it: ready, the bootstrap key is an admin, test connection grants everything (in-cluster config, the chart account)', async () => {
    expect((await fetch(`${base}/healthz`)).status).toBe(200);
    const me = await call('GET', '/__api__/v1/user');
    expect(me.status, me.text).toBe(200);
    expect(me.json).toMatchObject({ username: 'admin', user_role: 'administrator' });
    const report = await call('POST', '/api/call/cluster.test', {});
    expect(report.status, report.text).toBe(200);
    expect(report.json.result ?? report.json).toMatchObject({ ok: true, missing: [], namespace: ns.name });
  });

  it('a deploy: the bundle lands on the content volume (written as uid 999) and runs as a Job of the namespace', async () => {
    const env = await call('POST', '/__api__/v1/environments', { ...PYTHON_ENV, matching: 'any' });
    expect(env.status, env.text).toBe(200);
    const content = await call('POST', '/__api__/v1/content', { name: `img-${randomBytes(3).toString('hex')}` });
    expect(content.status, content.text).toBe(200);
    const guid = content.json.guid;
    const bundle = await call('POST', `/__api__/v1/content/${guid}/bundles`, undefined, fastapiBundle());
    expect(bundle.status, bundle.text).toBe(200);
    const deploy = await call('POST', `/__api__/v1/content/${guid}/deploy`, { bundle_id: bundle.json.id });
    expect(deploy.status, deploy.text).toBe(202);
    const { batch } = kube();
    const job = await eventually(async () => (await batch.listNamespacedJob({ namespace: ns.name, labelSelector: `offhost.dev/content-guid=${guid}` })).items[0], { what: 'the Job', timeoutMs: 60_000 });
    const volumes = job.spec!.template.spec!.volumes ?? [];
    expect(volumes.some((v) => v.persistentVolumeClaim?.claimName)).toBe(true);
    const bundles = fs.readdirSync(`${dir}/content/bundles`).filter((n) => /^[0-9a-f]{64}$/.test(n));
    expect(bundles).toHaveLength(1);
    expect(fs.statSync(`${dir}/content/bundles/${bundles[0]}`).uid).toBe(999);
    expect(fs.existsSync(`${dir}/content/bundles/${bundles[0]}/main.py`) || fs.readdirSync(`${dir}/content/bundles/${bundles[0]}`).length > 0).toBe(true);
    const task = await call('GET', `/__api__/v1/tasks/${deploy.json.task_id}?first=0`);
    expect(task.json.output.join('\n')).toMatch(/Created the Kubernetes Job/);
  });
});

afterAll(() => {
  if (output && process.env.OFFHOST_SHOW_SERVER_LOG) process.stderr.write(output);
});
