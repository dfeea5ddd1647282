// Content: create, read, change, delete; bundles (upload, list, download, delete); environment
// variables; deploys and their tasks. Every change is checked for the caller's right to make it,
// validated, written with its audit entry in one transaction, then announced.
import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import type { Readable } from 'node:stream';
import { isDeepStrictEqual } from 'node:util';
import { roleAllows, type Role } from '../../shared/api';
import {
  DEFAULT_SETTINGS,
  SETTING_KEYS,
  checkSettingsShape,
  type ContentChanges,
  type ContentSettings,
} from '../../shared/content';
import type { Environment } from '../../shared/environment';
import { AppError } from '../../shared/errors';
import type { EventBus } from '../events';
import type { Logger } from '../log';
import { auditRepo } from '../store/audit-repo';
import { bundlesRepo, type BundleRecord } from '../store/bundles-repo';
import { contentRepo, type ContentRecord, type ContentWritable } from '../store/content-repo';
import { isUniqueViolation, type Store } from '../store/db';
import { jobsRepo, type JobRecord } from '../store/jobs-repo';
import { tasksRepo, type TaskRecord } from '../store/tasks-repo';
import { usersRepo, type UserRecord } from '../users/users';
import { DEFAULT_ARCHIVE_LIMITS, inspectBundle } from './bundle-archive';
import { BundleStore, type Incoming } from './bundle-store';
import { Deployer, QUEUED_LINE, type DeployKind } from './deploy';
import { TaskService, newTaskId } from './tasks';

type Db = Store['db'];

export interface Caller {
  actor: string;
  role: Role;
  user?: UserRecord;
}

/**
 * Where quota bounds are applied to content settings (issue 8 part 5 plugs its validator in
 * here). Called with the settings a write would leave, after their own shape was checked; throws
 * an AppError naming the field that is out of bounds.
 */
export type CheckSettings = (settings: ContentSettings, context: { content: ContentRecord | null; caller: Caller }) => void | Promise<void>;

export interface ContentServiceDeps {
  store: Store;
  events: EventBus;
  log: Logger;
  dataDir: string;
  listEnvironments: () => Promise<Environment[]>;
  limits: { maxBytes: number; maxExpandedBytes: number };
  checkSettings?: CheckSettings;
  now?: () => string;
}

export class ContentService {
  readonly bundles: BundleStore;
  readonly tasks: TaskService;
  private readonly db: Db;
  private readonly now: () => string;
  private readonly deployer: Deployer;
  /** Deploys running after their task id was answered; close() waits for them. */
  private readonly running = new Set<Promise<void>>();

  constructor(private readonly deps: ContentServiceDeps) {
    this.db = deps.store.db;
    this.now = deps.now ?? (() => new Date().toISOString());
    this.bundles = new BundleStore(deps.dataDir);
    this.tasks = new TaskService(this.db, this.now);
    this.deployer = new Deployer({ store: deps.store, events: deps.events, tasks: this.tasks, listEnvironments: deps.listEnvironments, now: this.now });
  }

  // --- content -------------------------------------------------------------------------------

  list(filter: { name?: string; owner_guid?: string } = {}): Promise<ContentRecord[]> {
    return contentRepo.list(this.db, filter);
  }

  async get(guid: string): Promise<ContentRecord> {
    const c = await contentRepo.get(this.db, guid);
    if (!c) throw notFound(guid);
    return c;
  }

  async create(changes: ContentChanges, caller: Caller): Promise<ContentRecord> {
    need(caller, 'publisher', 'create content');
    if (changes.owner_guid !== undefined && changes.owner_guid !== caller.user?.guid && caller.role !== 'admin')
      throw new AppError('Forbidden', 'Only an admin may create content for another owner.', 'owner_guid');
    const owner = changes.owner_guid ?? caller.user?.guid ?? null;
    const fields = applyChanges(
      { name: '', title: null, description: '', access_type: 'acl', locked: false, locked_message: '', owner_guid: owner, settings: { ...DEFAULT_SETTINGS } },
      changes,
    );
    await this.checkSettings(fields.settings, null, caller);
    const created = await this.write(async (trx, now) => {
      if (owner !== null && !(await usersRepo.byGuid(trx, owner))) throw new AppError('NotFound', `There is no user with guid ${owner}.`, 'owner_guid');
      await assertNameFree(trx, owner, fields.name, null);
      const c = await contentRepo.insert(trx, randomUUID(), fields, now);
      await auditRepo.record(trx, { actor: caller.actor, action: 'content.create', targetType: 'content', targetId: c.guid, after: c, time: now });
      return c;
    });
    this.deps.events.emit('content.changed', { action: 'created', guids: [created.guid] });
    return created;
  }

