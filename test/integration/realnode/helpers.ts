/**
 * Helpers for the `realnode` project: pods that really run on real-0 (kubelet + containerd), in
 * the runtime images build.sh made from Debian packages, and environment fixtures whose versions
 * and paths come from the images themselves.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

import * as k8s from '@kubernetes/client-node';
import { afterAll, beforeAll, inject } from 'vitest';

import type { Environment, Installation } from '../../../shared/environment';
import { parseEnvironmentSpec } from '../../../shared/environment';
import { loadSettings, type Settings } from '../../cluster/config.js';
import { eventually, kube, useTestNamespace, type TestNamespace } from '../../cluster/kube.js';
import { nodeArtifacts, REAL_NODE_NAME, REAL_NODE_TAINT } from '../../cluster/realnode.js';

/**
 * The calling describe block's own namespace, after checking that the global setup started the
 * cluster with the real node (if it failed, every test fails with that reason).
 */
export function useRealNodeNamespace(prefix: string): TestNamespace {
  beforeAll(() => {
    const err = inject('realNodeError');
    if (err) throw new Error(`the cluster with the real node did not start: ${err}`);
  });
  return useTestNamespace(prefix);
}

/** Why the real-node tests cannot run here ('' when they can); use with describe.skipIf. */
export function realNodeSkip(): string {
  return inject('realNodeSkip');
}

export interface ImageMeta {
  ref: string;
  runtimes: {
    python?: { version: string; path: string; sysVersion: string };
    r?: { version: string; path: string };
    pandoc?: { version: string; path: string };
  };
}

/** The image's reference and the runtimes build.sh read from inside it (python3, Rscript). */
export function imageMeta(name: 'python' | 'r'): ImageMeta {
  const img = nodeArtifacts().images[name];
  const meta = JSON.parse(fs.readFileSync(img.meta, 'utf8')) as ImageMeta;
  if (meta.ref !== img.ref) throw new Error(`${img.meta} describes ${meta.ref}, expected ${img.ref}: rebuild with npm run cluster:build`);
  return meta;
}

let seq = 0;
/** An environment for an image, validated by the app's own schema (as an import would be). */
function environmentFor(title: string, ref: string, runtimes: { python?: Installation[]; r?: Installation[] }): Environment {
  const spec = parseEnvironmentSpec({
    name: ref,
    title,
    matching: 'any',
    python: { installations: runtimes.python ?? [] },
    r: { installations: runtimes.r ?? [] },
  });
  seq++;
  const now = new Date().toISOString();
  return {
    ...spec,
    id: String(seq),
    guid: `00000000-0000-4000-8000-${String(seq).padStart(12, '0')}`,
    cluster_name: 'Kubernetes',
    environment_type: 'Kubernetes',
    managed_by: null,
    created_time: now,
    updated_time: now,
  };
}

/** The two runtime images as environments, with versions and paths read from the images. */
export function runtimeEnvironments(): { python: Environment; r: Environment } {
  const py = imageMeta('python');
  const r = imageMeta('r');
  if (!py.runtimes.python || !r.runtimes.r) throw new Error('image metadata lacks python/r runtimes: rebuild with npm run cluster:build');
  return {
    python: environmentFor(`Debian Python ${py.runtimes.python.version}`, py.ref, {
      python: [{ version: py.runtimes.python.version, path: py.runtimes.python.path }],
    }),
    r: environmentFor(`Debian R ${r.runtimes.r.version}`, r.ref, { r: [{ version: r.runtimes.r.version, path: r.runtimes.r.path }] }),
  };
}

/** A container that runs as non-root with no privileges, as content pods must. */
export function secureContainer(c: k8s.V1Container): k8s.V1Container {
  return {
    imagePullPolicy: 'Never', // imported into containerd by cluster:up; there is no registry
    ...c,
    securityContext: {
      runAsNonRoot: true,
      runAsUser: 1000,
      runAsGroup: 1000,
      allowPrivilegeEscalation: false,
      capabilities: { drop: ['ALL'] },
      seccompProfile: { type: 'RuntimeDefault' },
      ...c.securityContext,
    },
  };
}

/** A pod spec pinned to the real node (toleration + selector), never restarted. */
export function realNodePodSpec(containers: k8s.V1Container[], extra: Partial<k8s.V1PodSpec> = {}): k8s.V1PodSpec {
  return {
    restartPolicy: 'Never',
    nodeSelector: { 'kubernetes.io/hostname': REAL_NODE_NAME },
    tolerations: [{ key: REAL_NODE_TAINT.key, operator: 'Equal', value: REAL_NODE_TAINT.value, effect: REAL_NODE_TAINT.effect }],
    securityContext: { runAsNonRoot: true, seccompProfile: { type: 'RuntimeDefault' } },
    automountServiceAccountToken: false,
    terminationGracePeriodSeconds: 2,
    ...extra,
    containers: containers.map(secureContainer),
  };
}

export function job(name: string, spec: k8s.V1PodSpec, extra: Partial<k8s.V1JobSpec> = {}): k8s.V1Job {
  return {
    apiVersion: 'batch/v1',
    kind: 'Job',
    metadata: { name },
    spec: { backoffLimit: 0, ttlSecondsAfterFinished: 300, ...extra, template: { metadata: { labels: { job: name } }, spec } },
  };
}

export interface Timeline {
  pod: k8s.V1Pod;
  /** Seconds from create to Running (undefined if never seen Running) and to the final phase. */
  running?: number;
  finished?: number;
}

