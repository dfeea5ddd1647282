/**
 * The launcher's execution step against the real control plane (KWOK nodes): with a content
 * volume, a job's Job carries the bundle, library and work mounts and its script, and its pod is
 * admitted by a namespace enforcing Pod Security "restricted"; the bundle is on the volume and the
 * job's directories exist before the Job does. Without one, or when the environment is gone, the
 * job fails with the reason and no Job is made.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { create as tarCreate } from 'tar';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_PACKAGE_SOURCES } from '../../../shared/package-sources.js';
import type { Environment } from '../../../shared/environment.js';
import { MountedContentVolume } from '../../../main/content/volume-mounted.js';
import { NO_VOLUME_MESSAGE } from '../../../main/launcher/execution.js';
import { objectName } from '../../../main/kube/manifests.js';
import { tasksRepo } from '../../../main/store/tasks-repo.js';
import { BACKENDS } from '../backends.js';
import { eventually, isLocalCluster, kube, useTestNamespace } from '../../cluster/kube.js';
import { startHarness, type Harness } from './launcher-harness.js';

const ns = useTestNamespace('launcher-exec');
// The launcher without a volume has its own database, so its own namespace (job ids restart at 1).
const ns2 = useTestNamespace('launcher-novol');
const SHA = 'c'.repeat(64);
const ENV: Environment = {
  id: '1',
  guid: '00000000-0000-4000-8000-000000000001',
  title: 'Python',
  description: '',
  name: 'registry.invalid/offhost/python:3.11',
  matching: 'any',
  supervisor: null,
  r: { installations: [] },
  python: { installations: [{ version: '3.11.2', path: '/usr/bin/python3' }] },
  quarto: { installations: [] },
  tensorflow: { installations: [] },
  nodejs: { installations: [] },
  volume_mounts: [{ source: { volume_type: 'pvc', pvc_name: 'shared-data' }, target: { path: '/data', read_only: true } }],
  cluster_name: 'Kubernetes',
  environment_type: 'Kubernetes',
  managed_by: null,
  created_time: '2026-01-01T00:00:00Z',
  updated_time: '2026-01-01T00:00:00Z',
};
const MANIFEST = { version: 1, metadata: { appmode: 'python-fastapi', entrypoint: 'main:app' }, python: { version: '3.11.2' } };

describe.skipIf(!isLocalCluster())('launcher execution on the control plane', () => {
  const backend = BACKENDS.find((b) => b.name === 'sqlite')!;
  let root: string;
  let archive: string;
  let withVolume: Harness & { drop(): Promise<void> };
  let withoutVolume: Harness & { drop(): Promise<void> };
  let environment: Environment | undefined = ENV;

  beforeAll(async () => {
    const { core } = kube();
    await core.patchNamespace({ name: ns.name, body: [{ op: 'add', path: '/metadata/labels/pod-security.kubernetes.io~1enforce', value: 'restricted' }] });
    // The claim exists (unbound): pods are admitted and wait, which is all KWOK needs here.
    await core.createNamespacedPersistentVolumeClaim({
      namespace: ns.name,
      body: { metadata: { name: 'offhost-content' }, spec: { accessModes: ['ReadWriteMany'], storageClassName: 'none', resources: { requests: { storage: '1Gi' } } } },
    });
    root = fs.mkdtempSync(path.join(os.tmpdir(), 'offhost-exec-volume-'));
    const src = fs.mkdtempSync(path.join(os.tmpdir(), 'offhost-exec-src-'));
    fs.writeFileSync(path.join(src, 'manifest.json'), JSON.stringify(MANIFEST));
    fs.writeFileSync(path.join(src, 'main.py'), 'app = None\n');
    fs.writeFileSync(path.join(src, 'requirements.txt'), 'fastapi\n');
    archive = `${src}.tar.gz`;
    await tarCreate({ gzip: true, file: archive, cwd: src, portable: true }, ['manifest.json', 'main.py', 'requirements.txt']);
    fs.rmSync(src, { recursive: true, force: true });
    const volume = new MountedContentVolume(root, 'offhost-content');
    await volume.start();
    const deps = { archiveOf: () => archive, environment: async () => environment, packageSources: async () => DEFAULT_PACKAGE_SOURCES };
    withVolume = await startHarness(backend, ns.name, { execution: { ...deps, volume } });
    withoutVolume = await startHarness(backend, ns2.name, { execution: { ...deps, volume: null, noVolumeMessage: NO_VOLUME_MESSAGE }, start: false });
  });
  afterAll(async () => {
    await withVolume?.drop();
    await withoutVolume?.drop();
    if (root) fs.rmSync(root, { recursive: true, force: true });
    if (archive) fs.rmSync(archive, { force: true });
  });

  async function content(h: Harness) {
    const c = await h.content('python-fastapi');
    await h.store.db.updateTable('bundles').set({ sha256: SHA, manifest: JSON.stringify(MANIFEST) }).where('id', '=', c.bundleId).execute();
    return c;
  }

  it('a build job: bundle on the volume and its library made first; the Job mounts them and runs the script; the pod is admitted under "restricted"', async () => {
    const c = await content(withVolume);
    const job = await withVolume.addJob(c, 'build', 'python-fastapi');
    const created = await withVolume.waitFor(job.id, (j) => j.state !== 'queued' && j.state !== 'creating');
    expect(created.state, created.message ?? '').toBe('pending');
    expect(fs.readFileSync(path.join(root, 'bundles', SHA, 'main.py'), 'utf8')).toBe('app = None\n');
    const libs = fs.readdirSync(path.join(root, 'libraries', c.guid));
    expect(libs).toHaveLength(1);
    const { batch, core } = kube();
    const k8sJob = await batch.readNamespacedJob({ name: objectName(job.id), namespace: ns.name });
    const pod = k8sJob.spec!.template.spec!;
    expect(pod.volumes).toEqual([
      { name: 'content', persistentVolumeClaim: { claimName: 'offhost-content' } },
      { name: 'work', emptyDir: {} },
      { name: 'env-0', persistentVolumeClaim: { claimName: 'shared-data', readOnly: true } },
    ]);
    const main = pod.containers[0]!;
    expect(main.volumeMounts).toEqual([
      { name: 'content', mountPath: '/opt/offhost/bundle', subPath: `bundles/${SHA}`, readOnly: true },
      // read-write: readOnly false, which the apiserver leaves out
      { name: 'content', mountPath: '/opt/offhost/library', subPath: `libraries/${c.guid}/${libs[0]}` },
      { name: 'work', mountPath: '/opt/offhost/work' },
      { name: 'env-0', mountPath: '/data', readOnly: true },
    ]);
    expect(main.command![2]).toContain('-m pip install');
    // The Job controller made the pod: the namespace's Pod Security admission let it in.
    const pods = await eventually(async () => (await core.listNamespacedPod({ namespace: ns.name, labelSelector: `offhost.dev/job-id=${job.id}` })).items[0], { what: 'the build pod', timeoutMs: 30_000 });
    expect(pods.spec?.securityContext).toMatchObject({ runAsNonRoot: true, runAsUser: 999, fsGroup: 999 });
    const task = await tasksRepo.get(withVolume.store.db, c.taskId);
    expect(task!.output.join('\n')).toMatch(/Extracting bundle c{12} .* onto the content volume \(claim offhost-content\)/);
    await withVolume.launcher.cancel(job.id, 'test');
  });

  it('the environment is gone: the job fails saying so, and no Job is made', async () => {
    environment = undefined;
    try {
      const c = await content(withVolume);
      const job = await withVolume.addJob(c, 'run', 'python-fastapi');
      const failed = await withVolume.waitFor(job.id, (j) => j.state === 'failed');
      expect(failed).toMatchObject({ reason: 'EnvironmentDeleted' });
      const { batch } = kube();
      await expect(batch.readNamespacedJob({ name: objectName(job.id), namespace: ns.name })).rejects.toThrow(/404|not found/i);
    } finally {
      environment = ENV;
    }
  });

  it('no content volume configured: the job fails with what to set, and no Job is made', async () => {
    withoutVolume.launcher.start();
    const c = await content(withoutVolume);
    const job = await withoutVolume.addJob(c, 'build', 'python-fastapi');
    const failed = await withoutVolume.waitFor(job.id, (j) => j.state === 'failed');
    expect(failed).toMatchObject({ reason: 'NoContentVolume', message: NO_VOLUME_MESSAGE });
    const task = await tasksRepo.get(withoutVolume.store.db, c.taskId);
    expect(task!.output.join('\n')).toContain('OFFHOST_CONTENT_CLAIM');
    expect(task!.finished).toBe(true);
  });
});
