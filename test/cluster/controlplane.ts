/**
 * Starts, stops and inspects the local test control plane: etcd, kube-apiserver,
 * kube-controller-manager, kube-scheduler, kwok (fake nodes) and metrics-server, all real
 * binaries built by build.sh, all listening on 127.0.0.1 only.
 *
 * Processes are spawned detached (they outlive the CLI) with a pid file and a log file each in
 * the state directory. `down` stops exactly the processes named in those pid files, after checking
 * that each pid still runs the binary it was started from.
 */
import { execFile, spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import https from 'node:https';
import http from 'node:http';
import net from 'node:net';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';

import {
  binDir as resolveBinDir,
  buildScript,
  CLUSTER_DIR,
  COMPONENTS,
  PORT_NAMES,
  statePaths,
  type Component,
  type PortName,
  type Ports,
  type Settings,
} from './config.js';
import { createPki, kubeconfigYaml, SERVICE_CLUSTER_IP_RANGE, type ClientName, type Pki } from './pki.js';
import { portListener } from './procnet.js';
import { realNodeReady, realNodeStatus, startRealNode, stopRealNode, type RealNodeState, type RealNodeStatus } from './realnode.js';

const execFileAsync = promisify(execFile);

/** Written to state.json by `up`; read by `status`, `down`, the global setup and the tests. */
export interface ClusterState {
  version: 1;
  stateDir: string;
  binDir: string;
  kubeconfig: string;
  server: string;
  ports: Ports;
  pids: Partial<Record<Component, number>>;
  startedAt: string;
  settings: Pick<
    Settings,
    'nodes' | 'nodeCpu' | 'nodeMemory' | 'nodePods' | 'podStartDelayMs' | 'podRunTimeMs' | 'metricResolutionSeconds'
  >;
  nodeNames: string[];
  /** The real node real-0, when started (`settings.realNode`; see realnode.ts). */
  realNode?: RealNodeState;
}

export interface ComponentStatus {
  component: Component;
  pid: number | null;
  running: boolean;
  healthy: boolean;
  endpoint: string;
  detail: string;
}

export interface StatusReport {
  state: ClusterState | null;
  components: ComponentStatus[];
  /** Every component runs and answers its health check (plus nodes Ready, metrics API up). */
  healthy: boolean;
  /** Some component process is alive. */
  anyRunning: boolean;
  problems: string[];
  /** The real node's processes, when the state says one was started. */
  realNode?: RealNodeStatus;
}

type Log = (msg: string) => void;
const defaultLog: Log = (msg) => process.stderr.write(`[cluster] ${msg}\n`);

// ---------------------------------------------------------------------------------------------
// small helpers

function readJson<T>(file: string): T | null {
  try {
    return JSON.parse(fs.readFileSync(file, 'utf8')) as T;
  } catch {
    return null;
  }
}

export function readState(stateDir: string): ClusterState | null {
  return readJson<ClusterState>(statePaths(stateDir).stateFile);
}

/** Is `pid` alive and running `binary`? (Guards against a recycled pid.) */
function processRuns(pid: number, binary?: string): boolean {
  try {
    process.kill(pid, 0);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EPERM') return false;
  }
  if (!binary) return true;
  try {
    const exe = fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0')[0];
    return exe === binary;
  } catch {
    return false;
  }
}

function isZombie(pid: number): boolean {
  try {
    return /^\d+ \(.*\) Z/.test(fs.readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return true;
  }
}

interface PidFile {
  pid: number;
  binary: string;
}

function readPidFile(stateDir: string, c: Component): PidFile | null {
  const file = path.join(statePaths(stateDir).pids, `${c}.pid`);
  try {
    const [pid, binary] = fs.readFileSync(file, 'utf8').split('\n');
    const n = Number(pid);
    return Number.isInteger(n) && n > 0 && binary ? { pid: n, binary } : null;
  } catch {
    return null;
  }
}

export function logTail(stateDir: string, c: Component, lines = 40): string {
  const file = path.join(statePaths(stateDir).logs, `${c}.log`);
  try {
    const all = fs.readFileSync(file, 'utf8').trimEnd().split('\n');
    return all.slice(-lines).join('\n');
  } catch {
    return '(no log)';
  }
}

/**
 * A port the kernel says is free now. Nothing holds it between this and the component's bind, so
 * another process may take it meanwhile: `up` notices (waitFor) and moves the component to a new
 * port (startOnFreePorts). Ports in `avoid` (already given to other components) are never returned.
 */
async function freePort(avoid: Iterable<number> = []): Promise<number> {
  const taken = new Set(avoid);
  for (;;) {
    const port = await anyFreePort();
    if (!taken.has(port)) return port;
  }
}

async function anyFreePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      srv.close(() => (typeof addr === 'object' && addr ? resolve(addr.port) : reject(new Error('no port'))));
    });
  });
}

/** True if something accepts TCP connections on 127.0.0.1:port. */
export async function portInUse(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const sock = net.connect({ host: '127.0.0.1', port });
    sock.setTimeout(1000);
    sock.once('connect', () => {
      sock.destroy();
      resolve(true);
    });
    sock.once('timeout', () => {
      sock.destroy();
      resolve(true);
    });
    sock.once('error', () => resolve(false));
  });
}