/** The Job's pod, once it exists. */
export async function jobPod(namespace: string, jobName: string, timeoutMs = 60_000): Promise<k8s.V1Pod> {
  const { core } = kube();
  return eventually(
    async () => (await core.listNamespacedPod({ namespace, labelSelector: `job-name=${jobName}` })).items[0],
    { timeoutMs, what: `the pod of Job ${jobName}`, intervalMs: 100 },
  );
}

/** Polls a pod (every 100 ms) until it is Succeeded or Failed; records when it was Running. */
export async function podTimeline(namespace: string, name: string, t0: number, timeoutMs = 120_000): Promise<Timeline> {
  const { core } = kube();
  let running: number | undefined;
  const pod = await eventually(
    async () => {
      const p = await core.readNamespacedPod({ namespace, name });
      const phase = p.status?.phase;
      if (phase === 'Running' && running === undefined) running = (Date.now() - t0) / 1000;
      return phase === 'Succeeded' || phase === 'Failed' ? p : undefined;
    },
    { timeoutMs, intervalMs: 100, what: `pod ${name} to finish` },
  );
  return { pod, running, finished: (Date.now() - t0) / 1000 };
}

/** The pod's logs (the kubelet's, through the apiserver). */
export async function podLogs(namespace: string, name: string, container?: string): Promise<string> {
  const { core } = kube();
  return core.readNamespacedPodLog({ namespace, name, ...(container ? { container } : {}) });
}

/** Figures for the README, printed once per run in the test output. */
export function figure(what: string, value: string): void {
  process.stderr.write(`[realnode figure] ${what}: ${value}\n`);
}

/** The settings the realnode project's cluster runs with (same as its global setup). */
export function realNodeClusterSettings(): Settings {
  return { ...loadSettings(), stateDir: inject('realNodeStateDir'), nodes: 1, realNode: true, ports: {}, skipBuild: true };
}

/** The uid and gid content pods run as (main/kube/manifests.ts), which own what jobs write. */
export const JOB_UID = 999;

export interface ContentClaim {
  /** The PersistentVolumeClaim's name, in the block's namespace: what OFFHOST_CONTENT_CLAIM names. */
  readonly name: string;
  /** The PersistentVolume (cluster-scoped) behind it. */
  readonly pv: string;
  /** The host directory the PersistentVolume is: the server side of mounted mode writes here. */
  readonly hostDir: string;
}

/**
 * The content volume as a cluster provides it: a PersistentVolume of type hostPath on a fresh host
 * directory (owned by the job user, so pods may write where the server made directories) and a
 * PersistentVolumeClaim bound to it in the block's namespace. The real node is this machine, so
 * what a pod writes there the test (or the server, in mounted mode) reads at `hostDir`, and the
 * reverse. Removed after the block (claim, volume, directory).
 */
export function useContentClaim(ns: TestNamespace, claimName = 'offhost-content'): ContentClaim {
  let pv = '';
  let hostDir = '';
  const claim: ContentClaim = {
    name: claimName,
    get pv() {
      if (!pv) throw new Error('the content claim is created in beforeAll; read it inside a test or hook');
      return pv;
    },
    get hostDir() {
      if (!hostDir) throw new Error('the content claim is created in beforeAll; read it inside a test or hook');
      return hostDir;
    },
  };
  beforeAll(async () => {
    const { core } = kube();
    hostDir = fs.mkdtempSync(path.join(os.tmpdir(), 'offhost-content-'));
    fs.chmodSync(hostDir, 0o755);
    if (process.getuid?.() === 0) fs.chownSync(hostDir, JOB_UID, JOB_UID);
    else fs.chmodSync(hostDir, 0o777);
    pv = `${ns.name}-${claimName}`.slice(0, 253);
    await core.createPersistentVolume({
      body: {
        metadata: { name: pv, labels: { 'offhost.dev/test': 'true' } },
        spec: {
          capacity: { storage: '1Gi' },
          accessModes: ['ReadWriteMany', 'ReadWriteOnce'],
          persistentVolumeReclaimPolicy: 'Retain',
          storageClassName: '',
          hostPath: { path: hostDir, type: 'Directory' },
          claimRef: { namespace: ns.name, name: claimName },
        },
      },
    });
    await core.createNamespacedPersistentVolumeClaim({
      namespace: ns.name,
      body: {
        metadata: { name: claimName },
        spec: { accessModes: ['ReadWriteMany'], storageClassName: '', volumeName: pv, resources: { requests: { storage: '1Gi' } } },
      },
    });
    await eventually(
      async () => (await core.readNamespacedPersistentVolumeClaim({ namespace: ns.name, name: claimName })).status?.phase === 'Bound' || undefined,
      { timeoutMs: 30_000, intervalMs: 100, what: `PersistentVolumeClaim ${claimName} Bound to ${pv}` },
    );
  }, 60_000);
  afterAll(async () => {
    const { core } = kube();
    if (pv) {
      await core.deleteNamespacedPersistentVolumeClaim({ namespace: ns.name, name: claimName }).catch(() => undefined);
      await core.deletePersistentVolume({ name: pv }).catch(() => undefined);
    }
    if (hostDir) fs.rmSync(hostDir, { recursive: true, force: true });
  }, 60_000);
  return claim;
}

/** Enforce Pod Security "restricted" on a test namespace, as a production namespace would. */
export async function enforceRestricted(namespace: string): Promise<void> {
  const { core } = kube();
  await core.patchNamespace(
    { name: namespace, body: { metadata: { labels: { 'pod-security.kubernetes.io/enforce': 'restricted', 'pod-security.kubernetes.io/enforce-version': 'latest' } } } },
    k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.MergePatch),
  );
}
