// A deploy: pick the environment for a bundle (the same selection the Environments page shows,
// with the content's defaults), record what was chosen on the content, and queue the launcher's
// jobs — a build (package restore), then a render for documents or a run for apps and APIs.
// The launcher does not exist yet, so the task ends at "queued", unfinished; the launcher issue
// picks the jobs up and finishes the task.
import { randomBytes } from 'node:crypto';
import { isRendered, jobTag, type AppMode } from '../../shared/content';
import type { Environment } from '../../shared/environment';
import type { Manifest } from '../../shared/manifest';
import { selectEnvironment, type Selection } from '../../shared/selection';
import type { EventBus } from '../events';
import { auditRepo } from '../store/audit-repo';
import type { BundleRecord } from '../store/bundles-repo';
import { NO_RUNTIMES, contentRepo, type ContentRecord, type Runtimes } from '../store/content-repo';
import type { Store } from '../store/db';
import { environmentPermissionsRepo, type EnvironmentPermission } from '../store/environment-permissions-repo';
import { jobsRepo, type JobRecord, type JobResources } from '../store/jobs-repo';
import type { UserRecord } from '../users/users';
import { usersRepo } from '../users/users';
import type { TaskService } from './tasks';

type Db = Store['db'];

export type DeployKind = 'deploy' | 'build' | 'rebuild';

export interface DeployDeps {
  store: Store;
  events: EventBus;
  tasks: TaskService;
  listEnvironments: () => Promise<Environment[]>;
  now: () => string;
}

/** The line a deploy's task ends on once its jobs are queued (the launcher takes it from there). */
export const QUEUED_LINE = 'Status: queued.';

export function newJobKey(): string {
  return randomBytes(12).toString('base64url');
}

/** Environments a user may use: those without permissions, those listing the user; all for admins. */
export function usableEnvironments(envs: Environment[], permissions: EnvironmentPermission[], user: UserRecord | undefined): Environment[] {
  if (user?.user_role === 'admin') return envs;
  const byEnv = new Map<string, EnvironmentPermission[]>();
  for (const p of permissions) byEnv.set(p.environment_guid, [...(byEnv.get(p.environment_guid) ?? []), p]);
  return envs.filter((e) => {
    const entries = byEnv.get(e.guid);
    return !entries || entries.some((p) => user !== undefined && p.user_guid === user.guid);
  });
}

/** The runtime versions the chosen environment provides for what the bundle needs. */
export function runtimesOf(selection: Extract<Selection, { ok: true }>): Runtimes {
  const out: Runtimes = { ...NO_RUNTIMES };
  for (const m of selection.matches) {
    if (m.language === 'r') out.r_version = m.installation.version;
    if (m.language === 'python') out.py_version = m.installation.version;
    if (m.language === 'quarto') out.quarto_version = m.installation.version;
    if (m.language === 'nodejs') out.node_version = m.installation.version;
  }
  return out;
}

/** The content's settings as a job's resources (recorded on the job when it is queued). */
export function resourcesOf(c: ContentRecord): JobResources {
  const s = c.settings;
  const milli = (cores: number | null) => (cores === null ? null : Math.round(cores * 1000));
  return {
    cpu_request_millicores: milli(s.cpu_request),
    cpu_limit_millicores: milli(s.cpu_limit),
    memory_request_bytes: s.memory_request,
    memory_limit_bytes: s.memory_limit,
    service_account_name: s.service_account_name,
    init_timeout: s.init_timeout,
    idle_timeout: s.idle_timeout,
  };
}

export class Deployer {
  constructor(private readonly deps: DeployDeps) {}

  /**
   * The work behind a deploy task, run after the client has its task id. Every outcome ends up
   * in the task: a selection failure finishes it with code 1 and the selector's own words.
   */
  async run(taskId: string, content: ContentRecord, bundle: BundleRecord, activate: boolean, kind: DeployKind, actor: string): Promise<void> {
    const { store, tasks } = this.deps;
    const manifest = bundle.manifest as Manifest;
    if (bundle.app_mode === 'static') return this.runStatic(taskId, content, bundle, activate, kind, actor);
    const owner = content.owner_guid ? await usersRepo.byGuid(store.db, content.owner_guid) : undefined;
    const all = await this.deps.listEnvironments();
    const envs = usableEnvironments(all, await environmentPermissionsRepo.all(store.db), owner);
    const defaults = { default_environment_guid: content.settings.default_environment_guid, default_image_name: content.settings.default_image_name };
    const selection = selectEnvironment(manifest, envs, defaults);
    if (!selection.ok) {
      const message = permissionHint(selection, manifest, defaults, all, envs, owner) ?? selection.message;
      await tasks.append(taskId, [`Cannot choose an environment: ${message}`], { code: 1, error: message });
      return;
    }
    const env = selection.environment;
    if (kind === 'rebuild' && env.guid === content.environment_guid) {
      await tasks.append(taskId, [`The environment is still ${env.title} (${env.name}); nothing to rebuild.`], { code: 0, error: '' });
      return;
    }
    const lines = [`Environment: ${env.title} (${env.name}), guid ${env.guid}.`, ...selection.reasons];
    const jobs = await store.db.transaction().execute(async (trx) => {
      const now = this.deps.now();
      const current = await contentRepo.get(trx, content.guid);
      if (!current) return undefined; // deleted meanwhile
      const cancelled = await jobsRepo.cancelQueued(trx, current.id, `Superseded by task ${taskId}.`, now);
      if (cancelled) lines.push(`Cancelled ${cancelled} queued job${cancelled === 1 ? '' : 's'} of an earlier deploy.`);
      const queued = await this.queueJobs(trx, current, bundle, env, taskId, activate, now);
      if (activate) {
        await contentRepo.recordDeploy(
          trx,
          current.guid,
          {
            bundle_id: bundle.id,
            app_mode: bundle.app_mode,
            content_category: contentCategory(bundle.manifest),
            parameterized: parameterized(bundle.manifest),
            environment_guid: env.guid,
            image_name: env.name,
            runtimes: runtimesOf(selection),
            last_deployed_time: now,
          },
          now,
        );
      }
      await auditRepo.record(trx, {
        actor,
        action: `content.${kind}`,
        targetType: 'content',
        targetId: current.guid,
        before: { bundle_id: current.bundle_id, environment_guid: current.environment_guid, image_name: current.image_name },
        after: { bundle_id: activate ? bundle.id : current.bundle_id, task_id: taskId, environment_guid: env.guid, image_name: env.name, jobs: queued.map((j) => j.key) },
        time: now,
      });
      return queued;
    });
    if (!jobs) {
      await tasks.append(taskId, ['The content was deleted before its deploy started.'], { code: 1, error: 'The content was deleted.' });
      return;
    }
    for (const j of jobs)
      lines.push(`Queued ${j.kind} job ${j.key} (${j.tag})${j.after_job_id !== null ? ', to start after the build succeeds' : ''}.`);
    if (!activate) lines.push('Draft: the bundle is built but not activated.');
    lines.push(`${QUEUED_LINE} The jobs wait for the launcher to start them.`);
    await tasks.append(taskId, lines);
    this.deps.events.emit('content.changed', { action: 'deployed', guids: [content.guid] });
  }