interface HttpResult {
  status: number;
  body: string;
}

interface TlsClient {
  ca: Buffer;
  cert?: Buffer;
  key?: Buffer;
}

function request(
  url: string,
  tls: TlsClient | null,
  opts: { method?: string; timeoutMs?: number } = {},
): Promise<HttpResult> {
  return new Promise((resolve, reject) => {
    const u = new URL(url);
    const mod = u.protocol === 'https:' ? https : http;
    const req = mod.request(
      {
        host: u.hostname,
        port: u.port,
        path: u.pathname + u.search,
        method: opts.method ?? 'GET',
        ...(tls ? { ca: tls.ca, cert: tls.cert, key: tls.key } : {}),
        timeout: opts.timeoutMs ?? 5000,
      },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (d: string) => (body += d));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      },
    );
    req.on('timeout', () => req.destroy(new Error(`timeout after ${opts.timeoutMs ?? 5000}ms`)));
    req.on('error', reject);
    req.end();
  });
}

function seconds(sinceMs: number): string {
  return `${((Date.now() - sinceMs) / 1000).toFixed(1)}s`;
}

class ComponentFailed extends Error {
  constructor(
    readonly component: Component,
    message: string,
    /** Ports another process holds, so the component could not bind them. */
    readonly lostPorts: PortName[] = [],
  ) {
    super(message);
  }
}

/** The ports each component binds (checked while it starts: see waitFor). */
const COMPONENT_PORTS: Partial<Record<Component, PortName[]>> = {
  etcd: ['etcd', 'etcdPeer'],
  'kube-apiserver': ['apiserver'],
  'kube-controller-manager': ['controllerManager'],
  'kube-scheduler': ['scheduler'],
  kwok: ['kwok'],
  'metrics-server': ['metricsServer'],
};

/**
 * The ports of `c` that another process took before `c` could bind them: a port someone else
 * listens on, or one the component's log says was in use when it exited.
 */
function lostPorts(ctx: Ctx, c: Component, pid: number, exited: boolean): PortName[] {
  const names = COMPONENT_PORTS[c] ?? [];
  if (exited) {
    const log = logTail(ctx.settings.stateDir, c, 200);
    if (!/address already in use/.test(log)) return [];
    const named = names.filter((n) => log.includes(`:${ctx.ports[n]}: bind: address already in use`));
    return named.length ? named : names;
  }
  return names.filter((n) => portListener(ctx.ports[n], pid) === 'other');
}

// ---------------------------------------------------------------------------------------------
// the pieces of `up`

interface Ctx {
  settings: Settings;
  paths: ReturnType<typeof statePaths>;
  bin: string;
  pki: Pki;
  ports: Ports;
  adminTls: TlsClient;
  pids: Partial<Record<Component, number>>;
  log: Log;
}

function binary(ctx: Pick<Ctx, 'bin'>, name: string): string {
  return path.join(ctx.bin, name);
}

/** Extra arguments for one component, e.g. OFFHOST_CLUSTER_ARGS_KUBE_APISERVER="--v=4". */
export function extraArgsVar(c: Component): string {
  return `OFFHOST_CLUSTER_ARGS_${c.toUpperCase().replaceAll('-', '_')}`;
}

function startProcess(ctx: Ctx, c: Component, exe: string, baseArgs: string[]): number {
  const extra = process.env[extraArgsVar(c)]?.trim();
  const args = extra ? [...baseArgs, ...extra.split(/\s+/)] : baseArgs;
  const logFile = path.join(ctx.paths.logs, `${c}.log`);
  const out = fs.openSync(logFile, 'w');
  fs.writeSync(out, `# ${new Date().toISOString()} ${exe} ${args.join(' ')}\n`);
  const child = spawn(exe, args, {
    detached: true,
    stdio: ['ignore', out, out],
    cwd: ctx.settings.stateDir,
    env: { ...process.env, GOMAXPROCS: process.env.GOMAXPROCS ?? '2' },
  });
  fs.closeSync(out);
  if (!child.pid) throw new ComponentFailed(c, `could not start ${exe}`);
  child.unref();
  fs.writeFileSync(path.join(ctx.paths.pids, `${c}.pid`), `${child.pid}\n${exe}\n`);
  ctx.pids[c] = child.pid;
  return child.pid;
}

/** Polls `check` until it returns true; fails early if the component's process exits. */
async function waitFor(
  ctx: Ctx,
  c: Component,
  what: string,
  check: () => Promise<boolean>,
  timeoutMs = ctx.settings.startTimeoutMs,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let lastErr = '';
  for (;;) {
    const pid = ctx.pids[c];
    const exited = !!pid && (!processRuns(pid) || isZombie(pid));
    const lost = pid ? lostPorts(ctx, c, pid, exited) : [];
    if (lost.length) {
      const which = lost.map((n) => `${n}=${ctx.ports[n]}`).join(', ');
      throw new ComponentFailed(c, `${c} could not bind ${which}: another process holds it`, lost);
    }
    if (exited) throw new ComponentFailed(c, `${c} exited while waiting for ${what}`);
    try {
      // Healthy counts only while the component itself holds its ports (not some other process).
      if ((await check()) && (COMPONENT_PORTS[c] ?? []).every((n) => portListener(ctx.ports[n], pid!) === 'only')) return;
    } catch (err) {
      lastErr = (err as Error).message;
    }
    if (Date.now() > deadline) {
      throw new ComponentFailed(c, `${c}: timed out after ${timeoutMs / 1000}s waiting for ${what}${lastErr ? ` (last error: ${lastErr})` : ''}`);
    }
    await sleep(250);
  }
}

