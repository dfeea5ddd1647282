// Content and job rows for the metrics tests and benchmarks, written in bulk (a deploy would
// write the same rows one by one): `count` jobs over a few content items, in a given state.
import { randomUUID } from 'node:crypto';
import { DEFAULT_SETTINGS, type JobState } from '../../shared/content';
import { contentRepo } from '../../main/store/content-repo';
import type { Store } from '../../main/store/db';
import type { JobResources } from '../../main/store/jobs-repo';

export const SEED_RESOURCES: JobResources = {
  cpu_request_millicores: 500,
  cpu_limit_millicores: 1000,
  memory_request_bytes: 256 * 2 ** 20,
  memory_limit_bytes: 512 * 2 ** 20,
  service_account_name: null,
  init_timeout: null,
  idle_timeout: null,
};

export interface SeededJob {
  id: number;
  key: string;
  guid: string;
}

export async function seedContent(store: Store, name = `m-${randomUUID().slice(0, 8)}`): Promise<{ id: number; guid: string; name: string }> {
  const guid = randomUUID();
  const c = await contentRepo.insert(store.db, guid, { name, title: `Title of ${name}`, description: '', access_type: 'acl', locked: false, locked_message: '', owner_guid: null, settings: DEFAULT_SETTINGS }, new Date().toISOString());
  return { id: c.id, guid, name };
}

/** `count` jobs of one content item, in `state`, inserted 500 rows at a time. */
export async function seedJobs(
  store: Store,
  content: { id: number; guid: string },
  count: number,
  o: { state?: JobState; resources?: Partial<JobResources>; finished_time?: string | null; reason?: string | null; message?: string | null; node?: string } = {},
): Promise<SeededJob[]> {
  const now = new Date().toISOString();
  const state = o.state ?? 'running';
  const out: SeededJob[] = [];
  for (let i = 0; i < count; i += 500) {
    const rows = Array.from({ length: Math.min(500, count - i) }, () => ({
      key: `k${randomUUID().replace(/-/g, '').slice(0, 16)}`,
      content_id: content.id,
      bundle_id: 1,
      task_id: null,
      kind: 'run',
      tag: 'run_app',
      state,
      after_job_id: null,
      environment_guid: randomUUID(),
      image: 'registry.invalid/offhost/runner:test',
      resources: JSON.stringify({ ...SEED_RESOURCES, ...o.resources }),
      k8s_namespace: 'offhost',
      k8s_name: null,
      queued_time: now,
      created_time: now,
      scheduled_time: now,
      image_pulled_time: now,
      started_time: state === 'queued' ? null : now,
      ready_time: null,
      finished_time: o.finished_time ?? null,
      exit_code: null,
      reason: o.reason ?? null,
      message: o.message ?? null,
      updated_time: now,
      node_name: o.node ?? 'node-0',
    }));
    const inserted = await store.db.insertInto('jobs').values(rows).returning(['id', 'key']).execute();
    for (const r of inserted) out.push({ id: r.id, key: r.key, guid: content.guid });
  }
  return out;
}

/** A PodMetrics item as metrics-server returns it for a job's pod. */
export function podMetrics(job: SeededJob, cpu: string, memory: string, timestamp: string) {
  return {
    metadata: {
      name: `offhost-job-${job.id}-x7k2p`,
      namespace: 'offhost',
      creationTimestamp: timestamp,
      labels: {
        'app.kubernetes.io/managed-by': 'offhost',
        'app.kubernetes.io/name': 'offhost-job',
        'batch.kubernetes.io/job-name': `offhost-job-${job.id}`,
        'offhost.dev/job-id': String(job.id),
        'offhost.dev/content-guid': job.guid,
        'offhost.dev/kind': 'run',
      },
    },
    timestamp,
    window: '10.5s',
    containers: [{ name: 'main', usage: { cpu, memory } }],
  };
}
