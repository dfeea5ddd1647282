/**
 * Settings of the local test control plane, from environment variables (and CLI flags, which
 * override them). Every knob is documented in test/cluster/README.md.
 */
import { execFileSync } from 'node:child_process';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const CLUSTER_DIR = path.dirname(fileURLToPath(import.meta.url));

/** The components, in start order. `down` stops them in reverse order. */
export const COMPONENTS = [
  'etcd',
  'kube-apiserver',
  'kube-controller-manager',
  'kube-scheduler',
  'kwok',
  'metrics-server',
] as const;
export type Component = (typeof COMPONENTS)[number];

/** Every port the control plane listens on (all on 127.0.0.1). */
export const PORT_NAMES = [
  'etcd',
  'etcdPeer',
  'apiserver',
  'controllerManager',
  'scheduler',
  'kwok',
  'metricsServer',
] as const;
export type PortName = (typeof PORT_NAMES)[number];
export type Ports = Record<PortName, number>;

export interface Settings {
  /** Where pid files, logs, certificates, etcd data and the kubeconfig live. */
  stateDir: string;
  /** Fake nodes created by `up`. */
  nodes: number;
  nodeCpu: string;
  nodeMemory: string;
  nodePods: number;
  /** Default time between a pod being bound and its containers running (per-pod annotation overrides). */
  podStartDelayMs: number;
  /** Default time a batch pod runs before it succeeds or fails (per-pod annotation overrides). */
  podRunTimeMs: number;
  /** Emulated usage of a pod without usage annotations. */
  defaultUsageCpu: string;
  defaultUsageMemory: string;
  /** metrics-server scrape interval; metrics-server refuses less than 10s. */
  metricResolutionSeconds: number;
  /** Fixed ports; a missing one is picked at random among free ports. */
  ports: Partial<Ports>;
  /** Time each component gets to become healthy. */
  startTimeoutMs: number;
  /** Do not run build.sh from `up` (the binaries must already be built). */
  skipBuild: boolean;
  /** Also start the real node real-0 (kubelet + containerd; root only; see realnode.ts). */
  realNode: boolean;
}

/** "1500ms", "3s", "2m", "1h", "1m30s" or a plain number of milliseconds. */
export function parseDuration(value: string): number {
  const trimmed = value.trim();
  if (/^\d+$/.test(trimmed)) return Number(trimmed);
  const re = /(\d+(?:\.\d+)?)(ms|s|m|h)/gy;
  let total = 0;
  let consumed = 0;
  for (let m = re.exec(trimmed); m; m = re.exec(trimmed)) {
    const unit = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }[m[2] as 'ms' | 's' | 'm' | 'h'];
    total += Number(m[1]) * unit;
    consumed = re.lastIndex;
  }
  if (consumed === 0 || consumed !== trimmed.length) {
    throw new Error(`not a duration: "${value}" (use e.g. 500ms, 3s, 2m)`);
  }
  return Math.round(total);
}

function positiveInt(name: string, value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n <= 0) throw new Error(`${name} must be a positive integer, got "${value}"`);
  return n;
}

/** "apiserver=6443,etcd=2379" → { apiserver: 6443, etcd: 2379 } */
export function parsePorts(spec: string): Partial<Ports> {
  const ports: Partial<Ports> = {};
  for (const part of spec.split(',').map((s) => s.trim()).filter(Boolean)) {
    const [name, value] = part.split('=');
    if (!name || !value || !(PORT_NAMES as readonly string[]).includes(name)) {
      throw new Error(`bad port "${part}": use NAME=PORT with NAME one of ${PORT_NAMES.join(', ')}`);
    }
    const port = positiveInt(`port ${name}`, value);
    if (port > 65535) throw new Error(`port ${name}=${port} is out of range`);
    ports[name as PortName] = port;
  }
  return ports;
}

/** Consecutive ports from `base`, in PORT_NAMES order. */
export function portsFromBase(base: number): Ports {
  return Object.fromEntries(PORT_NAMES.map((name, i) => [name, base + i])) as Ports;
}

