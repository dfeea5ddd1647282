/**
 * The real node `real-0`: containerd + runc + CNI bridge + kubelet on this machine, joined to the
 * test control plane next to the KWOK nodes. Pods that tolerate its taint really run here, from
 * the runtime images build.sh made from Debian packages (offhost.local/python, offhost.local/r).
 *
 * Needs root. Everything it creates is recorded and removed by `stopRealNode`: processes
 * (containerd, kubelet, shims, container processes), mounts, the node address on `lo`, the CNI
 * bridge, network namespaces, cgroups, host directories kubelet/containerd insist on, and the
 * ip_forward sysctl the bridge plugin turns on. See test/cluster/README.md "Real node".
 *
 * Three fixes this kind of machine needs (cgroup v1, no CAP_SYS_RESOURCE, loopback node IP) are
 * marked "machine fix" below.
 */
import { execFile, execFileSync, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import https from 'node:https';
import http from 'node:http';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';

import { buildScript } from './config.js';
import { makeLeaf } from './pki.js';

const execFileAsync = promisify(execFile);

export const REAL_NODE_NAME = 'real-0';
/** machine fix: kubelet refuses a loopback node IP, so the node gets its own /32 on `lo`. */
export const REAL_NODE_IP = '10.250.0.1';
export const POD_SUBNET = '10.251.0.0/24';
export const BRIDGE = 'offhost0';
export const KUBELET_PORT = 10250;
const KUBELET_HEALTHZ_PORT = 10248;
/** Only pods that tolerate this land on the real node; KWOK tests' pods never do. */
export const REAL_NODE_TAINT = { key: 'offhost.dev/real-node', value: 'true', effect: 'NoSchedule' } as const;
export const REAL_NODE_LABEL = 'node.offhost.dev/real';
const RUNC = '/usr/sbin/runc';
const CNI_BIN_DIR = '/usr/lib/cni';
/** One real node per machine (fixed IP, ports, bridge): this file says which state dir owns it. */
const MARKER = '/run/offhost-realnode.json';
/** Host paths kubelet/containerd/CNI use whatever they are told; removed by stop if they were absent. */
const HOST_PATHS = ['/run/containerd', '/var/lib/cni', '/var/log/containers', '/var/log/pods', '/var/lib/kubelet', '/run/netns', '/opt/containerd', '/etc/cni'];

export interface NodeImage {
  ref: string;
  tar: string;
  meta: string;
}
export interface NodeArtifacts {
  binDir: string;
  imagesDir: string;
  images: Record<'pause' | 'python' | 'r', NodeImage>;
}

/** Where build.sh puts the node's binaries and images (nothing is built here). */
export function nodeArtifacts(): NodeArtifacts {
  return JSON.parse(execFileSync('bash', [buildScript(), '--print-node-json'], { encoding: 'utf8' })) as NodeArtifacts;
}

/** Why the real node cannot run here, or null if it can (root, node pieces built, Debian tools present). */
export function realNodeUnavailable(a: NodeArtifacts = nodeArtifacts()): string | null {
  const how = 'run `npm run cluster:build` as root, then `npx vitest run --project realnode` as root';
  if (process.getuid?.() !== 0) return `the real node needs root (containerd, runc, CNI); ${how}`;
  for (const b of ['kubelet', 'containerd', 'containerd-shim-runc-v2', 'ctr']) {
    if (!fs.existsSync(path.join(a.binDir, b))) return `${b} is not built in ${a.binDir}; ${how}`;
  }
  for (const [name, img] of Object.entries(a.images)) {
    if (!fs.existsSync(img.tar)) return `image ${name} is not built (${img.tar}); ${how}`;
  }
  for (const f of [RUNC, path.join(CNI_BIN_DIR, 'bridge'), path.join(CNI_BIN_DIR, 'host-local'), path.join(CNI_BIN_DIR, 'loopback')]) {
    if (!fs.existsSync(f)) return `${f} is missing (Debian runc / containernetworking-plugins); ${how}`;
  }
  return null;
}

/** What `up` records about the node in state.json. */
export interface RealNodeState {
  name: string;
  ip: string;
  podSubnet: string;
  pids: { containerd: number; kubelet: number };
  containerdSocket: string;
  images: Record<string, string>;
  /** Images imported by this start (the others were kept in the image store). */
  imported: string[];
  /** Seconds: containerd up, images imported, kubelet started → node Ready. */
  timings: { containerd: number; images: number; ready: number };
}

interface HostRecord {
  stateDir: string;
  createdPaths: string[];
  addedAddress: boolean;
  ipForward: string;
}

export function nodePaths(stateDir: string) {
  const root = path.join(stateDir, 'node');
  return {
    root,
    pki: path.join(root, 'pki'),
    /** Names the image store (containerd's root) this run uses; see imageStore(). */
    storeFile: path.join(root, 'containerd-root'),
    containerdState: path.join(root, 'containerd-state'),
    containerdConfig: path.join(root, 'containerd.toml'),
    socket: path.join(root, 'containerd-state', 'containerd.sock'),
    cniConf: path.join(root, 'cni', 'net.d'),
    cniIpam: path.join(root, 'cni', 'ipam'),
    kubeletRoot: path.join(root, 'kubelet'),
    kubeletConfig: path.join(root, 'kubelet.yaml'),
    kubeletKubeconfig: path.join(root, 'kubelet.kubeconfig'),
    podLogs: path.join(root, 'pod-logs'),
    logs: path.join(stateDir, 'logs'),
    pids: path.join(stateDir, 'pids'),
  };
}

type Log = (msg: string) => void;

function run(cmd: string, args: string[]): string {
  return execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}
function tryRun(cmd: string, args: string[]): boolean {
  try {
    run(cmd, args);
    return true;
  } catch {
    return false;
  }
}

function logTail(file: string, lines = 40): string {
  try {
    return fs.readFileSync(file, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return '(no log)';
  }
}

export class RealNodeFailed extends Error {}

function fail(message: string, logFile?: string): never {
  throw new RealNodeFailed(logFile ? `${message}\n--- last lines of ${logFile} ---\n${logTail(logFile)}` : message);
}

function alive(pid: number, exe?: string): boolean {
  try {
    process.kill(pid, 0);
    if (/^\d+ \(.*\) Z/.test(fs.readFileSync(`/proc/${pid}/stat`, 'utf8'))) return false;
    return exe ? fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0')[0] === exe : true;
  } catch {
    return false;
  }
}

function spawnLogged(name: string, exe: string, args: string[], p: ReturnType<typeof nodePaths>): number {
  const logFile = path.join(p.logs, `${name}.log`);
  const out = fs.openSync(logFile, 'w');
  fs.writeSync(out, `# ${new Date().toISOString()} ${exe} ${args.join(' ')}\n`);
  const child = spawn(exe, args, { detached: true, stdio: ['ignore', out, out], cwd: p.root, env: { ...process.env, GOMAXPROCS: '2' } });
  fs.closeSync(out);
  if (!child.pid) fail(`could not start ${exe}`);
  child.unref();
  fs.writeFileSync(path.join(p.pids, `${name}.pid`), `${child.pid}\n${exe}\n`);
  return child.pid;
}

async function waitUntil(what: string, check: () => Promise<boolean> | boolean, timeoutMs: number, guard: () => void): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = '';
  for (;;) {
    guard();
    try {
      if (await check()) return;
    } catch (err) {
      last = (err as Error).message;
    }
    if (Date.now() > deadline) fail(`timed out after ${timeoutMs / 1000}s waiting for ${what}${last ? ` (last error: ${last})` : ''}`);
    await sleep(200);
  }
}

function get(url: string, tls?: { ca: Buffer; cert?: Buffer; key?: Buffer }): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const mod = url.startsWith('https:') ? https : http;
    const req = mod.get(url, { ...(tls ?? {}), timeout: 3000 }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
  });
}