async function healthy(url: string, tls: TlsClient | null): Promise<boolean> {
  const r = await request(url, tls);
  return r.status === 200 && r.body.trim() === 'ok';
}

async function kubectl(ctx: Pick<Ctx, 'bin' | 'paths'>, args: string[], input?: string): Promise<string> {
  const exe = binary(ctx, 'kubectl');
  const full = ['--kubeconfig', ctx.paths.kubeconfig, ...args];
  if (input === undefined) {
    const { stdout } = await execFileAsync(exe, full, { maxBuffer: 32 << 20 });
    return stdout;
  }
  const res = spawnSync(exe, full, { input, encoding: 'utf8', maxBuffer: 32 << 20 });
  if (res.status !== 0) throw new Error(`kubectl ${args.join(' ')} failed: ${res.stderr || res.stdout}`);
  return res.stdout;
}

function writeKubeconfigs(ctx: Ctx): void {
  const server = `https://127.0.0.1:${ctx.ports.apiserver}`;
  fs.mkdirSync(ctx.paths.kubeconfigs, { recursive: true });
  const make = (client: ClientName) =>
    kubeconfigYaml({
      server,
      caCert: ctx.pki.caCert,
      clientCert: ctx.pki.clients[client].cert,
      clientKey: ctx.pki.clients[client].key,
    });
  for (const client of ['controller-manager', 'scheduler', 'kwok', 'metrics-server'] as const) {
    fs.writeFileSync(path.join(ctx.paths.kubeconfigs, `${client}.kubeconfig`), make(client), { mode: 0o600 });
  }
  // Written last, atomically: its presence with a running apiserver means "usable".
  const tmp = `${ctx.paths.kubeconfig}.tmp`;
  fs.writeFileSync(tmp, make('admin'), { mode: 0o600 });
  fs.renameSync(tmp, ctx.paths.kubeconfig);
}

function componentKubeconfig(ctx: Ctx, client: ClientName): string {
  return path.join(ctx.paths.kubeconfigs, `${client}.kubeconfig`);
}

async function startEtcd(ctx: Ctx): Promise<void> {
  const { etcd, etcdPeer } = ctx.ports;
  fs.rmSync(ctx.paths.etcdData, { recursive: true, force: true });
  startProcess(ctx, 'etcd', binary(ctx, 'etcd'), [
    '--name=offhost-test',
    `--data-dir=${ctx.paths.etcdData}`,
    `--listen-client-urls=http://127.0.0.1:${etcd}`,
    `--advertise-client-urls=http://127.0.0.1:${etcd}`,
    `--listen-peer-urls=http://127.0.0.1:${etcdPeer}`,
    `--initial-advertise-peer-urls=http://127.0.0.1:${etcdPeer}`,
    `--initial-cluster=offhost-test=http://127.0.0.1:${etcdPeer}`,
    '--initial-cluster-state=new',
    '--unsafe-no-fsync=true', // test data only: skip fsync
    '--auto-compaction-retention=1',
    '--log-level=warn',
  ]);
  await waitFor(ctx, 'etcd', '/health', async () => {
    const r = await request(`http://127.0.0.1:${etcd}/health`, null);
    return r.status === 200 && /"health":\s*"true"/.test(r.body);
  });
}

async function startApiserver(ctx: Ctx): Promise<void> {
  const p = ctx.pki;
  fs.mkdirSync(ctx.paths.apiserverCertDir, { recursive: true });
  startProcess(ctx, 'kube-apiserver', binary(ctx, 'kube-apiserver'), [
    `--etcd-servers=http://127.0.0.1:${ctx.ports.etcd}`,
    '--etcd-prefix=/registry',
    '--bind-address=127.0.0.1',
    '--advertise-address=127.0.0.1',
    `--secure-port=${ctx.ports.apiserver}`,
    `--cert-dir=${ctx.paths.apiserverCertDir}`,
    `--tls-cert-file=${p.apiserverCert}`,
    `--tls-private-key-file=${p.apiserverKey}`,
    `--client-ca-file=${p.caCert}`,
    '--authorization-mode=Node,RBAC',
    '--service-account-issuer=https://kubernetes.default.svc.cluster.local',
    `--service-account-key-file=${p.saPub}`,
    `--service-account-signing-key-file=${p.saKey}`,
    `--service-cluster-ip-range=${SERVICE_CLUSTER_IP_RANGE}`,
    '--allow-privileged=true',
    '--endpoint-reconciler-type=none',
    '--profiling=false',
    // aggregation layer, for metrics.k8s.io served by metrics-server
    `--proxy-client-cert-file=${p.frontProxyClientCert}`,
    `--proxy-client-key-file=${p.frontProxyClientKey}`,
    `--requestheader-client-ca-file=${p.frontProxyCaCert}`,
    '--requestheader-allowed-names=front-proxy-client',
    '--requestheader-username-headers=X-Remote-User',
    '--requestheader-group-headers=X-Remote-Group',
    '--requestheader-extra-headers-prefix=X-Remote-Extra-',
    // kubelets (the real node; kwok for the fake ones): dial them by IP, present a client
    // certificate, verify their serving certificates against the cluster CA.
    '--kubelet-preferred-address-types=InternalIP,Hostname',
    `--kubelet-client-certificate=${p.clients['apiserver-kubelet'].cert}`,
    `--kubelet-client-key=${p.clients['apiserver-kubelet'].key}`,
    `--kubelet-certificate-authority=${p.caCert}`,
  ]);
  await waitFor(ctx, 'kube-apiserver', '/readyz', () =>
    healthy(`https://127.0.0.1:${ctx.ports.apiserver}/readyz`, ctx.adminTls),
  );
}

