// A job row as the UI contract shows it (shared/jobs.ts JobView): used by jobs.* and processes.*.
import type { JobView } from '../../shared/jobs';
import type { JobRecord } from '../store/jobs-repo';

export function jobView(j: Pick<JobRecord, keyof Omit<JobView, 'bundle_id'> | 'bundle_id'>): JobView {
  return {
    key: j.key,
    kind: j.kind,
    tag: j.tag,
    state: j.state,
    bundle_id: String(j.bundle_id),
    environment_guid: j.environment_guid,
    image: j.image,
    k8s_name: j.k8s_name,
    node_name: j.node_name,
    queued_time: j.queued_time,
    created_time: j.created_time,
    scheduled_time: j.scheduled_time,
    image_pulled_time: j.image_pulled_time,
    started_time: j.started_time,
    ready_time: j.ready_time,
    finished_time: j.finished_time,
    exit_code: j.exit_code,
    reason: j.reason,
    message: j.message,
  };
}