  /**
   * Static HTML runs in no environment and needs no process: the deploy is recorded and the task
   * finishes at once. (Serving it is the content server's work; until then /content/{guid}/ says so.)
   */
  private async runStatic(taskId: string, content: ContentRecord, bundle: BundleRecord, activate: boolean, kind: DeployKind, actor: string): Promise<void> {
    const { store, tasks } = this.deps;
    const done = await store.db.transaction().execute(async (trx) => {
      const now = this.deps.now();
      const current = await contentRepo.get(trx, content.guid);
      if (!current) return false;
      await jobsRepo.cancelQueued(trx, current.id, `Superseded by task ${taskId}.`, now);
      if (activate)
        await contentRepo.recordDeploy(
          trx,
          current.guid,
          {
            bundle_id: bundle.id,
            app_mode: 'static',
            content_category: contentCategory(bundle.manifest),
            parameterized: false,
            environment_guid: null,
            image_name: null,
            runtimes: NO_RUNTIMES,
            last_deployed_time: now,
          },
          now,
        );
      await auditRepo.record(trx, {
        actor,
        action: `content.${kind}`,
        targetType: 'content',
        targetId: current.guid,
        before: { bundle_id: current.bundle_id },
        after: { bundle_id: activate ? bundle.id : current.bundle_id, task_id: taskId },
        time: now,
      });
      return true;
    });
    if (!done) {
      await tasks.append(taskId, ['The content was deleted before its deploy started.'], { code: 1, error: 'The content was deleted.' });
      return;
    }
    await tasks.append(taskId, [`Static HTML needs no environment and no process${activate ? '; bundle ' + bundle.id + ' is now the active one' : ' (draft: not activated)'}.`], { code: 0, error: '' });
    this.deps.events.emit('content.changed', { action: 'deployed', guids: [content.guid] });
  }

  private async queueJobs(trx: Db, c: ContentRecord, bundle: BundleRecord, env: Environment, taskId: string, activate: boolean, now: string): Promise<JobRecord[]> {
    const base = { content_id: c.id, bundle_id: bundle.id, task_id: taskId, environment_guid: env.guid, image: env.name, resources: resourcesOf(c) };
    const mode: AppMode = bundle.app_mode;
    const build = await jobsRepo.insertQueued(trx, { ...base, key: newJobKey(), kind: 'build', tag: jobTag('build', mode), after_job_id: null }, now);
    // A draft is only built; activating it later queues the run.
    if (!activate) return [build];
    const kind = isRendered(mode) ? 'render' : 'run';
    const next = await jobsRepo.insertQueued(trx, { ...base, key: newJobKey(), kind, tag: jobTag(kind, mode), after_job_id: build.id }, now);
    return [build, next];
  }
}

function contentCategory(manifest: Record<string, unknown>): string {
  const c = (manifest.metadata as Record<string, unknown> | undefined)?.content_category;
  return typeof c === 'string' ? c : '';
}

function parameterized(manifest: Record<string, unknown>): boolean {
  return (manifest.metadata as Record<string, unknown> | undefined)?.has_parameters === true;
}

/**
 * When the environment a bundle or its content names exists but the owner may not use it, say
 * so: the selector only saw the usable ones, and would call it missing.
 */
function permissionHint(
  selection: Extract<Selection, { ok: false }>,
  manifest: Manifest,
  defaults: { default_environment_guid: string | null; default_image_name: string | null },
  all: Environment[],
  usable: Environment[],
  owner: UserRecord | undefined,
): string | undefined {
  const named =
    selection.step === 'manifest-identifier' ? manifest.environment?.identifier : selection.step === 'content-environment' ? defaults.default_environment_guid : undefined;
  const hidden = named ? all.find((e) => e.guid === named && !usable.includes(e)) : undefined;
  if (!hidden) return undefined;
  const who = owner ? `${owner.username}, who owns this content,` : 'this content has no owner and';
  return `${selection.step === 'manifest-identifier' ? 'The manifest (environment.identifier)' : "The content's default environment"} names "${hidden.title}" (${hidden.name}), but ${who} may not use it: its permissions list other users or groups. An admin can add a permission (rsconnect environment edit ${hidden.guid} --allow-user <user guid>).`;
}