  /** PATCH: only the named fields change. Changing where deployed content runs queues a rebuild. */
  async update(guid: string, changes: ContentChanges, caller: Caller): Promise<ContentRecord> {
    const before = await this.get(guid);
    this.assertCanWrite(before, caller);
    if (changes.owner_guid !== undefined && changes.owner_guid !== before.owner_guid && caller.role !== 'admin')
      throw new AppError('Forbidden', 'Only an admin may give content to another owner.', 'owner_guid');
    const fields = applyChanges(before, changes);
    await this.checkSettings(fields.settings, before, caller);
    const result = await this.write(async (trx, now) => {
      const current = await contentRepo.get(trx, guid);
      if (!current) throw notFound(guid);
      if (fields.owner_guid !== current.owner_guid && fields.owner_guid !== null && !(await usersRepo.byGuid(trx, fields.owner_guid)))
        throw new AppError('NotFound', `There is no user with guid ${fields.owner_guid}.`, 'owner_guid');
      if (fields.name !== current.name || fields.owner_guid !== current.owner_guid) await assertNameFree(trx, fields.owner_guid, fields.name, current.id);
      if (isDeepStrictEqual(fields, writableOf(current))) return { content: current, changed: false };
      const after = await contentRepo.update(trx, guid, fields, now);
      await auditRepo.record(trx, { actor: caller.actor, action: 'content.update', targetType: 'content', targetId: guid, before: current, after, time: now });
      return { content: after, changed: true };
    });
    if (!result.changed) return result.content;
    this.deps.events.emit('content.changed', { action: 'updated', guids: [guid] });
    const moved =
      result.content.settings.default_environment_guid !== before.settings.default_environment_guid ||
      result.content.settings.default_image_name !== before.settings.default_image_name;
    if (moved && result.content.bundle_id !== null) await this.startDeploy(result.content, result.content.bundle_id, true, 'rebuild', caller);
    return result.content;
  }

  async remove(guid: string, caller: Caller): Promise<void> {
    const before = await this.get(guid);
    this.assertCanWrite(before, caller);
    const hashes = await this.write(async (trx, now) => {
      const current = await contentRepo.get(trx, guid);
      if (!current) throw notFound(guid);
      const hashes = await bundlesRepo.hashesOf(trx, current.id);
      await contentRepo.delete(trx, current.id);
      await auditRepo.record(trx, { actor: caller.actor, action: 'content.delete', targetType: 'content', targetId: guid, before: current, time: now });
      return hashes;
    });
    for (const h of hashes) await this.removeArchiveIfUnused(h);
    this.deps.events.emit('content.changed', { action: 'deleted', guids: [guid] });
  }

  /** Whether this caller may change this content: its owner (a publisher) or an admin. */
  canWrite(c: ContentRecord, caller: Caller): boolean {
    if (caller.role === 'admin') return true;
    return roleAllows(caller.role, 'publisher') && caller.user !== undefined && caller.user.guid === c.owner_guid;
  }

  assertCanWrite(c: ContentRecord, caller: Caller): void {
    if (!this.canWrite(c, caller))
      throw new AppError('Forbidden', `Only the owner of "${c.name}" or an admin may do this; ${caller.user ? `you are ${caller.user.username}` : 'your credentials have no user'} (${caller.role}).`);
  }

  // --- environment variables ------------------------------------------------------------------