// ---------------------------------------------------------------------------------------------
// configuration files

function containerdConfig(p: ReturnType<typeof nodePaths>, store: string, pauseRef: string): string {
  const q = (s: string) => JSON.stringify(s); // TOML basic strings accept JSON string syntax
  // Config version 4 (containerd 2.x); no imports, so nothing under /etc/containerd applies.
  return `version = 4
root = ${q(store)}
state = ${q(p.containerdState)}
imports = []
disabled_plugins = ["io.containerd.nri.v1.nri", "io.containerd.snapshotter.v1.btrfs", "io.containerd.snapshotter.v1.zfs", "io.containerd.snapshotter.v1.devmapper", "io.containerd.snapshotter.v1.blockfile", "io.containerd.tracing.processor.v1.otlp", "io.containerd.internal.v1.tracing"]

[plugins."io.containerd.server.v1.grpc"]
  address = ${q(p.socket)}
[plugins."io.containerd.server.v1.ttrpc"]
  address = ${q(`${p.socket}.ttrpc`)}

[plugins."io.containerd.internal.v1.opt"]
  path = ${q(path.join(p.root, 'opt'))}

[plugins."io.containerd.cri.v1.images"]
  [plugins."io.containerd.cri.v1.images".pinned_images]
    sandbox = ${q(pauseRef)}

[plugins."io.containerd.cri.v1.runtime"]
  # machine fix: root here lacks CAP_SYS_RESOURCE, so runc cannot lower oom_score_adj.
  restrict_oom_score_adj = true
  netns_mounts_under_state_dir = true
  [plugins."io.containerd.cri.v1.runtime".containerd]
    default_runtime_name = "runc"
    [plugins."io.containerd.cri.v1.runtime".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.cri.v1.runtime".containerd.runtimes.runc.options]
        BinaryName = ${q(RUNC)}
        # machine fix: cgroup v1 with the cgroupfs driver
        SystemdCgroup = false
  [plugins."io.containerd.cri.v1.runtime".cni]
    bin_dirs = [${q(CNI_BIN_DIR)}]
    conf_dir = ${q(p.cniConf)}
    max_conf_num = 1

[plugins."io.containerd.grpc.v1.cri"]
  stream_server_address = "127.0.0.1"
  stream_server_port = "0"
`;
}

