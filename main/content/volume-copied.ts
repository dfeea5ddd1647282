// The content volume in copied mode (desktop): the cluster cannot reach the workstation and the
// workstation cannot mount the claim, so files travel through the Kubernetes API. A small
// long-running store pod in the execution namespace holds the claim read-write; bundles go in and
// outputs come out as tar streams over exec, as `kubectl cp` does.
//
// - The store pod is made on first use and made again when it is gone, failed, or describes
//   another claim or image. It runs as JOB_USER_ID (the files it writes belong to the job user),
//   with no privileges, and passes Pod Security "restricted".
// - ensureBundle: bundles/<sha256>/.complete means the bundle is there (the kubelet may create an
//   empty bundles/<sha256> itself when a pod mounts it first, so the directory alone proves
//   nothing). Otherwise the archive streams into a fresh temporary directory beside it
//   (`tar -xzf -`), .complete is written, and the directory is renamed into place: a pod never
//   sees half a bundle, and a retried or interrupted copy starts clean. The stream is paced by the
//   WebSocket's buffer, so a large bundle does not sit in memory; progress lines say bytes sent.
// - fetchOutput: `tar -cf - .` in jobs/<id>/output, extracted here by safe-extract.ts.
// Needs in the store image: sh, tar, gzip, mkdir, mktemp, mv, rm, chmod (any Debian-based image).
import fs from 'node:fs';
import { PassThrough, Writable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import * as k8s from '@kubernetes/client-node';
import type { KubeConnection } from '../kube/config';
import { describeError, statusOf } from '../kube/errors';
import type { Placement } from '../kube/placement';
import { formatCpu, formatMemory } from '../../shared/quantity';
import type { Quotas } from '../../shared/quota';
import type { Logger } from '../log';
import { describeBytes } from './bundle-archive';
import { DEFAULT_EXTRACT_LIMITS, extractTarSafely, type ExtractLimits } from './safe-extract';
import { JOB_USER_ID, volumeLayout, type ContentVolume } from './volume';

/** Where the store pod mounts the claim. */
export const STORE_ROOT = '/content';
export const STORE_CONTAINER = 'store';
export const STORE_POD_NAME = 'offhost-content-store';
/** Labels of the store pod: ours, but not a job (the launcher's watch selects on offhost.dev/job-id). */
export const STORE_LABELS = { 'app.kubernetes.io/managed-by': 'offhost', 'app.kubernetes.io/name': 'offhost-content-store' } as const;
const CLAIM_ANNOTATION = 'offhost.dev/content-claim';
const IMAGE_ANNOTATION = 'offhost.dev/store-image';
/** Bytes allowed to wait in the WebSocket's send buffer before the file is read further. */
const SEND_BUFFER_HIGH = 4 * 1024 * 1024;
const PROGRESS_EVERY_MS = 2000;

export interface CopiedVolumeOptions {
  connect: () => KubeConnection;
  claimName: string;
  /** The store pod's image (OFFHOST_STORE_IMAGE). */
  image: string;
  placement?: Placement;
  log: Logger;
  podName?: string;
  /** How long to wait for the store pod to be ready. */
  readyTimeoutMs?: number;
  /** Limits for outputs copied back. */
  outputLimits?: ExtractLimits;
  /** The quotas' bounds: the store pod asks for little, within them (else the LimitRange refuses it). */
  quotas?: () => Promise<Quotas>;
}

/** What the store pod asks for: little (it sleeps between copies), inside the quotas' bounds. */
export function storePodResources(q: Quotas | undefined): k8s.V1ResourceRequirements | undefined {
  if (!q) return undefined;
  const clamp = (v: number, b: { min: number; max: number }) => Math.min(Math.max(v, b.min), b.max);
  const cpuLimit = clamp(1, q.cpu_limit);
  const memLimit = clamp(256 * 1024 ** 2, q.memory_limit);
  const cpuReq = Math.min(clamp(0.01, q.cpu_request), cpuLimit);
  const memReq = Math.min(clamp(64 * 1024 ** 2, q.memory_request), memLimit);
  return {
    requests: { cpu: formatCpu(Math.round(cpuReq * 1000)), memory: formatMemory(memReq) },
    limits: { cpu: formatCpu(Math.round(cpuLimit * 1000)), memory: formatMemory(memLimit) },
  };
}

/** The store pod (pure; snapshot-tested). */
export function storePodManifest(o: { name: string; namespace: string; claimName: string; image: string; placement?: Placement; resources?: k8s.V1ResourceRequirements }): k8s.V1Pod {
  const placement = o.placement;
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name: o.name, namespace: o.namespace, labels: { ...STORE_LABELS }, annotations: { [CLAIM_ANNOTATION]: o.claimName, [IMAGE_ANNOTATION]: o.image } },
    spec: {
      restartPolicy: 'Always',
      automountServiceAccountToken: false,
      enableServiceLinks: false,
      terminationGracePeriodSeconds: 2,
      securityContext: {
        runAsNonRoot: true,
        runAsUser: JOB_USER_ID,
        runAsGroup: JOB_USER_ID,
        fsGroup: JOB_USER_ID,
        fsGroupChangePolicy: 'OnRootMismatch',
        seccompProfile: { type: 'RuntimeDefault' },
      },
      ...(placement && Object.keys(placement.nodeSelector).length ? { nodeSelector: { ...placement.nodeSelector } } : {}),
      ...(placement?.tolerations.length ? { tolerations: placement.tolerations.map((t) => ({ ...t })) } : {}),
      containers: [
        {
          name: STORE_CONTAINER,
          image: o.image,
          // Sleeps until told to stop; every copy is an exec into it.
          command: ['sh', '-c', 'trap "exit 0" TERM INT; while :; do sleep 3600 & wait $!; done'],
          workingDir: STORE_ROOT,
          volumeMounts: [{ name: 'content', mountPath: STORE_ROOT }],
          // Little, within the quotas' bounds; without them the namespace's LimitRange defaults apply.
          ...(o.resources ? { resources: o.resources } : {}),
          securityContext: { allowPrivilegeEscalation: false, capabilities: { drop: ['ALL'] }, runAsNonRoot: true, seccompProfile: { type: 'RuntimeDefault' } },
        },
      ],
      volumes: [{ name: 'content', persistentVolumeClaim: { claimName: o.claimName } }],
    },
  };
}

