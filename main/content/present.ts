// Domain records in the shapes Connect's v1 API returns (field names, string ids, URLs).
import type { Bundle, Content } from '../../shared/content';
import type { BundleRecord } from '../store/bundles-repo';
import type { ContentRecord } from '../store/content-repo';
import type { JobRecord } from '../store/jobs-repo';
import type { UserRecord } from '../users/users';
import type { Caller } from './service';

export function contentUrls(base: string, guid: string): { content_url: string; dashboard_url: string } {
  return { content_url: `${base}content/${guid}/`, dashboard_url: `${base}#/content/${guid}` };
}

export function presentContent(
  c: ContentRecord,
  caller: Caller,
  base: string,
  include: { owner?: UserRecord | null; tags?: boolean; vanity_url?: boolean } = {},
): Content {
  const role: Content['app_role'] =
    caller.user && caller.user.guid === c.owner_guid ? 'owner' : caller.role === 'admin' ? 'editor' : caller.role === 'viewer' ? 'viewer' : 'viewer';
  const out: Content = {
    guid: c.guid,
    id: String(c.id),
    name: c.name,
    title: c.title,
    description: c.description,
    access_type: c.access_type,
    locked: c.locked,
    locked_message: c.locked_message,
    ...c.settings,
    owner_guid: c.owner_guid,
    created_time: c.created_time,
    last_deployed_time: c.last_deployed_time,
    bundle_id: c.bundle_id === null ? null : String(c.bundle_id),
    app_mode: c.app_mode,
    content_category: c.content_category,
    parameterized: c.parameterized,
    cluster_name: c.image_name ? 'Kubernetes' : null,
    image_name: c.image_name,
    environment_guid: c.environment_guid,
    ...c.runtimes,
    r_environment_management: c.runtimes.r_version ? true : null,
    py_environment_management: c.runtimes.py_version ? true : null,
    ...contentUrls(base, c.guid),
    app_role: role,
    extension: false,
  };
  if (include.owner !== undefined)
    out.owner = include.owner && { guid: include.owner.guid, username: include.owner.username, first_name: include.owner.first_name, last_name: include.owner.last_name };
  if (include.tags) out.tags = [];
  if (include.vanity_url) out.vanity_url = null;
  return out;
}

export function presentBundle(b: BundleRecord, contentGuid: string, activeId: number | null): Bundle {
  const m = b.manifest as { platform?: string; python?: { version?: string }; quarto?: { version?: string } };
  const meta = b.metadata as Record<string, unknown>;
  return {
    id: String(b.id),
    content_guid: contentGuid,
    created_time: b.created_time,
    size: b.size,
    active: b.id === activeId,
    r_version: m.platform ?? null,
    py_version: m.python?.version ?? null,
    quarto_version: m.quarto?.version ?? null,
    metadata: {
      source: meta.source ?? null,
      source_repo: meta.source_repo ?? null,
      source_branch: meta.source_branch ?? null,
      source_commit: meta.source_commit ?? null,
      archive_md5: null,
      archive_sha1: null,
    },
    sha256: b.sha256,
    app_mode: b.app_mode,
  };
}

/** A job as posit-sdk reads it (`status`: 0 active, 1 finished). */
export function presentJob(j: JobRecord, contentId: number) {
  const finished = ['succeeded', 'failed', 'cancelled', 'lost'].includes(j.state);
  return {
    id: String(j.id),
    ppid: null,
    pid: null,
    key: j.key,
    remote_id: j.k8s_name,
    app_id: String(contentId),
    variant_id: null,
    bundle_id: String(j.bundle_id),
    start_time: j.started_time,
    end_time: j.finished_time,
    last_heartbeat_time: null,
    queued_time: j.queued_time,
    status: finished ? 1 : 0,
    exit_code: j.exit_code,
    hostname: j.node_name,
    cluster: 'Kubernetes',
    image: j.image,
    run_as: null,
    queue_name: null,
    tag: j.tag,
    // Offhost's own: the launcher's state, kind and ordering.
    state: j.state,
    reason: j.reason,
    message: j.message,
    kind: j.kind,
    environment_guid: j.environment_guid,
  };
}