function cniConfig(p: ReturnType<typeof nodePaths>): string {
  // Pods reach only their own subnet and the host through the bridge (no masquerade, no routes):
  // no internet, and all traffic stays on this machine.
  return JSON.stringify(
    {
      cniVersion: '1.0.0',
      name: 'offhost',
      plugins: [
        {
          type: 'bridge',
          bridge: BRIDGE,
          isGateway: true,
          ipMasq: false,
          ipam: { type: 'host-local', ranges: [[{ subnet: POD_SUBNET }]], dataDir: p.cniIpam },
        },
      ],
    },
    null,
    2,
  );
}

function kubeletConfig(p: ReturnType<typeof nodePaths>, caCert: string): string {
  return JSON.stringify(
    {
      apiVersion: 'kubelet.config.k8s.io/v1beta1',
      kind: 'KubeletConfiguration',
      address: REAL_NODE_IP,
      port: KUBELET_PORT,
      readOnlyPort: 0,
      healthzBindAddress: '127.0.0.1',
      healthzPort: KUBELET_HEALTHZ_PORT,
      tlsCertFile: path.join(p.pki, 'kubelet-serving.crt'),
      tlsPrivateKeyFile: path.join(p.pki, 'kubelet-serving.key'),
      // The apiserver and metrics-server present client certificates from the cluster CA; what
      // they may do is asked of the apiserver (SubjectAccessReview). No anonymous access.
      authentication: { anonymous: { enabled: false }, webhook: { enabled: true }, x509: { clientCAFile: caCert } },
      authorization: { mode: 'Webhook' },
      containerRuntimeEndpoint: `unix://${p.socket}`,
      // machine fix: cgroup v1 (deprecated upstream; fine for a test node)
      failCgroupV1: false,
      cgroupDriver: 'cgroupfs',
      // machine fix: no CAP_SYS_RESOURCE
      oomScoreAdj: 0,
      failSwapOn: false,
      podLogsDirectory: p.podLogs,
      // The images are imported, never pulled: never garbage-collect them.
      imageGCHighThresholdPercent: 100,
      imageGCLowThresholdPercent: 99,
      evictionHard: { 'memory.available': '100Mi', 'nodefs.available': '1%', 'imagefs.available': '1%', 'nodefs.inodesFree': '1%' },
      maxPods: 20,
      registerWithTaints: [REAL_NODE_TAINT],
      serializeImagePulls: false,
      nodeStatusUpdateFrequency: '5s',
      syncFrequency: '10s',
      resolvConf: '/etc/resolv.conf',
    },
    null,
    2,
  );
}

// ---------------------------------------------------------------------------------------------
// host state: record before touching it, restore on stop

