// A job killed for memory, on its page (JobDetail) behind a desktop bridge that answers with fixed
// data: the shapes of shared/api.ts, as the core gives them for such a job. See job-detail.test.ts.
import { createRoot } from 'react-dom/client';
import type { JobView } from '../../../shared/jobs';
import type { JobMetrics, MetricsStatus } from '../../../shared/processes';
import '../../../renderer/src/styles.css';

const GUID = '3f9a6c1e-0b7d-4e52-9a3c-2d1f0e8b7a65';
const KEY = 'oomJob123';
const MiB = 1024 * 1024;
const t = (s: number) => new Date(Date.parse('2026-12-06T06:00:00Z') + s * 1000).toISOString();
const status: MetricsStatus = {
  state: 'ok', available: true, error: null, last_sample_time: t(120), last_cycle_time: t(125), pods: 1, matched: 1,
  interval_seconds: 15, raw_retention_seconds: 3600, retention_seconds: 604800,
};
const job: JobView = {
  key: KEY, kind: 'render', tag: 'report', bundle_id: '4', environment_guid: 'e', image: 'ghcr.io/org/py311:1', k8s_name: 'offhost-job-7',
  queued_time: t(0), state: 'failed', created_time: t(1), scheduled_time: t(2), image_pulled_time: t(9), started_time: t(10), ready_time: null,
  finished_time: t(140), exit_code: 137, reason: 'OOMKilled', message: 'The container was killed for using more than its memory limit (512Mi).', node_name: 'node-2',
};
// Memory climbs to the limit; the kill comes after the last sample.
const samples = Array.from({ length: 9 }, (_, i) => ({ t: t(15 + i * 15), cpu_millicores: 300 + ((i * 97) % 400), memory_bytes: (120 + i * 48) * MiB, resolution: 'raw' as const }));
const metrics: JobMetrics = {
  id: 7, key: KEY, content_guid: GUID, state: 'failed',
  resources: { cpu_request_millicores: 500, cpu_limit_millicores: 1000, memory_request_bytes: 256 * MiB, memory_limit_bytes: 512 * MiB },
  samples, oom: { t: t(140), message: job.message }, metrics: status,
};
const answers: Record<string, unknown> = {
  'jobs.get': job,
  'jobs.metrics': metrics,
  'content.get': { content: { title: 'Quarterly report', name: 'quarterly-report' } },
  'jobs.log': { lines: ['Rendering quarterly.qmd', 'Loading 2.1 GB of sales data…', 'Killed'], truncated: false, source: 'store' },
  'jobs.events': [
    { time: t(1), type: 'Normal', reason: 'SuccessfulCreate', message: 'Created pod: offhost-job-7-x2k9d', object: 'Job/offhost-job-7' },
    { time: t(2), type: 'Normal', reason: 'Scheduled', message: 'Successfully assigned offhost/offhost-job-7-x2k9d to node-2', object: 'Pod/offhost-job-7-x2k9d' },
    { time: t(140), type: 'Warning', reason: 'OOMKilling', message: 'Memory cgroup out of memory: Killed process 42 (python3)', object: 'Pod/offhost-job-7-x2k9d' },
  ],
};
window.offhost = {
  call: async (method: string) => (method in answers ? { result: answers[method] } : { error: { code: 'NotFound', message: `no ${method} here` } }),
  subscribe: () => () => undefined,
};
// After the bridge is in place: transport.ts reads it when first imported.
void import('../../../renderer/src/processes/JobDetail').then(({ JobDetail }) => createRoot(document.getElementById('root')!).render(<JobDetail guid={GUID} jobKey={KEY} />));