/** What the controller-manager and scheduler share: their identity, and a TLS port on loopback. */
function componentServingFlags(ctx: Ctx, kubeconfig: string, port: number): string[] {
  return [
    `--kubeconfig=${kubeconfig}`,
    `--authentication-kubeconfig=${kubeconfig}`,
    `--authorization-kubeconfig=${kubeconfig}`,
    '--bind-address=127.0.0.1',
    `--secure-port=${port}`,
    `--tls-cert-file=${ctx.pki.componentsCert}`,
    `--tls-private-key-file=${ctx.pki.componentsKey}`,
    '--authorization-always-allow-paths=/healthz,/readyz,/livez,/metrics',
  ];
}

async function startControllerManager(ctx: Ctx): Promise<void> {
  startProcess(ctx, 'kube-controller-manager', binary(ctx, 'kube-controller-manager'), [
    ...componentServingFlags(ctx, componentKubeconfig(ctx, 'controller-manager'), ctx.ports.controllerManager),
    `--root-ca-file=${ctx.pki.caCert}`,
    `--service-account-private-key-file=${ctx.pki.saKey}`,
    '--use-service-account-credentials=true', // each controller acts under its own RBAC identity
    `--service-cluster-ip-range=${SERVICE_CLUSTER_IP_RANGE}`,
    '--cluster-name=offhost-test',
    '--leader-elect=false',
    '--profiling=false',
  ]);
}

async function startScheduler(ctx: Ctx): Promise<void> {
  startProcess(ctx, 'kube-scheduler', binary(ctx, 'kube-scheduler'), [
    ...componentServingFlags(ctx, componentKubeconfig(ctx, 'scheduler'), ctx.ports.scheduler),
    '--leader-elect=false',
    '--profiling=false',
  ]);
}

function componentsTls(ctx: Ctx): TlsClient {
  return { ca: ctx.adminTls.ca };
}

export function nodeName(i: number): string {
  return `kwok-node-${i}`;
}

function nodeManifests(ctx: Ctx): object {
  const s = ctx.settings;
  const items = Array.from({ length: s.nodes }, (_, i) => {
    const name = nodeName(i);
    const resources = { cpu: s.nodeCpu, memory: s.nodeMemory, pods: String(s.nodePods), 'ephemeral-storage': '100Gi' };
    return {
      apiVersion: 'v1',
      kind: 'Node',
      metadata: {
        name,
        annotations: {
          // kwok manages only nodes with this annotation (see --manage-nodes-with-annotation-selector)
          'kwok.x-k8s.io/node': 'fake',
          'node.alpha.kubernetes.io/ttl': '0',
          // where metrics-server scrapes this node's kubelet-style resource metrics (served by kwok)
          'metrics.k8s.io/resource-metrics-path': `/metrics/nodes/${name}/metrics/resource`,
        },
        labels: {
          'kubernetes.io/hostname': name,
          'kubernetes.io/os': 'linux',
          'kubernetes.io/arch': 'amd64',
          'node.offhost.dev/fake': 'true',
          type: 'kwok',
        },
      },
      spec: {},
      status: {
        capacity: resources,
        allocatable: resources,
        // metrics-server reaches the "kubelet" (kwok) at InternalIP:daemonEndpoints port.
        addresses: [
          { type: 'InternalIP', address: '127.0.0.1' },
          { type: 'Hostname', address: name },
        ],
      },
    };
  });
  return { apiVersion: 'v1', kind: 'List', items };
}

function fillTemplate(file: string, values: Record<string, string | number>): string {
  let text = fs.readFileSync(path.join(CLUSTER_DIR, 'kwok', file), 'utf8');
  for (const [k, v] of Object.entries(values)) text = text.replaceAll(`__${k}__`, String(v));
  const left = text.match(/__[A-Z_]+__/);
  if (left) throw new Error(`kwok/${file}: unfilled placeholder ${left[0]}`);
  return text;
}

/**
 * (Re)creates the fake nodes: kwok writes its port into a node's status once, when it first makes
 * the node Ready, so a kwok started again on another port needs fresh nodes.
 */
async function createFakeNodes(ctx: Ctx): Promise<void> {
  await kubectl(ctx, ['delete', 'nodes', '-l', 'node.offhost.dev/fake=true', '--ignore-not-found']);
  await kubectl(ctx, ['create', '-f', '-'], JSON.stringify(nodeManifests(ctx)));
}