function readRecord(): HostRecord | null {
  try {
    return JSON.parse(fs.readFileSync(MARKER, 'utf8')) as HostRecord;
  } catch {
    return null;
  }
}

function loHasNodeIp(): boolean {
  return run('ip', ['-o', 'addr', 'show', 'dev', 'lo']).includes(` ${REAL_NODE_IP}/32 `);
}

function prepareHost(stateDir: string): HostRecord {
  const prev = readRecord();
  if (prev && path.resolve(prev.stateDir) !== path.resolve(stateDir)) {
    fail(
      `the real node of the cluster in ${prev.stateDir} is still set up on this machine (${MARKER}); ` +
        `stop that cluster first (OFFHOST_CLUSTER_STATE_DIR=${prev.stateDir} npm run cluster:down)`,
    );
  }
  if (prev) return prev; // left over by a crashed run of this cluster: keep the original record
  const record: HostRecord = {
    stateDir,
    createdPaths: HOST_PATHS.filter((p) => !fs.existsSync(p)),
    addedAddress: false,
    ipForward: fs.readFileSync('/proc/sys/net/ipv4/ip_forward', 'utf8').trim(),
  };
  fs.writeFileSync(MARKER, JSON.stringify(record, null, 2) + '\n');
  if (!loHasNodeIp()) {
    run('ip', ['addr', 'add', `${REAL_NODE_IP}/32`, 'dev', 'lo']);
    record.addedAddress = true;
    fs.writeFileSync(MARKER, JSON.stringify(record, null, 2) + '\n');
  }
  return record;
}

// ---------------------------------------------------------------------------------------------
// the image store: containerd's root, kept between runs so `up` need not import the images again

/**
 * containerd's root for these binaries and images, under ~/.cache/offhost/cluster/node-store/. It
 * holds only the imported images between runs: `stop` removes every container and sandbox and
 * then marks it clean. A store not marked clean (a crash, a killed run) is wiped before use.
 */
function openImageStore(a: NodeArtifacts): string {
  const key = createHash('sha256')
    .update([a.binDir, ...Object.values(a.images).map((i) => i.ref)].join('\n'))
    .digest('hex')
    .slice(0, 12);
  const store = path.join(path.dirname(a.imagesDir), 'node-store', key);
  const clean = path.join(store, 'offhost-clean');
  if (!fs.existsSync(clean)) execFileSync('rm', ['-rf', '--one-file-system', store]);
  fs.rmSync(clean, { force: true }); // in use from now on
  // CRI's per-sandbox files of the last run (their sandboxes were removed): not needed again.
  fs.rmSync(path.join(store, 'io.containerd.grpc.v1.cri'), { recursive: true, force: true });
  fs.mkdirSync(store, { recursive: true, mode: 0o700 });
  return store;
}

function closeImageStore(store: string): void {
  fs.rmSync(path.join(store, 'io.containerd.grpc.v1.cri'), { recursive: true, force: true });
  fs.writeFileSync(path.join(store, 'offhost-clean'), `${new Date().toISOString()}\n`);
}

function readStorePath(p: ReturnType<typeof nodePaths>): string | null {
  try {
    return fs.readFileSync(p.storeFile, 'utf8').trim() || null;
  } catch {
    return null;
  }
}

// ---------------------------------------------------------------------------------------------
// start

export interface StartInput {
  stateDir: string;
  server: string;
  caCert: string;
  caKey: string;
  log: Log;
  timeoutMs?: number;
}

function ctr(socket: string, bin: string, args: string[]): Promise<{ stdout: string }> {
  return execFileAsync(path.join(bin, 'ctr'), ['--address', socket, '--namespace', 'k8s.io', ...args], { maxBuffer: 16 << 20 });
}

