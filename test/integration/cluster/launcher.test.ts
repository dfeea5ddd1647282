/**
 * The launcher against the real control plane (KWOK nodes play the pods) on both store backends,
 * in a namespace that enforces Pod Security "restricted" — so every Job the product's builders
 * make is admitted by the apiserver itself, not by our own check.
 *
 * KWOK cannot emulate an image that does not exist (it has no image pulls): ImagePullBackOff and
 * ErrImagePull are covered by the state machine's table (test/unit/launcher-state.test.ts) only.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { parseCpu } from '../../../shared/quantity.js';
import { DEFAULT_QUOTAS } from '../../../shared/quota.js';
import { objectName } from '../../../main/kube/manifests.js';
import { tasksRepo } from '../../../main/store/tasks-repo.js';
import { BACKENDS } from '../backends.js';
import { eventually, isLocalCluster, kube, useTestNamespace } from '../../cluster/kube.js';
import { startHarness, type Harness } from './launcher-harness.js';

// One namespace per store backend: job ids (and so object names) start at 1 in each database.
const namespaces = { sqlite: useTestNamespace('launcher-sqlite'), postgres: useTestNamespace('launcher-pg') };
const SELECTOR = 'app.kubernetes.io/managed-by=offhost';

beforeAll(async () => {
  const { core } = kube();
  for (const ns of Object.values(namespaces))
    await core.patchNamespace({
      name: ns.name,
      body: [{ op: 'add', path: '/metadata/labels/pod-security.kubernetes.io~1enforce', value: 'restricted' }],
    });
});

const terminal = (s: string) => ['succeeded', 'failed', 'cancelled', 'lost'].includes(s);

describe.skipIf(!isLocalCluster()).each(BACKENDS)('launcher on $name', (backend) => {
  let h: Harness & { drop(): Promise<void> };
  let biggestCpu = 0;
  const ns = namespaces[backend.name];

  beforeAll(async () => {
    const { core } = kube();
    const nodes = await core.listNode({ labelSelector: 'node.offhost.dev/fake=true' });
    biggestCpu = Math.max(...nodes.items.map((n) => parseCpu(n.status?.allocatable?.cpu ?? '0')));
    // Quotas wide enough to ask for more than any node has (the unschedulable case).
    h = await startHarness(backend, ns.name, {
      quotas: { cpu_request: { ...DEFAULT_QUOTAS.cpu_request, max: 10_000 }, cpu_limit: { ...DEFAULT_QUOTAS.cpu_limit, max: 10_000 } },
      // Renders get 3 s (the deadline test); every other render here runs for 1 s.
      options: { deadlineSeconds: { build: 3600, render: 3 } },
    });
  });
  afterAll(async () => {
    await h?.drop();
  });
  afterEach(async () => {
    // Each test ends with nothing left running, so the next starts from an empty namespace.
    const { batch } = kube();
    await batch.deleteCollectionNamespacedJob({ namespace: ns.name, labelSelector: SELECTOR, propagationPolicy: 'Foreground' });
  });

  it('runs a build, then a render, then an app to succeeded, each phase recorded, the task told in words', async () => {
    const { core, batch } = kube();
    const doc = await h.content('quarto-static');
    const build = await h.addJob(doc, 'build', 'quarto-static');
    const render = await h.addJob(doc, 'render', 'quarto-static', { after: build.id, annotations: { 'kwok.offhost.dev/run-time': '1s' } });
    const app = await h.content('python-fastapi');
    const run = await h.addJob(app, 'run', 'python-fastapi', { annotations: { 'kwok.offhost.dev/run-time': '4s' } });

    const running = await h.waitFor(run.id, (j) => j.ready_time !== null);
    expect(running.state).toBe('running');
    // The app's Service exists, owned by its Job (so it goes when the Job goes).
    const svc = await core.readNamespacedService({ name: objectName(run.id), namespace: ns.name });
    const job = await batch.readNamespacedJob({ name: objectName(run.id), namespace: ns.name });
    expect(svc.metadata?.ownerReferences?.[0]).toMatchObject({ kind: 'Job', name: objectName(run.id), uid: job.metadata?.uid });
    expect(job.spec?.template.spec?.securityContext?.runAsNonRoot).toBe(true);

    for (const id of [build.id, render.id, run.id]) {
      const done = await h.waitFor(id, (j) => terminal(j.state));
      expect(done.state, `job ${id}`).toBe('succeeded');
      expect(done.exit_code).toBe(0);
      expect(done.k8s_name).toBe(objectName(id));
      expect(done.node_name).toMatch(/^kwok-node-/);
      for (const f of ['created_time', 'scheduled_time', 'image_pulled_time', 'started_time', 'ready_time', 'finished_time'] as const) expect(done[f], `${f} of job ${id}`).not.toBeNull();
      expect(done.created_time! <= done.scheduled_time! && done.scheduled_time! <= done.started_time! && done.started_time! <= done.finished_time!).toBe(true);
    }
    // The render started only after its build had succeeded.
    const [b, r] = [await h.waitFor(build.id, () => true), await h.waitFor(render.id, () => true)];
    expect(r.created_time! >= b.finished_time!).toBe(true);
    const task = await tasksRepo.get(h.store.db, doc.taskId);
    expect(task?.finished).toBe(true);
    expect(task?.code).toBe(0);
    expect(task?.output.join('\n')).toMatch(/\[build k\w+\] Created the Kubernetes Job[\s\S]*Placed on node kwok-node-[\s\S]*\[render k\w+\] Finished successfully[\s\S]*Status: done\./);
    const appTask = await tasksRepo.get(h.store.db, app.taskId);
    expect(appTask?.output.join('\n')).toMatch(/Ready\.\nStatus: the content is running\./);
  });

  it('a failing container → failed with its exit code and reason; the job waiting for it is cancelled; the task fails', async () => {
    const c = await h.content('shiny');
    const build = await h.addJob(c, 'build', 'shiny', { annotations: { 'kwok.offhost.dev/outcome': 'fail', 'kwok.offhost.dev/exit-code': '3', 'kwok.offhost.dev/run-time': '1s' } });
    const run = await h.addJob(c, 'run', 'shiny', { after: build.id });
    const failed = await h.waitFor(build.id, (j) => terminal(j.state));
    expect(failed).toMatchObject({ state: 'failed', exit_code: 3, reason: 'Error' });
    const cancelled = await h.waitFor(run.id, (j) => terminal(j.state));
    expect(cancelled.state).toBe('cancelled');
    expect(cancelled.message).toMatch(/the build job \w+ it waits for failed/);
    const task = await tasksRepo.get(h.store.db, c.taskId);
    expect(task).toMatchObject({ finished: true, code: 1 });
    expect(task?.output.join('\n')).toMatch(/Failed: Error \(exit code 3\)/);
    // The job's Kubernetes Events: the Job controller's, the scheduler's and the node's.
    const events = await h.launcher.kubeEvents(failed);
    const reasons = events.map((e) => `${e.object.split('/')[0]}:${e.reason}`);
    expect(reasons).toEqual(expect.arrayContaining(['Job:SuccessfulCreate', 'Pod:Scheduled', 'Pod:Started']));
    expect(events.find((e) => e.reason === 'Scheduled')?.message).toMatch(/Successfully assigned .* to kwok-node-/);
  });

  it('an OOM-killed container → failed, 137, OOMKilled, said as out of memory', async () => {
    const c = await h.content('python-dash');
    const job = await h.addJob(c, 'build', 'python-dash', { annotations: { 'kwok.offhost.dev/outcome': 'oom', 'kwok.offhost.dev/run-time': '1s' } });
    const done = await h.waitFor(job.id, (j) => terminal(j.state));
    expect(done).toMatchObject({ state: 'failed', exit_code: 137, reason: 'OOMKilled' });
    expect((await tasksRepo.get(h.store.db, c.taskId))?.output.join('\n')).toMatch(/out of memory/);
  });

  it('more CPU than any node has → pending with the scheduler’s words', async () => {
    const c = await h.content('rmd-static');
    const tooMuch = biggestCpu + 1;
    const job = await h.addJob(c, 'build', 'rmd-static', { resources: { cpu_request_millicores: tooMuch, cpu_limit_millicores: tooMuch } });
    const waiting = await h.waitFor(job.id, (j) => j.reason === 'Unschedulable');
    expect(waiting.state).toBe('pending');
    expect(waiting.message).toMatch(/0\/\d+ nodes are available: .*Insufficient cpu/);
    expect((await tasksRepo.get(h.store.db, c.taskId))?.output.join('\n')).toMatch(/Waiting for a node: 0\/\d+ nodes are available/);
    await h.launcher.cancel(job.id, 'test');
  });

  it('past its deadline → failed, DeadlineExceeded', async () => {
    const c = await h.content('jupyter-static');
    const job = await h.addJob(c, 'render', 'jupyter-static', { annotations: { 'kwok.offhost.dev/run-time': '120s' } });
    const done = await h.waitFor(job.id, (j) => terminal(j.state), 60_000);
    expect(done).toMatchObject({ state: 'failed', reason: 'DeadlineExceeded' });
    expect(done.message).toMatch(/deadline/i);
  });

  it('cancel deletes every object of the job (Job, pod, Service)', async () => {
    const { core, batch } = kube();
    const c = await h.content('python-streamlit');
    const job = await h.addJob(c, 'run', 'python-streamlit', { annotations: { 'kwok.offhost.dev/run-time': '600s' } });
    await h.waitFor(job.id, (j) => j.state === 'running');
    const sel = `offhost.dev/job-id=${job.id}`;
    expect((await core.listNamespacedService({ namespace: ns.name, labelSelector: sel })).items).toHaveLength(1);
    const cancelled = await h.launcher.cancel(job.id, 'alice');
    expect(cancelled).toMatchObject({ state: 'cancelled', reason: 'Cancelled', message: 'Cancelled by alice.' });
    await eventually(
      async () => {
        const [jobs, pods, svcs] = await Promise.all([
          batch.listNamespacedJob({ namespace: ns.name, labelSelector: sel }),
          core.listNamespacedPod({ namespace: ns.name, labelSelector: sel }),
          core.listNamespacedService({ namespace: ns.name, labelSelector: sel }),
        ]);
        return jobs.items.length + pods.items.length + svcs.items.length === 0;
      },
      { timeoutMs: 60_000, what: 'the Job, pod and Service gone' },
    );
    // Still cancelled: the pod's going did not make it "lost".
    expect((await h.waitFor(job.id, () => true)).state).toBe('cancelled');
  });

  it('never more jobs at once than max_concurrent_jobs; the rest wait queued and all finish', async () => {
    const c = await h.content('python-api');
    h.quotas.max_concurrent_jobs = 2;
    let most = 0;
    const off = h.events.on('jobs.changed', () => {
      void h.store.db
        .selectFrom('jobs')
        .select((eb) => eb.fn.countAll<number | string>().as('n'))
        .where('state', 'in', ['creating', 'pending', 'running'])
        .executeTakeFirstOrThrow()
        .then((r) => (most = Math.max(most, Number(r.n))));
    });
    try {
      const jobs = [];
      for (let i = 0; i < 5; i++) jobs.push(await h.addJob(c, 'build', 'python-api', { annotations: { 'kwok.offhost.dev/run-time': '1s' } }));
      for (const j of jobs) expect((await h.waitFor(j.id, (r) => terminal(r.state))).state).toBe('succeeded');
      expect(most).toBe(2);
      // Each started only after an earlier one had finished, two at a time.
      const rows = await Promise.all(jobs.map((j) => h.waitFor(j.id, () => true)));
      expect(rows[2]!.created_time! >= [rows[0]!, rows[1]!].map((r) => r.finished_time!).sort()[0]!).toBe(true);
    } finally {
      off();
      h.quotas.max_concurrent_jobs = DEFAULT_QUOTAS.max_concurrent_jobs;
    }
  });

  it('service accounts: not allowed → refused by the quotas; allowed but missing → failed in words; allowed and present → mounted', async () => {
    const { core, batch } = kube();
    const c = await h.content('python-gradio');
    const sa = `reader-${backend.name}`;
    const refused = await h.addJob(c, 'build', 'python-gradio', { resources: { service_account_name: sa } });
    expect(await h.waitFor(refused.id, (j) => terminal(j.state))).toMatchObject({ state: 'failed', reason: 'ServiceAccountNotAllowed' });
    h.quotas.service_accounts = { allowed: [sa], default: null };
    try {
      const missing = await h.addJob(c, 'build', 'python-gradio', { resources: { service_account_name: sa } });
      const m = await h.waitFor(missing.id, (j) => terminal(j.state));
      expect(m).toMatchObject({ state: 'failed', reason: 'ServiceAccountMissing' });
      expect(m.message).toBe(`The service account "${sa}" does not exist in namespace ${ns.name}; create it there or change the content's service_account_name.`);
      await core.createNamespacedServiceAccount({ namespace: ns.name, body: { metadata: { name: sa } } });
      const ok = await h.addJob(c, 'build', 'python-gradio', { resources: { service_account_name: sa, cpu_request_millicores: 1, memory_limit_bytes: 40 * 1024 ** 3 } });
      await h.waitFor(ok.id, (j) => j.state !== 'queued' && j.state !== 'creating');
      const pod = (await batch.readNamespacedJob({ name: objectName(ok.id), namespace: ns.name })).spec!.template.spec!;
      expect(pod.serviceAccountName).toBe(sa);
      expect(pod.automountServiceAccountToken).toBe(true);
      // The quotas clamp what the content asked for, and the task says so.
      expect(pod.containers[0]!.resources).toMatchObject({ requests: { cpu: '10m' }, limits: { memory: '32Gi' } });
      expect((await h.waitFor(ok.id, (j) => terminal(j.state))).state).toBe('succeeded');
      expect((await tasksRepo.get(h.store.db, c.taskId))?.output.join('\n')).toMatch(/cpu_request .* is below the minimum; the launch uses/);
    } finally {
      h.quotas.service_accounts = DEFAULT_QUOTAS.service_accounts;
    }
  });

  it('a Job of the same name for another job (another database on this namespace) → failed NameTaken, the other left alone', async () => {
    const { batch } = kube();
    const c = await h.content('python-panel');
    const nextId = Number((await h.store.db.selectFrom('jobs').select((eb) => eb.fn.max('id').as('m')).executeTakeFirstOrThrow()).m) + 1;
    const labels = { 'app.kubernetes.io/managed-by': 'offhost', 'offhost.dev/job-id': String(nextId) };
    await batch.createNamespacedJob({
      namespace: ns.name,
      body: {
        metadata: { name: objectName(nextId), labels, annotations: { 'offhost.dev/job-key': 'someone-else' } },
        spec: {
          backoffLimit: 0,
          template: {
            metadata: { labels, annotations: { 'offhost.dev/job-key': 'someone-else', 'kwok.offhost.dev/run-time': '600s' } },
            spec: {
              restartPolicy: 'Never',
              securityContext: { runAsNonRoot: true, runAsUser: 999, seccompProfile: { type: 'RuntimeDefault' } },
              containers: [{ name: 'main', image: 'registry.invalid/x', securityContext: { allowPrivilegeEscalation: false, capabilities: { drop: ['ALL'] } } }],
            },
          },
        },
      },
    });
    const job = await h.addJob(c, 'build', 'python-panel');
    expect(job.id).toBe(nextId);
    const done = await h.waitFor(job.id, (j) => terminal(j.state));
    expect(done).toMatchObject({ state: 'failed', reason: 'NameTaken' });
    expect(done.message).toMatch(/already has a Job named offhost-job-\d+ for another job \(key someone-else\)\. Is another Offhost installation/);
    const theirs = await batch.readNamespacedJob({ name: objectName(nextId), namespace: ns.name });
    expect(theirs.metadata?.deletionTimestamp).toBeUndefined();
  });

  it('a newer run of the same content, once ready, replaces the older one (cancelled, its objects deleted)', async () => {
    const { batch } = kube();
    const c = await h.content('python-shiny');
    const first = await h.addJob(c, 'run', 'python-shiny', { annotations: { 'kwok.offhost.dev/run-time': '600s' } });
    await h.waitFor(first.id, (j) => j.ready_time !== null);
    const second = await h.addJob(c, 'run', 'python-shiny', { annotations: { 'kwok.offhost.dev/run-time': '600s' } });
    await h.waitFor(second.id, (j) => j.ready_time !== null);
    const old = await h.waitFor(first.id, (j) => terminal(j.state));
    expect(old).toMatchObject({ state: 'cancelled', reason: 'Cancelled' });
    expect(old.message).toBe(`Cancelled by the launcher (replaced by run job ${second.key}, now ready).`);
    expect((await h.waitFor(second.id, () => true)).state).toBe('running');
    await eventually(async () => (await batch.listNamespacedJob({ namespace: ns.name, labelSelector: `offhost.dev/job-id=${first.id}` })).items.length === 0, { timeoutMs: 30_000, what: 'the old Job gone' });
  });

  it('a ResourceQuota that refuses the pod → pending with the Job controller’s words', async () => {
    const { core } = kube();
    await core.createNamespacedResourceQuota({ namespace: ns.name, body: { metadata: { name: 'no-pods' }, spec: { hard: { pods: '0' } } } });
    try {
      const c = await h.content('python-fastapi');
      const job = await h.addJob(c, 'build', 'python-fastapi');
      const waiting = await h.waitFor(job.id, (j) => j.reason === 'FailedCreate', 30_000);
      expect(waiting.state).toBe('pending');
      expect(waiting.message).toMatch(/forbidden: exceeded quota: no-pods/);
      expect((await tasksRepo.get(h.store.db, c.taskId))?.output.join('\n')).toMatch(/Kubernetes cannot create the pod \(FailedCreate\): .*exceeded quota/);
      await h.launcher.cancel(job.id, 'test');
    } finally {
      await core.deleteNamespacedResourceQuota({ name: 'no-pods', namespace: ns.name });
    }
  });

  it('a pod deleted behind its back → lost, with the reason', async () => {
    const { core } = kube();
    const c = await h.content('api');
    const job = await h.addJob(c, 'run', 'api', { annotations: { 'kwok.offhost.dev/run-time': '600s' } });
    await h.waitFor(job.id, (j) => j.state === 'running');
    const pods = await core.listNamespacedPod({ namespace: ns.name, labelSelector: `offhost.dev/job-id=${job.id}` });
    await core.deleteNamespacedPod({ name: pods.items[0]!.metadata!.name!, namespace: ns.name });
    const lost = await h.waitFor(job.id, (j) => terminal(j.state));
    expect(lost).toMatchObject({ state: 'lost', reason: 'PodDeleted' });
    expect(lost.message).toMatch(/deleted before it finished/);
  });

  it('reconciliation: a Job deleted while the launcher was away → lost; our Job without a row → deleted', async () => {
    const { batch } = kube();
    const c = await h.content('python-bokeh');
    const job = await h.addJob(c, 'run', 'python-bokeh', { annotations: { 'kwok.offhost.dev/run-time': '600s' } });
    await h.waitFor(job.id, (j) => j.state === 'running');
    await h.launcher.stop();
    await batch.deleteNamespacedJob({ name: objectName(job.id), namespace: ns.name, propagationPolicy: 'Foreground' });
    // An object of ours that no row knows (as a crashed other installation might leave).
    await batch.createNamespacedJob({
      namespace: ns.name,
      body: {
        metadata: { name: 'offhost-job-999999', labels: { 'app.kubernetes.io/managed-by': 'offhost', 'offhost.dev/job-id': '999999' } },
        spec: {
          backoffLimit: 0,
          template: {
            metadata: { labels: { 'app.kubernetes.io/managed-by': 'offhost', 'offhost.dev/job-id': '999999' } },
            spec: {
              restartPolicy: 'Never',
              securityContext: { runAsNonRoot: true, runAsUser: 999, seccompProfile: { type: 'RuntimeDefault' } },
              containers: [{ name: 'main', image: 'registry.invalid/x', securityContext: { allowPrivilegeEscalation: false, capabilities: { drop: ['ALL'] } } }],
            },
          },
        },
      },
    });
    await eventually(async () => (await batch.listNamespacedJob({ namespace: ns.name, labelSelector: `offhost.dev/job-id=${job.id}` })).items.length === 0, { timeoutMs: 30_000, what: 'Job gone' });
    h.launcher.start();
    const lost = await h.waitFor(job.id, (j) => terminal(j.state));
    expect(lost).toMatchObject({ state: 'lost', reason: 'Vanished' });
    expect(lost.message).toMatch(/is gone from namespace/);
    await eventually(async () => (await batch.listNamespacedJob({ namespace: ns.name, labelSelector: 'offhost.dev/job-id=999999' })).items.length === 0, {
      timeoutMs: 30_000,
      what: 'the row-less Job deleted',
    });
  });
});
