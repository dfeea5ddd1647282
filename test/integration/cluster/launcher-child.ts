// A launcher in its own process, for the restart-safety test (killed with SIGKILL mid-launch).
// argv: database config (JSON), kubeconfig path, namespace. Prints "started" once running.
import { DEFAULT_QUOTAS } from '../../../shared/quota';
import type { DatabaseConfig } from '../../../main/config';
import { TaskService } from '../../../main/content/tasks';
import { EventBus } from '../../../main/events';
import { loadKube } from '../../../main/kube/config';
import { Launcher } from '../../../main/launcher/launcher';
import { silentLogger } from '../../../main/log';
import { openStore } from '../../../main/store/db';

const [dbJson, kubeconfig, namespace] = process.argv.slice(2);
const store = await openStore(JSON.parse(dbJson!) as DatabaseConfig, silentLogger);
const events = new EventBus();
const launcher = new Launcher({
  store,
  events,
  tasks: new TaskService(store.db, () => new Date().toISOString()),
  log: silentLogger,
  connect: () => loadKube({ source: { kind: 'files', files: [kubeconfig!], from: 'OFFHOST_KUBECONFIG' }, context: null, namespace: namespace! }),
  quotas: async () => ({ ...DEFAULT_QUOTAS, max_concurrent_jobs: 100 }),
  testPodAnnotations: () => ({ 'kwok.offhost.dev/run-time': '2s' }),
});
launcher.start();
events.on('jobs.changed', (e) => process.stdout.write(`changed ${e.key} ${e.state}\n`));
process.stdout.write('started\n');