/** Starts containerd, imports the images, starts kubelet as real-0 and waits until it is Ready. */
export async function startRealNode(input: StartInput): Promise<RealNodeState> {
  const artifacts = nodeArtifacts();
  const why = realNodeUnavailable(artifacts);
  if (why) fail(`real node: ${why}`);
  const timeoutMs = input.timeoutMs ?? 120_000;
  const p = nodePaths(input.stateDir);
  const bin = artifacts.binDir;

  // Leftovers of a crashed run of this cluster go first.
  await stopRealNode(input.stateDir, { log: () => {} });
  prepareHost(input.stateDir);
  for (const d of [p.pki, p.containerdState, p.cniConf, p.cniIpam, p.kubeletRoot, p.podLogs, p.logs, p.pids]) {
    fs.mkdirSync(d, { recursive: true, mode: 0o700 });
  }
  // Pods must be able to traverse to their volumes under the kubelet root (they run as non-root).
  for (const d of [p.root, p.kubeletRoot]) fs.chmodSync(d, 0o711);

  // Certificates from the cluster CA: the kubelet's serving certificate (the node IP as SAN, so
  // the apiserver and metrics-server verify it) and its client identity system:node:real-0.
  const ca = { cert: input.caCert, key: input.caKey };
  const serving = makeLeaf(p.pki, 'kubelet-serving', ca, `/CN=${REAL_NODE_NAME}`, 'serverAuth', [`IP:${REAL_NODE_IP}`, `DNS:${REAL_NODE_NAME}`]);
  const client = makeLeaf(p.pki, 'kubelet-client', ca, `/O=system:nodes/CN=system:node:${REAL_NODE_NAME}`, 'clientAuth');
  const b64 = (f: string) => fs.readFileSync(f).toString('base64');
  fs.writeFileSync(
    p.kubeletKubeconfig,
    JSON.stringify({
      apiVersion: 'v1',
      kind: 'Config',
      clusters: [{ name: 'offhost-test', cluster: { server: input.server, 'certificate-authority-data': b64(input.caCert) } }],
      users: [{ name: REAL_NODE_NAME, user: { 'client-certificate-data': b64(client.cert), 'client-key-data': b64(client.key) } }],
      contexts: [{ name: 'default', context: { cluster: 'offhost-test', user: REAL_NODE_NAME } }],
      'current-context': 'default',
    }),
    { mode: 0o600 },
  );
  const store = openImageStore(artifacts);
  fs.writeFileSync(p.storeFile, store);
  fs.writeFileSync(p.containerdConfig, containerdConfig(p, store, artifacts.images.pause.ref));
  fs.writeFileSync(path.join(p.cniConf, '10-offhost.conflist'), cniConfig(p));
  fs.writeFileSync(p.kubeletConfig, kubeletConfig(p, input.caCert));

  const t0 = Date.now();
  const containerdLog = path.join(p.logs, 'containerd.log');
  const containerdPid = spawnLogged('containerd', path.join(bin, 'containerd'), ['--config', p.containerdConfig, '--log-level', 'warn'], p);
  const guardContainerd = () => {
    if (!alive(containerdPid)) fail('containerd exited', containerdLog);
  };
  await waitUntil('containerd', async () => (await ctr(p.socket, bin, ['version'])).stdout.includes('Server'), timeoutMs, guardContainerd);
  const tContainerd = (Date.now() - t0) / 1000;

  const t1 = Date.now();
  const images: Record<string, string> = {};
  const imported: string[] = [];
  const present = (await ctr(p.socket, bin, ['images', 'ls', '-q'])).stdout.split('\n');
  // In parallel: each import is mostly gunzip of its layer, one core each. Images the store kept
  // from an earlier run are not imported again.
  await Promise.all(
    Object.entries(artifacts.images).map(async ([name, img]) => {
      if (present.includes(img.ref)) {
        images[name] = img.ref;
        return;
      }
      const base = img.ref.slice(0, img.ref.lastIndexOf(':'));
      try {
        await ctr(p.socket, bin, ['images', 'import', '--base-name', base, img.tar]);
      } catch (err) {
        fail(`importing image ${name} (${img.tar}) failed: ${(err as { stderr?: string }).stderr ?? (err as Error).message}`, containerdLog);
      }
      imported.push(name);
      images[name] = img.ref;
    }),
  );
  const listed = (await ctr(p.socket, bin, ['images', 'ls', '-q'])).stdout;
  for (const ref of Object.values(images)) if (!listed.includes(ref)) fail(`image ${ref} is not in containerd after import`, containerdLog);
  const tImages = (Date.now() - t1) / 1000;

  const t2 = Date.now();
  const kubeletLog = path.join(p.logs, 'kubelet.log');
  const kubeletPid = spawnLogged(
    'kubelet',
    path.join(bin, 'kubelet'),
    [
      `--config=${p.kubeletConfig}`,
      `--kubeconfig=${p.kubeletKubeconfig}`,
      `--root-dir=${p.kubeletRoot}`,
      `--hostname-override=${REAL_NODE_NAME}`,
      `--node-ip=${REAL_NODE_IP}`,
      `--node-labels=${REAL_NODE_LABEL}=true`,
      '--v=1',
    ],
    p,
  );
  const guardKubelet = () => {
    guardContainerd();
    if (!alive(kubeletPid)) fail('kubelet exited', kubeletLog);
  };
  const tls = { ca: fs.readFileSync(input.caCert), cert: fs.readFileSync(client.cert), key: fs.readFileSync(client.key) };
  await waitUntil(
    `node ${REAL_NODE_NAME} Ready`,
    () => realNodeReady(input.server, tls),
    timeoutMs,
    guardKubelet,
  ).catch((err: Error) => fail(err.message.split('\n')[0]!, kubeletLog));
  const tReady = (Date.now() - t2) / 1000;
  input.log(`real node ${REAL_NODE_NAME}: containerd ${tContainerd.toFixed(1)}s, images ${tImages.toFixed(1)}s, kubelet → Ready ${tReady.toFixed(1)}s`);
  return {
    name: REAL_NODE_NAME,
    ip: REAL_NODE_IP,
    podSubnet: POD_SUBNET,
    pids: { containerd: containerdPid, kubelet: kubeletPid },
    containerdSocket: p.socket,
    images,
    imported: imported.sort(),
    timings: { containerd: tContainerd, images: tImages, ready: tReady },
  };
}