async function startKwok(ctx: Ctx): Promise<void> {
  const s = ctx.settings;
  fs.mkdirSync(ctx.paths.config, { recursive: true });
  const kwokConfig = path.join(ctx.paths.config, 'kwok.yaml');
  fs.writeFileSync(
    kwokConfig,
    [
      fillTemplate('stages.yaml', { START_DELAY_MS: s.podStartDelayMs, RUN_TIME_MS: s.podRunTimeMs }),
      fillTemplate('metrics.yaml', { DEFAULT_CPU: s.defaultUsageCpu, DEFAULT_MEMORY: s.defaultUsageMemory }),
    ].join('\n---\n'),
  );
  startProcess(ctx, 'kwok', binary(ctx, 'kwok'), [
    `--kubeconfig=${componentKubeconfig(ctx, 'kwok')}`,
    `--config=${kwokConfig}`,
    '--manage-all-nodes=false',
    '--manage-nodes-with-annotation-selector=kwok.x-k8s.io/node=fake',
    '--node-ip=127.0.0.1',
    `--node-port=${ctx.ports.kwok}`,
    `--server-address=127.0.0.1:${ctx.ports.kwok}`,
    `--tls-cert-file=${ctx.pki.componentsCert}`,
    `--tls-private-key-file=${ctx.pki.componentsKey}`,
    '--node-lease-duration-seconds=40',
    '--cidr=10.244.0.0/16',
  ]);
  await waitFor(ctx, 'kwok', '/healthz', () => healthy(`https://127.0.0.1:${ctx.ports.kwok}/healthz`, componentsTls(ctx)));
  await waitFor(ctx, 'kwok', `${s.nodes} Ready nodes`, async () => (await readyNodes(ctx)) >= s.nodes);
}

async function readyNodes(ctx: { ports: Ports; adminTls: TlsClient }): Promise<number> {
  const r = await request(
    `https://127.0.0.1:${ctx.ports.apiserver}/api/v1/nodes?labelSelector=node.offhost.dev%2Ffake%3Dtrue`,
    ctx.adminTls,
  );
  if (r.status !== 200) return 0;
  const list = JSON.parse(r.body) as {
    items: { status?: { conditions?: { type: string; status: string }[] } }[];
  };
  return list.items.filter((n) => n.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True'))
    .length;
}

function metricsApiManifests(ctx: Ctx): object {
  return {
    apiVersion: 'v1',
    kind: 'List',
    items: [
      {
        apiVersion: 'v1',
        kind: 'Service',
        metadata: { name: 'metrics-server', namespace: 'kube-system' },
        // metrics-server runs on this machine, outside the "cluster": point the Service at it.
        spec: { type: 'ExternalName', externalName: '127.0.0.1' },
      },
      {
        apiVersion: 'apiregistration.k8s.io/v1',
        kind: 'APIService',
        metadata: { name: 'v1beta1.metrics.k8s.io' },
        spec: {
          group: 'metrics.k8s.io',
          version: 'v1beta1',
          groupPriorityMinimum: 100,
          versionPriority: 100,
          caBundle: fs.readFileSync(ctx.pki.caCert).toString('base64'),
          service: { name: 'metrics-server', namespace: 'kube-system', port: ctx.ports.metricsServer },
        },
      },
    ],
  };
}

async function startMetricsServer(ctx: Ctx): Promise<void> {
  const kc = componentKubeconfig(ctx, 'metrics-server');
  const resolution = ctx.settings.metricResolutionSeconds;
  await kubectl(ctx, ['apply', '-f', '-'], JSON.stringify(metricsApiManifests(ctx)));
  startProcess(ctx, 'metrics-server', binary(ctx, 'metrics-server'), [
    `--kubeconfig=${kc}`,
    `--authentication-kubeconfig=${kc}`,
    `--authorization-kubeconfig=${kc}`,
    '--bind-address=127.0.0.1',
    `--secure-port=${ctx.ports.metricsServer}`,
    `--tls-cert-file=${ctx.pki.componentsCert}`,
    `--tls-private-key-file=${ctx.pki.componentsKey}`,
    '--kubelet-preferred-address-types=InternalIP',
    '--kubelet-use-node-status-port',
    `--kubelet-certificate-authority=${ctx.pki.caCert}`, // kwok serves the components certificate
    `--metric-resolution=${resolution}s`,
    `--kubelet-request-timeout=${Math.max(1, Math.floor(resolution * 0.5))}s`,
  ]);
  // /livez, not /readyz: metrics-server is "ready" only once it holds two scrapes of some node
  // (one metric resolution after start). The API answers before that, with empty lists.
  await waitFor(ctx, 'metrics-server', '/livez', () =>
    healthy(`https://127.0.0.1:${ctx.ports.metricsServer}/livez`, componentsTls(ctx)),
  );
  await waitFor(ctx, 'metrics-server', 'the metrics.k8s.io API', () => metricsApiAnswers(ctx));
}

async function metricsApiAnswers(ctx: { ports: Ports; adminTls: TlsClient }): Promise<boolean> {
  const r = await request(`https://127.0.0.1:${ctx.ports.apiserver}/apis/metrics.k8s.io/v1beta1/pods`, ctx.adminTls);
  return r.status === 200 && r.body.includes('PodMetricsList');
}

/** Stops one component's process group at once (a failed start), and forgets its pid. */
async function killComponent(ctx: Ctx, c: Component): Promise<void> {
  const pid = ctx.pids[c];
  if (!pid) return;
  for (const target of [-pid, pid]) {
    try {
      process.kill(target, 'SIGKILL');
      break;
    } catch {
      /* not a group leader, or already gone */
    }
  }
  while (processRuns(pid) && !isZombie(pid)) await sleep(50);
  delete ctx.pids[c];
  fs.rmSync(path.join(ctx.paths.pids, `${c}.pid`), { force: true });
}

/**
 * Runs `start` (spawn + wait until healthy); if the component lost a port we picked to another
 * process (freePort cannot reserve it), kills it, picks new ports and starts it again, at most
 * 3 times. A port the user fixed is never moved: that failure is reported as is.
 */
async function startOnFreePorts(ctx: Ctx, c: Component, start: () => Promise<void>): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await start();
    } catch (err) {
      if (!(err instanceof ComponentFailed) || err.component !== c || !err.lostPorts.length) throw err;
      const fixed = err.lostPorts.filter((n) => ctx.settings.ports[n] !== undefined);
      if (fixed.length || attempt >= 3) throw err;
      await killComponent(ctx, c);
      for (const n of err.lostPorts) ctx.ports[n] = await freePort(Object.values(ctx.ports));
      // The kubeconfigs name the apiserver's port.
      if (c === 'kube-apiserver') writeKubeconfigs(ctx);
      ctx.log(`${err.message}; starting ${c} again on ${err.lostPorts.map((n) => `${n}=${ctx.ports[n]}`).join(', ')}`);
    }
  }
}