  async envVarNames(guid: string, caller: Caller): Promise<string[]> {
    const c = await this.get(guid);
    this.assertCanWrite(c, caller);
    return contentRepo.envVarNames(this.db, c.id);
  }

  async setEnvVars(guid: string, vars: { name: string; value: string | null }[], replaceAll: boolean, caller: Caller): Promise<string[]> {
    const c = await this.get(guid);
    this.assertCanWrite(c, caller);
    return this.write(async (trx, now) => {
      await contentRepo.setEnvVars(trx, c.id, vars, replaceAll);
      // Names only: values may be secrets.
      await auditRepo.record(trx, {
        actor: caller.actor,
        action: 'content.environment',
        targetType: 'content',
        targetId: guid,
        after: { set: vars.filter((v) => v.value !== null).map((v) => v.name), removed: vars.filter((v) => v.value === null).map((v) => v.name), replaceAll },
        time: now,
      });
      return contentRepo.envVarNames(trx, c.id);
    });
  }

  // --- bundles --------------------------------------------------------------------------------

  /**
   * Receive, validate and store a bundle. Validation reads the whole archive before anything is
   * kept: a refused upload leaves no row and no file.
   */
  async uploadBundle(guid: string, source: Readable, metadata: Record<string, unknown>, caller: Caller): Promise<BundleRecord> {
    return this.storeBundle(guid, await this.receiveBundle(guid, source, caller), metadata, caller);
  }

  /** Stream an upload to a temporary file (after checking the caller may upload here). */
  async receiveBundle(guid: string, source: Readable, caller: Caller): Promise<Incoming> {
    this.assertCanWrite(await this.get(guid), caller);
    return this.bundles.receive(source, this.deps.limits.maxBytes);
  }

  /** Validate a received upload; keep it (file and row) only if it passes. */
  async storeBundle(guid: string, incoming: Incoming, metadata: Record<string, unknown>, caller: Caller): Promise<BundleRecord> {
    let inspected;
    try {
      inspected = await inspectBundle(incoming.file, { ...DEFAULT_ARCHIVE_LIMITS, maxExpandedBytes: this.deps.limits.maxExpandedBytes });
    } catch (e) {
      await this.bundles.discard(incoming);
      throw e;
    }
    await this.bundles.commit(incoming);
    try {
      const bundle = await this.write(async (trx, now) => {
        const current = await contentRepo.get(trx, guid);
        if (!current) throw notFound(guid);
        const b = await bundlesRepo.insert(trx, {
          content_id: current.id,
          sha256: incoming.sha256,
          size: incoming.size,
          app_mode: inspected.appMode,
          manifest: inspected.manifest,
          metadata,
          created_by: caller.actor,
          created_time: now,
        });
        await auditRepo.record(trx, {
          actor: caller.actor,
          action: 'bundle.create',
          targetType: 'content',
          targetId: guid,
          after: { bundle_id: b.id, sha256: b.sha256, size: b.size, app_mode: b.app_mode },
          time: now,
        });
        return b;
      });
      this.deps.events.emit('content.changed', { action: 'updated', guids: [guid] });
      return bundle;
    } catch (e) {
      await this.removeArchiveIfUnused(incoming.sha256);
      throw e;
    }
  }

  async listBundles(guid: string, caller: Caller): Promise<{ content: ContentRecord; bundles: BundleRecord[] }> {
    const c = await this.get(guid);
    this.assertCanWrite(c, caller);
    return { content: c, bundles: await bundlesRepo.list(this.db, c.id) };
  }

  async getBundle(guid: string, id: number, caller: Caller): Promise<{ content: ContentRecord; bundle: BundleRecord }> {
    const c = await this.get(guid);
    this.assertCanWrite(c, caller);
    const b = await bundlesRepo.get(this.db, c.id, id);
    if (!b) throw new AppError('NotFound', `Content ${guid} has no bundle ${id}.`, 'bundle_id');
    return { content: c, bundle: b };
  }