/** ensureBundle's script: $1 = the hash. Prints "present" or "copied". */
const BUNDLE_SCRIPT = `set -eu
umask 022
b=${STORE_ROOT}/bundles; h="$1"
mkdir -p "$b/.incoming"
if [ -e "$b/$h/.complete" ]; then cat >/dev/null; echo present; exit 0; fi
# leftovers of copies interrupted an hour or more ago
if command -v find >/dev/null 2>&1; then find "$b/.incoming" -mindepth 1 -maxdepth 1 -name "$h.*" -mmin +60 -exec rm -rf {} + 2>/dev/null || true; fi
t=$(mktemp -d "$b/.incoming/$h.XXXXXX")
trap 'rm -rf "$t"' EXIT
tar -xzf - -C "$t" --no-same-owner --no-same-permissions
chmod 755 "$t"
: > "$t/.complete"
if [ -e "$b/$h" ] && [ ! -e "$b/$h/.complete" ]; then mv -T "$b/$h" "$t.stale" && rm -rf "$t.stale"; fi
if mv -T "$t" "$b/$h" 2>/dev/null; then trap - EXIT; echo copied; exit 0; fi
if [ -e "$b/$h/.complete" ]; then echo present; exit 0; fi
echo "cannot move the bundle into $b/$h" >&2; exit 1
`;

/** ensureWritable's script: each argument a volume-relative directory. */
const WRITABLE_SCRIPT = `set -eu
umask 022
for d in "$@"; do mkdir -p "${STORE_ROOT}/$d"; chmod 755 "${STORE_ROOT}/$d"; done
`;

/** fetchOutput's script: $1 = the volume-relative output directory. */
const OUTPUT_SCRIPT = `set -eu
cd "${STORE_ROOT}/$1" 2>/dev/null || { echo "no output directory $1 on the content volume" >&2; exit 3; }
exec tar -cf - .
`;

