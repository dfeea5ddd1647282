// One Offhost instance's leader election + launcher in its own process, for the leader-death test
// (killed with SIGKILL while it leads). argv: database config (JSON), kubeconfig path, namespace,
// lease name, lease duration (s), retry (ms), identity. Prints "leading <epoch ms>" when it takes
// the lease, and "changed <key> <state>" for every job it moves.
import { DEFAULT_QUOTAS } from '../../../shared/quota';
import type { DatabaseConfig } from '../../../main/config';
import { TaskService } from '../../../main/content/tasks';
import { EventBus } from '../../../main/events';
import { loadKube } from '../../../main/kube/config';
import { LeaderElector } from '../../../main/kube/lease';
import { Launcher } from '../../../main/launcher/launcher';
import { silentLogger } from '../../../main/log';
import { openStore } from '../../../main/store/db';

const [dbJson, kubeconfig, namespace, lease, durationS, retryMs, identity] = process.argv.slice(2);
const store = await openStore(JSON.parse(dbJson!) as DatabaseConfig, silentLogger);
const events = new EventBus();
const connect = () => loadKube({ source: { kind: 'files', files: [kubeconfig!], from: 'OFFHOST_KUBECONFIG' }, context: null, namespace: namespace! });
const launcher = new Launcher({
  store,
  events,
  tasks: new TaskService(store.db, () => new Date().toISOString()),
  log: silentLogger,
  connect,
  quotas: async () => ({ ...DEFAULT_QUOTAS, max_concurrent_jobs: 10 }),
  testPodAnnotations: () => ({ 'kwok.offhost.dev/run-time': '1s' }),
});
const elector = new LeaderElector({
  identity: identity!,
  log: silentLogger,
  connect,
  onLeading: () => {
    process.stdout.write(`leading ${Date.now()}\n`);
    launcher.start();
  },
  onStopped: () => launcher.stop(),
  options: { name: lease!, durationSeconds: Number(durationS), retryMs: Number(retryMs) },
});
events.on('jobs.changed', (e) => process.stdout.write(`changed ${e.key} ${e.state}\n`));
elector.start();
process.stdout.write('started\n');