  async openBundle(guid: string, id: number, caller: Caller): Promise<{ bundle: BundleRecord; stream: fs.ReadStream }> {
    const { bundle } = await this.getBundle(guid, id, caller);
    const file = this.bundles.pathOf(bundle.sha256);
    if (!fs.existsSync(file)) throw new AppError('Internal', `The archive of bundle ${id} is missing from ${this.bundles.root}.`);
    return { bundle, stream: fs.createReadStream(file) };
  }

  async deleteBundle(guid: string, id: number, caller: Caller): Promise<void> {
    const { content, bundle } = await this.getBundle(guid, id, caller);
    if (content.bundle_id === id) throw new AppError('Conflict', `Bundle ${id} is the active bundle of "${content.name}"; deploy another bundle first.`, 'bundle_id');
    await this.write(async (trx, now) => {
      await bundlesRepo.delete(trx, id);
      await auditRepo.record(trx, { actor: caller.actor, action: 'bundle.delete', targetType: 'content', targetId: guid, before: { bundle_id: id, sha256: bundle.sha256 }, time: now });
    });
    await this.removeArchiveIfUnused(bundle.sha256);
    this.deps.events.emit('content.changed', { action: 'updated', guids: [guid] });
  }

  private async removeArchiveIfUnused(sha256: string): Promise<void> {
    if (!(await bundlesRepo.hashInUse(this.db, sha256))) await this.bundles.remove(sha256);
  }

  // --- deploys, tasks, jobs -------------------------------------------------------------------

  /**
   * Deploy a bundle (null: the newest). Answers with the task at once; choosing the environment
   * and queueing the jobs happen after, and are reported in the task's output.
   */
  async deploy(guid: string, bundleId: number | null, activate: boolean, caller: Caller, kind: DeployKind = 'deploy'): Promise<TaskRecord> {
    const c = await this.get(guid);
    this.assertCanWrite(c, caller);
    return this.startDeploy(c, bundleId, activate, kind, caller);
  }

  private async startDeploy(c: ContentRecord, bundleId: number | null, activate: boolean, kind: DeployKind, caller: Caller): Promise<TaskRecord> {
    const bundle = bundleId === null ? await bundlesRepo.latest(this.db, c.id) : await bundlesRepo.get(this.db, c.id, bundleId);
    if (!bundle)
      throw bundleId === null
        ? new AppError('NotFound', `"${c.name}" has no bundles yet; upload one first.`, 'bundle_id')
        : new AppError('NotFound', `Content ${c.guid} has no bundle ${bundleId}.`, 'bundle_id');
    const verb = kind === 'rebuild' ? 'Rebuilding' : kind === 'build' ? 'Building' : activate ? 'Deploying' : 'Deploying (draft)';
    const rollback = kind === 'deploy' && activate && c.bundle_id !== null && bundle.id < c.bundle_id;
    const task = await this.deps.store.db.transaction().execute((trx) =>
      this.tasks.create(trx, {
        id: newTaskId(),
        kind,
        content_id: c.id,
        bundle_id: bundle.id,
        activate,
        actor: caller.actor,
        output: [
          `${verb} bundle ${bundle.id} (${bundle.app_mode}) of "${c.name}"${rollback ? `, rolling back from bundle ${c.bundle_id}` : ''}${kind === 'rebuild' ? ': its default environment or image changed' : ''}.`,
        ],
      }),
    );
    const work = this.deployer
      .run(task.id, c, bundle, activate, kind, caller.actor)
      .catch(async (err: Error) => {
        this.deps.log.error({ err: { message: err.message, stack: err.stack }, task: task.id }, 'deploy failed');
        await this.tasks.append(task.id, [`Internal error: ${err.message}`], { code: 1, error: `Internal error: ${err.message}` }).catch(() => {});
      })
      .finally(() => this.running.delete(work));
    this.running.add(work);
    return task;
  }

  /** Deploys and builds of one content item, newest first. */
  async history(guid: string, caller: Caller): Promise<TaskRecord[]> {
    const c = await this.get(guid);
    this.assertCanWrite(c, caller);
    return tasksRepo.listForContent(this.db, c.id);
  }