// ---------------------------------------------------------------------------------------------
// stop

function readPid(p: ReturnType<typeof nodePaths>, name: string): { pid: number; exe: string } | null {
  try {
    const [pid, exe] = fs.readFileSync(path.join(p.pids, `${name}.pid`), 'utf8').split('\n');
    return Number(pid) > 0 && exe ? { pid: Number(pid), exe } : null;
  } catch {
    return null;
  }
}

async function terminate(pid: number, exe: string, graceMs: number): Promise<boolean> {
  if (!alive(pid, exe)) return false;
  const kill = (sig: NodeJS.Signals) => {
    try {
      process.kill(-pid, sig);
    } catch {
      try {
        process.kill(pid, sig);
      } catch {
        /* gone */
      }
    }
  };
  kill('SIGTERM');
  const deadline = Date.now() + graceMs;
  while (alive(pid, exe) && Date.now() < deadline) await sleep(100);
  if (alive(pid, exe)) {
    kill('SIGKILL');
    while (alive(pid, exe)) await sleep(100);
  }
  return true;
}

/** Pids whose executable is `exe` (the shims outlive containerd by design). */
function pidsOf(exe: string): number[] {
  const out: number[] = [];
  for (const d of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      if (fs.readlinkSync(`/proc/${d}/exe`) === exe) out.push(Number(d));
    } catch {
      /* gone or not ours */
    }
  }
  return out;
}

/** cgroup v1 controller mounts and v2's single one. */
function cgroupRoots(): string[] {
  return fs
    .readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .map((l) => l.split(' '))
    .filter((f) => f.length > 8 && /^cgroup2?$/.test(f[f.indexOf('-') + 1] ?? ''))
    .map((f) => f[4]!);
}

function walkCgroups(dir: string): string[] {
  const out: string[] = [];
  let entries: fs.Dirent[] = [];
  try {
    entries = fs.readdirSync(dir, { withFileTypes: true });
  } catch {
    return out;
  }
  for (const e of entries) if (e.isDirectory()) out.push(...walkCgroups(path.join(dir, e.name)));
  out.push(dir);
  return out; // children before parents
}

/** Kills whatever still runs in the pods' cgroups, then removes the cgroups (deepest first). */
async function removePodCgroups(): Promise<string[]> {
  const left: string[] = [];
  const trees = cgroupRoots().map((r) => path.join(r, 'kubepods')).filter((d) => fs.existsSync(d));
  for (const tree of trees) {
    for (const cg of walkCgroups(tree)) {
      try {
        for (const pid of fs.readFileSync(path.join(cg, 'cgroup.procs'), 'utf8').split('\n').filter(Boolean)) {
          try {
            process.kill(Number(pid), 'SIGKILL');
          } catch {
            /* gone */
          }
        }
      } catch {
        /* no procs file */
      }
    }
  }
  for (const tree of trees) {
    for (const cg of walkCgroups(tree)) {
      let ok = false;
      for (let i = 0; i < 50 && !ok; i++) {
        try {
          fs.rmdirSync(cg);
          ok = true;
        } catch {
          await sleep(100);
        }
      }
      if (!ok) left.push(cg);
    }
  }
  return left;
}