export function defaultStateDir(): string {
  const cache = process.env.XDG_CACHE_HOME || path.join(os.homedir(), '.cache');
  return path.join(cache, 'offhost', 'cluster', 'run');
}

export function loadSettings(env: NodeJS.ProcessEnv = process.env): Settings {
  const e = (name: string): string | undefined => {
    const v = env[name];
    return v === undefined || v === '' ? undefined : v;
  };
  let ports: Partial<Ports> = {};
  const base = e('OFFHOST_CLUSTER_PORT_BASE');
  if (base) ports = portsFromBase(positiveInt('OFFHOST_CLUSTER_PORT_BASE', base));
  const fixed = e('OFFHOST_CLUSTER_PORTS');
  if (fixed) ports = { ...ports, ...parsePorts(fixed) };
  const api = e('OFFHOST_CLUSTER_API_PORT');
  if (api) ports.apiserver = positiveInt('OFFHOST_CLUSTER_API_PORT', api);
  return {
    stateDir: path.resolve(e('OFFHOST_CLUSTER_STATE_DIR') ?? defaultStateDir()),
    nodes: positiveInt('OFFHOST_CLUSTER_NODES', e('OFFHOST_CLUSTER_NODES') ?? '3'),
    nodeCpu: e('OFFHOST_CLUSTER_NODE_CPU') ?? '4',
    nodeMemory: e('OFFHOST_CLUSTER_NODE_MEMORY') ?? '16Gi',
    nodePods: positiveInt('OFFHOST_CLUSTER_NODE_PODS', e('OFFHOST_CLUSTER_NODE_PODS') ?? '110'),
    podStartDelayMs: parseDuration(e('OFFHOST_CLUSTER_POD_START_DELAY') ?? '1s'),
    podRunTimeMs: parseDuration(e('OFFHOST_CLUSTER_POD_RUN_TIME') ?? '3s'),
    defaultUsageCpu: e('OFFHOST_CLUSTER_DEFAULT_USAGE_CPU') ?? '1m',
    defaultUsageMemory: e('OFFHOST_CLUSTER_DEFAULT_USAGE_MEMORY') ?? '1Mi',
    metricResolutionSeconds: Math.max(
      10,
      Math.round(parseDuration(e('OFFHOST_CLUSTER_METRIC_RESOLUTION') ?? '10s') / 1000),
    ),
    ports,
    startTimeoutMs: parseDuration(e('OFFHOST_CLUSTER_START_TIMEOUT') ?? '120s'),
    skipBuild: ['1', 'true', 'yes'].includes((e('OFFHOST_CLUSTER_SKIP_BUILD') ?? '').toLowerCase()),
    realNode: ['1', 'true', 'yes'].includes((e('OFFHOST_CLUSTER_REAL_NODE') ?? '').toLowerCase()),
  };
}

/** Paths inside the state directory. */
export function statePaths(stateDir: string) {
  return {
    stateFile: path.join(stateDir, 'state.json'),
    /** The admin kubeconfig (system:masters) — the "known path". */
    kubeconfig: path.join(stateDir, 'kubeconfig'),
    pki: path.join(stateDir, 'pki'),
    kubeconfigs: path.join(stateDir, 'kubeconfigs'),
    logs: path.join(stateDir, 'logs'),
    pids: path.join(stateDir, 'pids'),
    etcdData: path.join(stateDir, 'etcd-data'),
    apiserverCertDir: path.join(stateDir, 'apiserver'),
    config: path.join(stateDir, 'config'),
  };
}

export function buildScript(): string {
  return path.join(CLUSTER_DIR, 'build.sh');
}

/** The directory holding the binaries for the pinned versions (whether built or not). */
export function binDir(): string {
  return execFileSync('bash', [buildScript(), '--print-bin-dir'], { encoding: 'utf8' }).trim();
}