// ---------------------------------------------------------------------------------------------
// public API

export interface UpOptions {
  log?: Log;
  /** For tests: called with the ports picked, before any component binds them. */
  afterPortsPicked?: (ports: Ports) => Promise<void> | void;
}

/**
 * Builds (unless skipped or already built) and starts the control plane; returns its state.
 * If a healthy cluster already runs from this state directory it is reused as is.
 * On failure everything started is stopped again and the error names the component and carries
 * its log tail.
 */
export async function up(settings: Settings, opts: UpOptions = {}): Promise<ClusterState> {
  const log = opts.log ?? defaultLog;
  const t0 = Date.now();
  const paths = statePaths(settings.stateDir);

  const wanted = resolveBinDir();
  const current = await status(settings);
  if (current.healthy && current.state?.binDir === wanted && !!current.state.realNode === settings.realNode) {
    log(`already running and healthy (started ${current.state.startedAt}); reusing it`);
    return current.state;
  }
  if (current.anyRunning) {
    log(
      current.healthy
        ? `the running cluster uses other binaries (${current.state?.binDir}); restarting it`
        : 'a previous cluster is partly running; stopping it first',
    );
    await down(settings, { log });
  }

  if (!settings.skipBuild) {
    const tb = Date.now();
    const res = spawnSync('bash', [buildScript()], { stdio: ['ignore', 'inherit', 'inherit'] });
    if (res.status !== 0) throw new Error(`build.sh failed (exit ${res.status})`);
    log(`binaries ready in ${seconds(tb)}`);
  }
  const bin = wanted;
  for (const b of ['etcd', 'kube-apiserver', 'kube-controller-manager', 'kube-scheduler', 'kubectl', 'kwok', 'metrics-server']) {
    if (!fs.existsSync(path.join(bin, b))) throw new Error(`${b} is not built in ${bin}: run npm run cluster:build`);
  }

  // Fresh state: no data, certificates, pid files or kubeconfig from a previous run survive.
  for (const dir of [paths.etcdData, paths.pids, paths.kubeconfigs, paths.config, paths.apiserverCertDir]) {
    fs.rmSync(dir, { recursive: true, force: true });
  }
  fs.rmSync(paths.stateFile, { force: true });
  fs.rmSync(paths.kubeconfig, { force: true });
  for (const dir of [paths.logs, paths.pids]) fs.mkdirSync(dir, { recursive: true });

  const ports = { ...settings.ports } as Partial<Ports>;
  for (const name of PORT_NAMES) {
    if (ports[name] === undefined) ports[name] = await freePort(Object.values(ports));
    else if (await portInUse(ports[name]!)) {
      throw new Error(`port ${name}=${ports[name]} on 127.0.0.1 is already in use`);
    }
  }
  const pki = createPki(paths.pki);
  const ctx: Ctx = {
    settings,
    paths,
    bin,
    pki,
    ports: ports as Ports,
    adminTls: {
      ca: fs.readFileSync(pki.caCert),
      cert: fs.readFileSync(pki.clients.admin.cert),
      key: fs.readFileSync(pki.clients.admin.key),
    },
    pids: {},
    log,
  };
  writeKubeconfigs(ctx);
  await opts.afterPortsPicked?.({ ...ctx.ports });

  const step = async (name: string, fn: () => Promise<void>) => {
    const ts = Date.now();
    await fn();
    log(`${name} ready in ${seconds(ts)}`);
  };
  let realNode: RealNodeState | undefined;
  try {
    await step('etcd', () => startOnFreePorts(ctx, 'etcd', () => startEtcd(ctx)));
    await step('kube-apiserver', () => startOnFreePorts(ctx, 'kube-apiserver', () => startApiserver(ctx)));
    await step('kube-controller-manager + kube-scheduler', () =>
      Promise.all([
        startOnFreePorts(ctx, 'kube-controller-manager', async () => {
          await startControllerManager(ctx);
          await waitFor(ctx, 'kube-controller-manager', '/healthz', () =>
            healthy(`https://127.0.0.1:${ctx.ports.controllerManager}/healthz`, componentsTls(ctx)),
          );
        }),
        startOnFreePorts(ctx, 'kube-scheduler', async () => {
          await startScheduler(ctx);
          await waitFor(ctx, 'kube-scheduler', '/healthz', () =>
            healthy(`https://127.0.0.1:${ctx.ports.scheduler}/healthz`, componentsTls(ctx)),
          );
        }),
      ]).then(() => undefined),
    );
    await step(`kwok (${settings.nodes} nodes)`, () =>
      startOnFreePorts(ctx, 'kwok', async () => {
        await createFakeNodes(ctx);
        await startKwok(ctx);
      }),
    );
    await step('metrics-server + metrics.k8s.io', () => startOnFreePorts(ctx, 'metrics-server', () => startMetricsServer(ctx)));
    if (settings.realNode) {
      await step('real node real-0', async () => {
        realNode = await startRealNode({
          stateDir: settings.stateDir,
          server: `https://127.0.0.1:${ctx.ports.apiserver}`,
          caCert: pki.caCert,
          caKey: pki.caKey,
          log,
          timeoutMs: settings.startTimeoutMs,
        });
      });
    }
  } catch (err) {
    const c = err instanceof ComponentFailed ? err.component : null;
    const tail = c ? logTail(settings.stateDir, c) : '';
    log(`FAILED: ${(err as Error).message}; stopping what was started`);
    await down(settings, { log: () => {} });
    const logFile = c ? path.join(paths.logs, `${c}.log`) : '';
    throw new Error(
      `cluster:up failed: ${(err as Error).message}` + (c ? `\n--- last lines of ${logFile} ---\n${tail}` : ''),
    );
  }

  const state: ClusterState = {
    version: 1,
    stateDir: settings.stateDir,
    binDir: bin,
    kubeconfig: paths.kubeconfig,
    server: `https://127.0.0.1:${ctx.ports.apiserver}`,
    ports: ctx.ports,
    pids: ctx.pids,
    startedAt: new Date().toISOString(),
    settings: {
      nodes: settings.nodes,
      nodeCpu: settings.nodeCpu,
      nodeMemory: settings.nodeMemory,
      nodePods: settings.nodePods,
      podStartDelayMs: settings.podStartDelayMs,
      podRunTimeMs: settings.podRunTimeMs,
      metricResolutionSeconds: settings.metricResolutionSeconds,
    },
    nodeNames: Array.from({ length: settings.nodes }, (_, i) => nodeName(i)),
    ...(realNode ? { realNode } : {}),
  };
  fs.writeFileSync(paths.stateFile, JSON.stringify(state, null, 2) + '\n');
  log(`up in ${seconds(t0)}; kubeconfig: ${paths.kubeconfig}`);
  return state;
}