const SAFE_REL = /^[A-Za-z0-9._-]+(\/[A-Za-z0-9._-]+)*$/;

export class CopiedContentVolume implements ContentVolume {
  readonly mode = 'copied' as const;
  readonly claimName: string;
  private readonly podName: string;
  private ready: Promise<{ conn: KubeConnection; pod: string }> | undefined;
  private readonly copying = new Map<string, Promise<void>>();

  constructor(private readonly o: CopiedVolumeOptions) {
    this.claimName = o.claimName;
    this.podName = o.podName ?? STORE_POD_NAME;
  }

  /** Nothing at start: the store pod is made on first use (a cluster may not be reachable yet). */
  async start(): Promise<void> {}

  /** The store pod stays: it is cheap, and the next start finds it ready. */
  async stop(): Promise<void> {}

  async ensureBundle(sha256: string, archive: string, progress: (line: string) => void = () => {}): Promise<void> {
    volumeLayout.bundle(sha256); // checks the hash
    const running = this.copying.get(sha256);
    if (running) return running;
    const p = this.copyBundle(sha256, archive, progress).finally(() => this.copying.delete(sha256));
    this.copying.set(sha256, p);
    return p;
  }

  /** Whether bundles/<sha256>/.complete is on the volume (one exec). */
  async hasBundle(sha256: string): Promise<boolean> {
    const rel = volumeLayout.bundle(sha256);
    const r = await this.exec(['sh', '-c', 'if [ -e "$1/.complete" ]; then echo yes; else echo no; fi', 'sh', `${STORE_ROOT}/${rel}`]);
    return r.stdout.trim() === 'yes';
  }

  private async copyBundle(sha256: string, archive: string, progress: (line: string) => void): Promise<void> {
    const short = sha256.slice(0, 12);
    if (await this.hasBundle(sha256)) {
      progress(`Bundle ${short} is already on the content volume.`);
      return;
    }
    const size = (await fs.promises.stat(archive)).size;
    const { pod } = await this.storePod();
    progress(`Copying bundle ${short} (${describeBytes(size)}) to the content volume (claim ${this.claimName}) through the store pod ${pod} …`);
    const t0 = Date.now();
    let last = t0;
    const r = await this.exec(['sh', '-c', BUNDLE_SCRIPT, 'sh', sha256], {
      file: archive,
      onSent: (sent) => {
        const now = Date.now();
        if (now - last < PROGRESS_EVERY_MS || sent >= size) return;
        last = now;
        progress(`… ${describeBytes(sent)} of ${describeBytes(size)} sent (${Math.floor((sent / size) * 100)}%).`);
      },
    });
    const secs = (Date.now() - t0) / 1000;
    if (r.stdout.includes('present')) progress(`Bundle ${short} was put on the content volume meanwhile (by another copy).`);
    else progress(`Bundle ${short} copied: ${describeBytes(size)} in ${secs.toFixed(1)} s.`);
    this.o.log.info({ sha256, bytes: size, ms: Date.now() - t0, pod }, 'content volume: bundle copied through the store pod');
  }

  async ensureWritable(dirs: string[]): Promise<void> {
    for (const d of dirs) if (!SAFE_REL.test(d) || d.split('/').includes('..')) throw new Error(`${JSON.stringify(d)} is not a path inside the content volume`);
    if (!dirs.length) return;
    await this.exec(['sh', '-c', WRITABLE_SCRIPT, 'sh', ...dirs]);
  }

  async fetchOutput(jobId: number, dest: string): Promise<void> {
    const rel = volumeLayout.output(jobId);
    const tar = new PassThrough();
    const extracted = extractTarSafely(tar, dest, { limits: this.o.outputLimits ?? DEFAULT_EXTRACT_LIMITS });
    // If exec fails the stream never ends: end it so the extraction settles too.
    const copied = this.exec(['sh', '-c', OUTPUT_SCRIPT, 'sh', rel], { stdout: tar }).finally(() => tar.end());
    const [res] = await Promise.allSettled([copied, extracted]);
    if (res.status === 'rejected') {
      void extracted.catch(() => {});
      throw new Error(`cannot copy the output of job ${jobId} from the content volume: ${(res.reason as Error).message}`);
    }
    const result = await extracted;
    if (result.skipped.length) this.o.log.info({ job: jobId, skipped: result.skipped.slice(0, 20) }, 'content volume: parts of an output were not copied');
  }