/** Mount points at or under one of `prefixes`, deepest first. */
function mountsUnder(prefixes: string[]): string[] {
  const unescape = (s: string) => s.replace(/\\(\d{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)));
  return fs
    .readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((l) => unescape(l.split(' ')[4]!))
    .filter((m) => prefixes.some((p) => m === p || m.startsWith(p + '/')))
    .sort((a, b) => b.length - a.length);
}

export interface StopResult {
  stopped: string[];
  /** Anything that could not be removed (empty when the machine is back to how it was). */
  leftovers: string[];
}

/**
 * Stops the node and removes everything it created. Safe to call when nothing runs; does nothing
 * when another state directory owns the real node.
 */
export async function stopRealNode(stateDir: string, opts: { log?: Log; graceMs?: number } = {}): Promise<StopResult> {
  const log = opts.log ?? (() => {});
  const p = nodePaths(stateDir);
  const record = readRecord();
  if (record && path.resolve(record.stateDir) !== path.resolve(stateDir)) return { stopped: [], leftovers: [] };
  const stopped: string[] = [];
  const leftovers: string[] = [];
  const kubelet = readPid(p, 'kubelet');
  const containerd = readPid(p, 'containerd');
  if (!record && !kubelet && !containerd && !fs.existsSync(p.root)) return { stopped, leftovers }; // never started here

  const t0 = Date.now();
  const phases: string[] = [];
  const phase = (name: string) => phases.push(`${name} ${((Date.now() - t0) / 1000).toFixed(1)}s`);
  if (kubelet && (await terminate(kubelet.pid, kubelet.exe, opts.graceMs ?? 10_000))) stopped.push('kubelet');
  phase('kubelet');
  if (containerd && alive(containerd.pid, containerd.exe)) {
    // Kill the containers through containerd, so each shim exits by itself.
    const bin = path.dirname(containerd.exe);
    let storeClean = false;
    try {
      // `ctr sandboxes ls` has no -q: the first column of its table, header dropped.
      const ls = async (what: string) =>
        what === 'sandboxes'
          ? (await ctr(p.socket, bin, [what, 'ls'])).stdout.split('\n').slice(1).map((l) => l.split(/\s+/)[0]!).filter(Boolean)
          : (await ctr(p.socket, bin, [what, 'ls', '-q'])).stdout.split('\n').filter(Boolean);
      const rmAll = (what: string, ids: string[], ...flags: string[]) =>
        Promise.all(ids.map((id) => ctr(p.socket, bin, [what, 'rm', ...flags, id]).catch(() => undefined)));
      await rmAll('tasks', await ls('tasks'), '-f');
      // The image store keeps only images for the next run: no container or sandbox survives.
      await rmAll('containers', await ls('containers'));
      await rmAll('sandboxes', await ls('sandboxes'), '-f');
      storeClean = (await ls('containers')).length === 0 && (await ls('sandboxes')).length === 0;
    } catch {
      /* containerd not answering: the cgroup sweep below kills what is left */
    }
    phase('tasks');
    await terminate(containerd.pid, containerd.exe, opts.graceMs ?? 10_000);
    stopped.push('containerd');
    phase('containerd');
    const store = readStorePath(p);
    if (store && storeClean) closeImageStore(store);
  }
  const shimExe = containerd ? path.join(path.dirname(containerd.exe), 'containerd-shim-runc-v2') : null;
  if (shimExe) for (const pid of pidsOf(shimExe)) await terminate(pid, shimExe, 2000);
  phase('shims');
  leftovers.push(...(await removePodCgroups()).map((c) => `cgroup ${c}`));
  phase('cgroups');

  const created = record?.createdPaths ?? [];
  const store = readStorePath(p);
  for (const m of mountsUnder([p.root, ...(store ? [store] : []), ...created])) {
    if (!tryRun('umount', [m]) && !tryRun('umount', ['-l', m])) leftovers.push(`mount ${m}`);
  }
  phase('unmount');
  for (const dir of [p.root, ...created]) {
    // rm(1), not fs.rmSync: several times faster on the ~30k files of the unpacked images, and
    // --one-file-system never follows a mount that could not be removed above.
    try {
      await execFileAsync('rm', ['-rf', '--one-file-system', dir]);
    } catch (err) {
      leftovers.push(`${dir}: ${(err as { stderr?: string }).stderr?.trim() || (err as Error).message}`);
    }
  }
  for (const name of ['kubelet', 'containerd']) fs.rmSync(path.join(p.pids, `${name}.pid`), { force: true });
  phase('files');
  if (tryRun('ip', ['link', 'show', BRIDGE]) && !tryRun('ip', ['link', 'del', BRIDGE])) leftovers.push(`bridge ${BRIDGE}`);
  if (record) {
    if (record.addedAddress && loHasNodeIp() && !tryRun('ip', ['addr', 'del', `${REAL_NODE_IP}/32`, 'dev', 'lo'])) {
      leftovers.push(`address ${REAL_NODE_IP} on lo`);
    }
    fs.writeFileSync('/proc/sys/net/ipv4/ip_forward', record.ipForward);
    fs.rmSync(MARKER, { force: true });
  }
  phase('network');
  if (stopped.length) log(`stopped real node ${REAL_NODE_NAME} (${stopped.join(', ')}; done after: ${phases.join(', ')})`);
  for (const l of leftovers) log(`warning: real node left ${l}`);
  return { stopped, leftovers };
}

