/**
 * npm run cluster:up | cluster:down | cluster:status  (tsx test/cluster/cli.ts <command> [flags])
 *
 *   up      build what is missing, start the control plane, print the kubeconfig path and contents
 *   down    stop every component; no process and no listening port is left
 *   status  report each component; exit 0 only if all are healthy
 *
 * Flags (each overrides the environment variable in brackets; see test/cluster/README.md):
 *   --state-dir DIR        [OFFHOST_CLUSTER_STATE_DIR]      default ~/.cache/offhost/cluster/run
 *   --nodes N              [OFFHOST_CLUSTER_NODES]          default 3
 *   --node-cpu Q           [OFFHOST_CLUSTER_NODE_CPU]       default 4
 *   --node-memory Q        [OFFHOST_CLUSTER_NODE_MEMORY]    default 16Gi
 *   --start-delay D        [OFFHOST_CLUSTER_POD_START_DELAY] default 1s
 *   --run-time D           [OFFHOST_CLUSTER_POD_RUN_TIME]   default 3s
 *   --metric-resolution D  [OFFHOST_CLUSTER_METRIC_RESOLUTION] default 10s (metrics-server minimum)
 *   --port-base N          [OFFHOST_CLUSTER_PORT_BASE]      fixed consecutive ports instead of random
 *   --ports a=1,b=2        [OFFHOST_CLUSTER_PORTS]          fixed ports by name
 *   --api-port N           [OFFHOST_CLUSTER_API_PORT]       fixed apiserver port
 *   --skip-build           [OFFHOST_CLUSTER_SKIP_BUILD=1]
 *   --real-node            [OFFHOST_CLUSTER_REAL_NODE=1]    also start the real node real-0 (root)
 *   --json                 (status, up) print machine-readable JSON on stdout
 *   --quiet                (up) do not print the kubeconfig contents
 */
import fs from 'node:fs';

import { loadSettings, parseDuration, parsePorts, portsFromBase, type Settings } from './config.js';
import { down, status, up } from './controlplane.js';

function usage(code: number): never {
  const text = fs.readFileSync(new URL(import.meta.url), 'utf8');
  const header = text.slice(text.indexOf('/**') + 3, text.indexOf('*/')).replace(/^ \* ?/gm, '');
  (code === 0 ? process.stdout : process.stderr).write(header.trim() + '\n');
  process.exit(code);
}

function parseArgs(argv: string[]): { command: string; settings: Settings; json: boolean; quiet: boolean } {
  const [command, ...rest] = argv;
  if (!command || command === '--help' || command === '-h') usage(command ? 0 : 2);
  const settings = loadSettings();
  let json = false;
  let quiet = false;
  for (let i = 0; i < rest.length; i++) {
    const flag = rest[i]!;
    const eq = flag.startsWith('--') ? flag.indexOf('=') : -1;
    const [name, inline] = eq > 0 ? [flag.slice(0, eq), flag.slice(eq + 1)] : [flag, undefined];
    const value = (): string => {
      const v = inline ?? rest[++i];
      if (v === undefined) throw new Error(`${name} needs a value`);
      return v;
    };
    switch (name) {
      case '--state-dir': settings.stateDir = value(); break;
      case '--nodes': settings.nodes = Number(value()); break;
      case '--node-cpu': settings.nodeCpu = value(); break;
      case '--node-memory': settings.nodeMemory = value(); break;
      case '--start-delay': settings.podStartDelayMs = parseDuration(value()); break;
      case '--run-time': settings.podRunTimeMs = parseDuration(value()); break;
      case '--metric-resolution':
        settings.metricResolutionSeconds = Math.max(10, Math.round(parseDuration(value()) / 1000));
        break;
      case '--port-base': settings.ports = { ...settings.ports, ...portsFromBase(Number(value())) }; break;
      case '--ports': settings.ports = { ...settings.ports, ...parsePorts(value()) }; break;
      case '--api-port': settings.ports = { ...settings.ports, apiserver: Number(value()) }; break;
      case '--skip-build': settings.skipBuild = true; break;
      case '--real-node': settings.realNode = true; break;
      case '--json': json = true; break;
      case '--quiet': quiet = true; break;
      case '--help': case '-h': usage(0); break;
      default: throw new Error(`unknown flag ${flag} (try --help)`);
    }
  }
  if (!Number.isInteger(settings.nodes) || settings.nodes < 1) throw new Error('--nodes must be a positive integer');
  return { command, settings, json, quiet };
}

async function main(): Promise<number> {
  const { command, settings, json, quiet } = parseArgs(process.argv.slice(2));
  switch (command) {
    case 'up': {
      const t0 = Date.now();
      const state = await up(settings);
      if (json) {
        process.stdout.write(JSON.stringify(state, null, 2) + '\n');
      } else {
        process.stdout.write(
          `cluster is up (${((Date.now() - t0) / 1000).toFixed(1)}s): ${state.server}, ` +
            `${state.nodeNames.length} fake nodes` +
            (state.realNode ? ` + real node ${state.realNode.name} (${state.realNode.ip}; Ready ${state.realNode.timings.ready.toFixed(1)}s after kubelet start)` : '') +
            '\n' +
            `kubeconfig: ${state.kubeconfig}\n` +
            `  export KUBECONFIG=${state.kubeconfig}\n` +
            `  ${state.binDir}/kubectl get nodes\n`,
        );
        if (!quiet) process.stdout.write('\n' + fs.readFileSync(state.kubeconfig, 'utf8'));
      }
      return 0;
    }
    case 'down': {
      const { stopped } = await down(settings);
      process.stdout.write(stopped.length ? `stopped: ${stopped.join(', ')}\n` : 'cluster was not running\n');
      return 0;
    }
    case 'status': {
      const report = await status(settings);
      if (json) {
        process.stdout.write(JSON.stringify(report, null, 2) + '\n');
      } else {
        const rows = report.components.map((c) =>
          [c.component.padEnd(24), String(c.pid ?? '-').padEnd(8), (c.healthy ? 'healthy' : c.running ? 'UNHEALTHY' : 'stopped').padEnd(10), c.endpoint || '', c.healthy ? '' : c.detail]
            .join(' ')
            .trimEnd(),
        );
        process.stdout.write(['COMPONENT'.padEnd(24) + ' PID      STATE      ENDPOINT', ...rows].join('\n') + '\n');
        if (report.realNode) {
          const n = report.realNode;
          process.stdout.write(
            `${'real-0 containerd'.padEnd(24)} ${String(report.state?.realNode?.pids.containerd ?? '-').padEnd(8)} ${n.containerd ? 'running' : 'stopped'}\n` +
              `${'real-0 kubelet'.padEnd(24)} ${String(report.state?.realNode?.pids.kubelet ?? '-').padEnd(8)} ${n.kubeletHealthy ? 'healthy' : n.kubelet ? 'UNHEALTHY' : 'stopped'}    ${n.kubeletHealthy ? '' : n.detail}\n`,
          );
        }
        if (report.state) {
          process.stdout.write(`kubeconfig: ${report.state.kubeconfig}\nstarted: ${report.state.startedAt}\n`);
        }
        process.stdout.write(
          report.healthy ? 'cluster: healthy\n' : report.anyRunning ? `cluster: UNHEALTHY\n  ${report.problems.join('\n  ')}\n` : 'cluster: down\n',
        );
      }
      return report.healthy ? 0 : report.anyRunning ? 1 : 3;
    }
    default:
      process.stderr.write(`unknown command "${command}"\n`);
      usage(2);
  }
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  },
);