export interface DownOptions {
  log?: Log;
  /** How long each process gets after SIGTERM before SIGKILL. */
  graceMs?: number;
}

/** Stops every component (by its pid file), waits until their ports are closed, removes state. */
export async function down(settings: Settings, opts: DownOptions = {}): Promise<{ stopped: Component[] }> {
  const log = opts.log ?? defaultLog;
  const graceMs = opts.graceMs ?? 10_000;
  const paths = statePaths(settings.stateDir);
  const state = readState(settings.stateDir);
  const stopped: Component[] = [];
  // The real node first (a no-op without one): it removes what it set up on the host.
  await stopRealNode(settings.stateDir, { log, graceMs });
  for (const c of [...COMPONENTS].reverse()) {
    const pf = readPidFile(settings.stateDir, c);
    if (!pf) continue;
    if (processRuns(pf.pid, pf.binary) && !isZombie(pf.pid)) {
      const kill = (sig: NodeJS.Signals) => {
        try {
          process.kill(-pf.pid, sig); // the process group: it was spawned detached
        } catch {
          try {
            process.kill(pf.pid, sig);
          } catch {
            /* already gone */
          }
        }
      };
      kill('SIGTERM');
      const deadline = Date.now() + graceMs;
      while (processRuns(pf.pid, pf.binary) && !isZombie(pf.pid) && Date.now() < deadline) await sleep(100);
      if (processRuns(pf.pid, pf.binary) && !isZombie(pf.pid)) {
        log(`${c} (pid ${pf.pid}) ignored SIGTERM for ${graceMs / 1000}s; sending SIGKILL`);
        kill('SIGKILL');
        while (processRuns(pf.pid, pf.binary) && !isZombie(pf.pid)) await sleep(100);
      }
      stopped.push(c);
      log(`stopped ${c} (pid ${pf.pid})`);
    }
    fs.rmSync(path.join(paths.pids, `${c}.pid`), { force: true });
  }
  if (state) {
    const deadline = Date.now() + 10_000;
    for (const name of PORT_NAMES) {
      while ((await portInUse(state.ports[name])) && Date.now() < deadline) await sleep(100);
      if (await portInUse(state.ports[name])) log(`warning: port ${name}=${state.ports[name]} is still in use`);
    }
  }
  // Logs stay for post-mortems; everything else goes.
  for (const p of [paths.etcdData, paths.kubeconfigs, paths.config, paths.apiserverCertDir, paths.pki]) {
    fs.rmSync(p, { recursive: true, force: true });
  }
  fs.rmSync(paths.stateFile, { force: true });
  fs.rmSync(paths.kubeconfig, { force: true });
  if (!stopped.length) log('nothing was running');
  return { stopped };
}