// ---------------------------------------------------------------------------------------------
// status

export interface RealNodeStatus {
  containerd: boolean;
  kubelet: boolean;
  kubeletHealthy: boolean;
  detail: string;
}

/** Is real-0 Ready according to the apiserver? */
export async function realNodeReady(server: string, tls: { ca: Buffer; cert?: Buffer; key?: Buffer }): Promise<boolean> {
  const r = await get(`${server}/api/v1/nodes/${REAL_NODE_NAME}`, tls);
  if (r.status !== 200) return false;
  const node = JSON.parse(r.body) as { status?: { conditions?: { type: string; status: string }[] } };
  return !!node.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True');
}

export async function realNodeStatus(stateDir: string): Promise<RealNodeStatus> {
  const p = nodePaths(stateDir);
  const c = readPid(p, 'containerd');
  const k = readPid(p, 'kubelet');
  const containerd = !!c && alive(c.pid, c.exe);
  const kubelet = !!k && alive(k.pid, k.exe);
  let kubeletHealthy = false;
  let detail = !containerd ? 'containerd not running' : !kubelet ? 'kubelet not running' : '';
  if (kubelet) {
    try {
      const r = await get(`http://127.0.0.1:${KUBELET_HEALTHZ_PORT}/healthz`);
      kubeletHealthy = r.status === 200 && r.body.trim() === 'ok';
      if (!kubeletHealthy) detail = `kubelet /healthz: HTTP ${r.status} ${r.body.slice(0, 200)}`;
    } catch (err) {
      detail = `kubelet /healthz: ${(err as Error).message}`;
    }
  }
  return { containerd, kubelet, kubeletHealthy, detail: detail || 'healthy' };
}

/** The host-level things a running node has set up (for the tests' "nothing left behind"). */
export function hostFootprint(stateDir: string): string[] {
  const p = nodePaths(stateDir);
  const found: string[] = [];
  if (fs.existsSync(MARKER)) found.push(MARKER);
  if (fs.existsSync(p.root)) found.push(p.root);
  for (const m of mountsUnder([p.root, ...HOST_PATHS])) found.push(`mount ${m}`);
  if (tryRun('ip', ['link', 'show', BRIDGE])) found.push(`bridge ${BRIDGE}`);
  if (loHasNodeIp()) found.push(`address ${REAL_NODE_IP}`);
  for (const r of cgroupRoots()) if (fs.existsSync(path.join(r, 'kubepods'))) found.push(`cgroup ${r}/kubepods`);
  for (const exe of ['containerd', 'containerd-shim-runc-v2', 'kubelet']) {
    try {
      for (const pid of pidsOf(path.join(nodeArtifacts().binDir, exe))) found.push(`process ${exe} ${pid}`);
    } catch {
      /* not built */
    }
  }
  return found;
}