  async task(id: string, first: number, wait: number, caller: Caller) {
    const t = await this.tasks.get(id);
    if (t.content_id !== null) {
      const c = await contentRepo.getById(this.db, t.content_id);
      if (c) this.assertCanWrite(c, caller);
    }
    return this.tasks.poll(id, first, wait);
  }

  async jobs(guid: string, caller: Caller): Promise<{ content: ContentRecord; jobs: JobRecord[] }> {
    const c = await this.get(guid);
    this.assertCanWrite(c, caller);
    return { content: c, jobs: await jobsRepo.listForContent(this.db, c.id) };
  }

  async job(guid: string, key: string, caller: Caller): Promise<{ content: ContentRecord; job: JobRecord }> {
    const c = await this.get(guid);
    this.assertCanWrite(c, caller);
    const job = await jobsRepo.getByKey(this.db, c.id, key);
    if (!job) throw new AppError('NotFound', `Content ${guid} has no job ${JSON.stringify(key)}.`, 'key');
    return { content: c, job };
  }

  /**
   * Finish the deploys a stopped server left half-done: a task that never got as far as queueing
   * its jobs would otherwise wait forever. Tasks whose jobs are queued stay open (the launcher
   * finishes them); recent ones are left alone, since another instance may be running them.
   */
  async recoverInterrupted(olderThanMs = 60_000): Promise<string[]> {
    const before = new Date(Date.parse(this.now()) - olderThanMs).toISOString();
    const stuck = (await tasksRepo.unfinishedBefore(this.db, before)).filter((t) => !t.output.some((line) => line.startsWith(QUEUED_LINE)));
    for (const t of stuck)
      await this.tasks.append(t.id, ['The server stopped before this deploy finished choosing an environment; deploy again.'], {
        code: 1,
        error: 'Interrupted by a server restart; deploy again.',
      });
    return stuck.map((t) => t.id);
  }

  /** Wait for deploys still running (at shutdown, so none writes to a closed store). */
  async close(): Promise<void> {
    await Promise.allSettled([...this.running]);
  }

  private async checkSettings(settings: ContentSettings, content: ContentRecord | null, caller: Caller): Promise<void> {
    checkSettingsShape(settings);
    await this.deps.checkSettings?.(settings, { content, caller });
  }

  private async write<T>(fn: (trx: Db, now: string) => Promise<T>): Promise<T> {
    try {
      return await this.db.transaction().execute((trx) => fn(trx, this.now()));
    } catch (e) {
      // The one unique index a content write can hit (guids are random): the owner's name.
      if (isUniqueViolation(e)) throw new AppError('DuplicateContentName', 'This owner already has content with this name (it was created at the same moment); choose another name.', 'name');
      throw e;
    }
  }
}

function need(caller: Caller, role: Role, what: string): void {
  if (!roleAllows(caller.role, role)) throw new AppError('Forbidden', `To ${what} you need the ${role} role; you have ${caller.role}.`);
}

function notFound(guid: string): AppError {
  return new AppError('NotFound', `There is no content with guid ${guid}.`, 'guid');
}

function writableOf(c: ContentRecord): ContentWritable {
  const { name, title, description, access_type, locked, locked_message, owner_guid, settings } = c;
  return { name, title, description, access_type, locked, locked_message, owner_guid, settings };
}

function applyChanges(base: ContentWritable, changes: ContentChanges): ContentWritable {
  const out: ContentWritable = { ...writableOf(base as ContentRecord), settings: { ...base.settings } };
  for (const [k, v] of Object.entries(changes)) {
    if ((SETTING_KEYS as readonly string[]).includes(k)) (out.settings as unknown as Record<string, unknown>)[k] = v;
    else (out as unknown as Record<string, unknown>)[k] = v;
  }
  return out;
}

async function assertNameFree(db: Db, owner: string | null, name: string, exceptId: number | null): Promise<void> {
  const clash = await contentRepo.byOwnerAndName(db, owner, name);
  if (clash && clash.id !== exceptId)
    throw new AppError('DuplicateContentName', `There is already content named "${name}" for this owner (guid ${clash.guid}); names are unique per owner.`, 'name');
}