/** Checks each component: process alive, health endpoint, plus nodes and the metrics API. */
export async function status(settings: Settings): Promise<StatusReport> {
  const state = readState(settings.stateDir);
  const problems: string[] = [];
  const components: ComponentStatus[] = [];
  let tls: TlsClient | null = null;
  if (state) {
    const pki = path.join(settings.stateDir, 'pki');
    try {
      tls = {
        ca: fs.readFileSync(path.join(pki, 'ca.crt')),
        cert: fs.readFileSync(path.join(pki, 'client-admin.crt')),
        key: fs.readFileSync(path.join(pki, 'client-admin.key')),
      };
    } catch {
      problems.push('certificates are missing from the state directory');
    }
  }
  const endpoints: Record<Component, (p: Ports) => { url: string; tls: TlsClient | null; expect: 'ok' | 'etcd' }> = {
    etcd: (p) => ({ url: `http://127.0.0.1:${p.etcd}/health`, tls: null, expect: 'etcd' }),
    'kube-apiserver': (p) => ({ url: `https://127.0.0.1:${p.apiserver}/readyz`, tls, expect: 'ok' }),
    'kube-controller-manager': (p) => ({
      url: `https://127.0.0.1:${p.controllerManager}/healthz`,
      tls: tls && { ca: tls.ca },
      expect: 'ok',
    }),
    'kube-scheduler': (p) => ({ url: `https://127.0.0.1:${p.scheduler}/healthz`, tls: tls && { ca: tls.ca }, expect: 'ok' }),
    kwok: (p) => ({ url: `https://127.0.0.1:${p.kwok}/healthz`, tls: tls && { ca: tls.ca }, expect: 'ok' }),
    'metrics-server': (p) => ({
      url: `https://127.0.0.1:${p.metricsServer}/livez`,
      tls: tls && { ca: tls.ca },
      expect: 'ok',
    }),
  };
  let anyRunning = false;
  for (const c of COMPONENTS) {
    const pf = readPidFile(settings.stateDir, c);
    const running = !!pf && processRuns(pf.pid, pf.binary) && !isZombie(pf.pid);
    anyRunning ||= running;
    let ok = false;
    let detail = running ? '' : 'not running';
    let endpoint = '';
    if (running && state) {
      const ep = endpoints[c](state.ports);
      endpoint = ep.url;
      try {
        const r = await request(ep.url, ep.tls, { timeoutMs: 3000 });
        ok = ep.expect === 'etcd' ? r.status === 200 && /"health":\s*"true"/.test(r.body) : r.status === 200;
        detail = ok ? 'healthy' : `HTTP ${r.status}: ${r.body.trim().slice(0, 200)}`;
      } catch (err) {
        detail = (err as Error).message;
      }
    }
    if (!ok) problems.push(`${c}: ${detail}`);
    components.push({ component: c, pid: pf?.pid ?? null, running, healthy: ok, endpoint, detail });
  }
  let healthyAll = !!state && components.every((c) => c.healthy);
  if (healthyAll && state && tls) {
    const ctx = { ports: state.ports, adminTls: tls };
    try {
      const ready = await readyNodes(ctx);
      if (ready < state.nodeNames.length) {
        healthyAll = false;
        problems.push(`only ${ready}/${state.nodeNames.length} fake nodes are Ready`);
      }
      if (!(await metricsApiAnswers(ctx))) {
        healthyAll = false;
        problems.push('metrics.k8s.io does not answer');
      }
    } catch (err) {
      healthyAll = false;
      problems.push(`API checks failed: ${(err as Error).message}`);
    }
  }
  let realNode: RealNodeStatus | undefined;
  if (state?.realNode) {
    realNode = await realNodeStatus(settings.stateDir);
    anyRunning ||= realNode.containerd || realNode.kubelet;
    if (!realNode.kubeletHealthy) problems.push(`real node: ${realNode.detail}`);
    else if (tls && !(await realNodeReady(state.server, tls).catch(() => false))) problems.push('real node: not Ready');
    healthyAll &&= problems.length === 0;
  }
  return { state, components, healthy: healthyAll, anyRunning, problems, ...(realNode ? { realNode } : {}) };
}

/** The kubectl binary of the built toolset (for tests that want to run `kubectl top`). */
export function kubectlPath(state: ClusterState): string {
  return path.join(state.binDir, 'kubectl');
}