  // --- the store pod -----------------------------------------------------------------------------

  /** The ready store pod (made or re-made as needed); shared by concurrent callers. */
  private storePod(): Promise<{ conn: KubeConnection; pod: string }> {
    this.ready ??= this.makeReady().catch((e: unknown) => {
      this.ready = undefined;
      throw e;
    });
    return this.ready;
  }

  private async makeReady(): Promise<{ conn: KubeConnection; pod: string }> {
    const conn = this.o.connect();
    const core = conn.kc.makeApiClient(k8s.CoreV1Api);
    const namespace = conn.namespace;
    const name = this.podName;
    const quotas = this.o.quotas ? await this.o.quotas().catch(() => undefined) : undefined;
    const want = storePodManifest({ name, namespace, claimName: this.claimName, image: this.o.image, placement: this.o.placement, resources: storePodResources(quotas) });
    const deadline = Date.now() + (this.o.readyTimeoutMs ?? 120_000);
    let created = false;
    for (;;) {
      let pod: k8s.V1Pod | undefined;
      try {
        pod = await core.readNamespacedPod({ name, namespace });
      } catch (e) {
        if (statusOf(e) !== 404) throw new Error(`cannot read the store pod ${namespace}/${name}: ${describeError(e)}`);
      }
      if (pod && !pod.metadata?.deletionTimestamp) {
        const stale =
          pod.metadata?.annotations?.[CLAIM_ANNOTATION] !== this.claimName ||
          pod.metadata?.annotations?.[IMAGE_ANNOTATION] !== this.o.image ||
          pod.status?.phase === 'Failed' ||
          pod.status?.phase === 'Succeeded';
        if (stale) {
          this.o.log.info({ namespace, pod: name, phase: pod.status?.phase }, 'content volume: replacing the store pod');
          await core.deleteNamespacedPod({ name, namespace, gracePeriodSeconds: 0 }).catch((e: unknown) => {
            if (statusOf(e) !== 404) throw e;
          });
        } else if (pod.status?.phase === 'Running' && pod.status.conditions?.some((c) => c.type === 'Ready' && c.status === 'True')) {
          return { conn, pod: name };
        } else {
          const waiting = pod.status?.containerStatuses?.[0]?.state?.waiting;
          if (waiting && /ImagePull|ErrImage|InvalidImageName|CreateContainer/.test(waiting.reason ?? ''))
            throw new Error(`the store pod ${namespace}/${name} cannot start: ${waiting.reason}: ${waiting.message ?? ''} (image ${this.o.image}; set OFFHOST_STORE_IMAGE)`);
          const unschedulable = pod.status?.conditions?.find((c) => c.type === 'PodScheduled' && c.status === 'False');
          if (unschedulable && Date.now() > deadline)
            throw new Error(`the store pod ${namespace}/${name} cannot be placed: ${unschedulable.message ?? unschedulable.reason} (claim ${this.claimName})`);
        }
      } else if (!pod) {
        try {
          await core.createNamespacedPod({ namespace, body: want });
          if (!created) this.o.log.info({ namespace, pod: name, claim: this.claimName, image: this.o.image }, 'content volume: created the store pod');
          created = true;
        } catch (e) {
          if (statusOf(e) !== 409) throw new Error(`cannot create the store pod ${namespace}/${name}: ${describeError(e)}`, { cause: e });
        }
      }
      if (Date.now() > deadline) throw new Error(`the store pod ${namespace}/${name} was not ready within ${Math.round((this.o.readyTimeoutMs ?? 120_000) / 1000)} s (claim ${this.claimName}, image ${this.o.image})`);
      await sleep(200);
    }
  }

