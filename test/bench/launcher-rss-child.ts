// For launcher.bench.ts: the launcher's memory in a process of its own (the vitest worker's RSS
// says little). argv: SQLite file, kubeconfig, namespace, live jobs expected. Prints one JSON line:
// the RSS after loading the modules and opening the store, and once the launcher has listed,
// reconciled and handled an event for each live pod (after a GC, when --expose-gc is given).
import { DEFAULT_QUOTAS } from '../../shared/quota';
import { TaskService } from '../../main/content/tasks';
import { EventBus } from '../../main/events';
import { loadKube } from '../../main/kube/config';
import { Launcher } from '../../main/launcher/launcher';
import { silentLogger } from '../../main/log';
import { openStore } from '../../main/store/db';

const [file, kubeconfig, namespace, live] = process.argv.slice(2);
const gc = (globalThis as { gc?: () => void }).gc ?? (() => {});
const mib = () => {
  gc();
  return process.memoryUsage().rss / 1024 ** 2;
};
const store = await openStore({ kind: 'sqlite', file: file! }, silentLogger);
const rows = Number((await store.db.selectFrom('jobs').select((eb) => eb.fn.countAll().as('n')).executeTakeFirstOrThrow()).n);
const base = mib();
const launcher = new Launcher({
  store,
  events: new EventBus(),
  tasks: new TaskService(store.db, () => new Date().toISOString()),
  log: silentLogger,
  connect: () => loadKube({ source: { kind: 'files', files: [kubeconfig!], from: 'OFFHOST_KUBECONFIG' }, context: null, namespace: namespace! }),
  quotas: async () => ({ ...DEFAULT_QUOTAS, max_concurrent_jobs: 100_000 }),
});
const t0 = performance.now();
launcher.start();
while (!(launcher.status.state === 'watching' && launcher.status.podEvents >= Number(live))) await new Promise((r) => setTimeout(r, 50));
const listed = performance.now() - t0;
// Let the per-job chains the list started settle.
await new Promise((r) => setTimeout(r, 3000));
const after = mib();
process.stdout.write(`${JSON.stringify({ rows, live: Number(live), baseMiB: base, launcherMiB: after, listedMs: listed, podEvents: launcher.status.podEvents })}\n`);
await launcher.stop();
await store.close();
process.exit(0);