  /**
   * Run a command in the store pod. `file` streams into its stdin (paced by the send buffer);
   * `stdout` receives its output (else it is collected). Rejects on a non-zero exit with stderr.
   * A store pod that went away is made again and the command retried once.
   */
  private async exec(command: string[], io: { file?: string; onSent?: (bytes: number) => void; stdout?: Writable } = {}, retry = true): Promise<{ stdout: string; stderr: string }> {
    const { conn, pod } = await this.storePod();
    try {
      return await runExec(conn, pod, command, io);
    } catch (e) {
      const gone = e instanceof ExecError && e.podGone;
      if (!gone || !retry || io.stdout) throw e;
      this.ready = undefined;
      return this.exec(command, io, false);
    }
  }
}

/** The parts of client-node's exec WebSocket (the ws package) used here. */
interface ExecSocket {
  readonly readyState: number;
  readonly OPEN: number;
  readonly bufferedAmount: number;
  on(event: 'close', cb: () => void): void;
  on(event: 'error', cb: (e: Error) => void): void;
}

class ExecError extends Error {
  constructor(
    message: string,
    readonly podGone = false,
  ) {
    super(message);
  }
}

async function runExec(
  conn: KubeConnection,
  pod: string,
  command: string[],
  io: { file?: string; onSent?: (bytes: number) => void; stdout?: Writable },
): Promise<{ stdout: string; stderr: string }> {
  let out = '';
  let err = '';
  const stdout =
    io.stdout ??
    new Writable({
      write(chunk: Buffer, _e, cb) {
        if (out.length < 1024 * 1024) out += chunk.toString('utf8');
        cb();
      },
    });
  const stderr = new Writable({
    write(chunk: Buffer, _e, cb) {
      if (err.length < 64 * 1024) err += chunk.toString('utf8');
      cb();
    },
  });
  const stdin = io.file ? new PassThrough() : null;
  let settle!: { resolve: (s: k8s.V1Status) => void; reject: (e: Error) => void };
  const status = new Promise<k8s.V1Status>((resolve, reject) => (settle = { resolve, reject }));
  let ws: ExecSocket;
  try {
    ws = (await new k8s.Exec(conn.kc).exec(conn.namespace, pod, STORE_CONTAINER, command, stdout, stderr, stdin, false, (s) => settle.resolve(s))) as unknown as ExecSocket;
  } catch (e) {
    const text = describeWsError(e);
    throw new ExecError(`cannot exec in the store pod ${conn.namespace}/${pod}: ${text}`, /404|not found/i.test(text));
  }
  ws.on('close', () => setTimeout(() => settle.reject(new ExecError(`the connection to the store pod ${pod} closed before the command finished${err ? `: ${err.trim()}` : ''}`)), 100));
  ws.on('error', (e: Error) => settle.reject(new ExecError(`the connection to the store pod ${pod} failed: ${e.message}`)));
  if (io.file && stdin) {
    let sent = 0;
    try {
      for await (const chunk of fs.createReadStream(io.file, { highWaterMark: 256 * 1024 })) {
        if (ws.readyState !== ws.OPEN) break; // the command ended early (it says why)
        stdin.write(chunk as Buffer);
        sent += (chunk as Buffer).length;
        while (ws.bufferedAmount > SEND_BUFFER_HIGH && ws.readyState === ws.OPEN) await sleep(5);
        io.onSent?.(sent - ws.bufferedAmount);
      }
    } finally {
      stdin.end(); // v5.channel.k8s.io closes the command's stdin
    }
  }
  const s = await status;
  if (s.status !== 'Success') {
    const code = s.details?.causes?.find((c) => c.reason === 'ExitCode')?.message;
    throw new ExecError(`${command.slice(0, 2).join(' ')} … failed in the store pod${code ? ` (exit code ${code})` : ''}: ${err.trim() || s.message || 'no message'}`);
  }
  return { stdout: out, stderr: err };
}

function describeWsError(e: unknown): string {
  if (e && typeof e === 'object' && 'message' in e) return String((e as { message: unknown }).message);
  if (e && typeof e === 'object' && 'error' in e) return String((e as { error: unknown }).error);
  return String(e);
}
