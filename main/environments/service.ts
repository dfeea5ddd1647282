// Environments: create, read, replace, delete, import/export, the declarative file, selection.
// Every change is validated, written with its audit entry in one transaction, then announced.
import { createHash, randomUUID } from 'node:crypto';
import { isDeepStrictEqual } from 'node:util';
import type { ImportResult } from '../../shared/api';
import { specOf, type Environment, type EnvironmentSpec, type EnvironmentUpdate } from '../../shared/environment';
import { AppError } from '../../shared/errors';
import type { ContentDefaults, Manifest } from '../../shared/manifest';
import { selectEnvironment, type Selection, type SelectionOptions } from '../../shared/selection';
import type { EventBus } from '../events';
import { auditRepo, type NewAuditEntry } from '../store/audit-repo';
import { isUniqueViolation, type Store } from '../store/db';
import { environmentsRepo } from '../store/environments-repo';
import { parseEnvironmentsYamlOffThread, type OffThreadOptions } from './parse-off-thread';
import { environmentsToYaml } from './yaml';

type Db = Store['db'];

export interface ServiceDeps {
  store: Store;
  events: EventBus;
  now?: () => string;
  newGuid?: () => string;
  /** When YAML is parsed off the event loop (tests and the bench change the threshold). */
  yaml?: OffThreadOptions;
}

/** The namespace of the guids the declarative file gives its environments (a fixed random UUID). */
const MANAGED_GUID_NAMESPACE = '7c0f3e52-5d1a-4b8e-9f6a-2e4d8c1b0a93';

/**
 * The guid of the environment the declarative file defines for `image`: a name-based UUID
 * (version 5, RFC 9562), so an image removed from the file and added back gets its old guid, and
 * the same file applied to a fresh database gives the same guids — content that pins an
 * environment by guid keeps working. Needs no state, unlike remembering retired guids.
 */
export function managedGuid(image: string): string {
  const hash = createHash('sha1').update(Buffer.from(MANAGED_GUID_NAMESPACE.replace(/-/g, ''), 'hex')).update(image, 'utf8').digest();
  hash[6] = (hash[6]! & 0x0f) | 0x50;
  hash[8] = (hash[8]! & 0x3f) | 0x80;
  const hex = hash.subarray(0, 16).toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}


export class EnvironmentService {
  private readonly db: Db;
  private readonly events: EventBus;
  private readonly now: () => string;
  private readonly newGuid: () => string;
  private readonly yamlOptions: OffThreadOptions;

  constructor(deps: ServiceDeps) {
    this.db = deps.store.db;
    this.events = deps.events;
    this.now = deps.now ?? (() => new Date().toISOString());
    this.newGuid = deps.newGuid ?? randomUUID;
    this.yamlOptions = deps.yaml ?? {};
  }

  /** Parse (off the event loop when large) and validate environments YAML. */
  parseYaml(text: string) {
    return parseEnvironmentsYamlOffThread(text, this.yamlOptions);
  }

  list(): Promise<Environment[]> {
    return environmentsRepo.list(this.db);
  }

  async get(guid: string): Promise<Environment> {
    const env = await environmentsRepo.get(this.db, guid);
    if (!env) throw notFound(guid);
    return env;
  }

  async create(spec: EnvironmentSpec, actor: string): Promise<Environment> {
    const env = await this.write(async (trx, now) => {
      await assertNameFree(trx, spec.name);
      return this.insertAudited(trx, spec, null, actor, now);
    });
    this.events.emit('environments.changed', { action: 'created', guids: [env.guid] });
    return env;
  }

  /** Full replace of the editable fields; name and cluster_name may be repeated but not changed. */
  async update(guid: string, update: EnvironmentUpdate, actor: string): Promise<Environment> {
    const result = await this.write(async (trx, now) => {
      const before = await environmentsRepo.get(trx, guid);
      if (!before) throw notFound(guid);
      if (before.managed_by) throw configManaged(before);
      const { name, cluster_name, ...fields } = update;
      if (name !== undefined && name !== before.name)
        throw new AppError('ImmutableField', `The image name of an environment cannot be changed (it is ${before.name}). Create a new environment instead.`, 'name');
      if (cluster_name != null && cluster_name !== before.cluster_name)
        throw new AppError('ImmutableField', `cluster_name cannot be changed (it is ${before.cluster_name}).`, 'cluster_name');
      const spec: EnvironmentSpec = { ...fields, name: before.name, cluster_name: before.cluster_name };
      if (isDeepStrictEqual(spec, specOf(before))) return { env: before, changed: false };
      return { env: await this.replaceAudited(trx, before, spec, null, actor, now), changed: true };
    });
    if (result.changed) this.events.emit('environments.changed', { action: 'updated', guids: [guid] });
    return result.env;
  }

  async remove(guid: string, actor: string): Promise<void> {
    await this.write(async (trx, now) => {
      const before = await environmentsRepo.get(trx, guid);
      if (!before) throw notFound(guid);
      if (before.managed_by) throw configManaged(before);
      await environmentsRepo.delete(trx, guid);
      await auditRepo.record(trx, { actor, action: 'environment.delete', targetType: 'environment', targetId: guid, before, time: now });
    });
    this.events.emit('environments.changed', { action: 'deleted', guids: [guid] });
  }

  async exportYaml(): Promise<string> {
    return environmentsToYaml(await this.list());
  }

  /** Create or replace (matched by image name) every environment in the YAML; all or nothing. */
  async importYaml(text: string, actor: string): Promise<ImportResult> {
    const parsed = await this.parseYaml(text);
    const specs = parsed.kind === 'list' ? parsed.specs : [];
    const result = await this.write(async (trx, now) => {
      const out: ImportResult = { created: [], updated: [], unchanged: [] };
      const existing = await environmentsRepo.getByNames(trx, specs.map((s) => s.name));
      const toCreate: EnvironmentSpec[] = [];
      const toReplace: [Environment, EnvironmentSpec][] = [];
      for (const [i, spec] of specs.entries()) {
        const env = existing.get(spec.name);
        if (!env) toCreate.push(spec);
        else if (env.managed_by)
          throw new AppError('EnvironmentIsConfigManaged', `Entry ${i + 1} (${spec.name}) is managed by ${env.managed_by}; change it there instead.`, `[${i}].name`);
        else if (isDeepStrictEqual(spec, specOf(env))) out.unchanged.push(env.guid);
        else toReplace.push([env, spec]);
      }
      out.created = (await this.insertManyAudited(trx, toCreate.map((spec) => ({ guid: this.newGuid(), spec })), null, actor, now)).map((e) => e.guid);
      out.updated = (await this.replaceManyAudited(trx, toReplace, null, actor, now)).map((e) => e.guid);
      return out;
    });
    const guids = [...result.created, ...result.updated];
    if (guids.length) this.events.emit('environments.changed', { action: 'imported', guids });
    return result;
  }

  /**
   * Make the database match the declarative file `source`: its environments are created or
   * replaced and marked managed_by = source; ones it no longer lists are removed. An environment
   * created by hand with the same image is taken over, because the file is the source of truth.
   */
  async syncManaged(source: string, specs: EnvironmentSpec[]): Promise<ImportResult & { removed: string[] }> {
    const actor = `file:${source}`;
    const result = await this.write(async (trx, now) => {
      const out = { created: [] as string[], updated: [] as string[], unchanged: [] as string[], removed: [] as string[] };
      const names = new Set(specs.map((s) => s.name));
      const stale = (await environmentsRepo.listManagedBy(trx, source)).filter((env) => !names.has(env.name));
      await environmentsRepo.deleteMany(trx, stale.map((env) => env.guid));
      await auditRepo.recordMany(
        trx,
        stale.map((env) => ({ actor, action: 'environment.delete', targetType: 'environment', targetId: env.guid, before: env, time: now })),
      );
      out.removed = stale.map((env) => env.guid);
      const existing = await environmentsRepo.getByNames(trx, specs.map((s) => s.name));
      const toCreate: { guid: string; spec: EnvironmentSpec }[] = [];
      const toReplace: [Environment, EnvironmentSpec][] = [];
      for (const spec of specs) {
        const env = existing.get(spec.name);
        if (!env) toCreate.push({ guid: managedGuid(spec.name), spec });
        else if (env.managed_by === source && isDeepStrictEqual(spec, specOf(env))) out.unchanged.push(env.guid);
        else toReplace.push([env, spec]);
      }
      out.created = (await this.insertManyAudited(trx, toCreate, source, actor, now)).map((e) => e.guid);
      out.updated = (await this.replaceManyAudited(trx, toReplace, source, actor, now)).map((e) => e.guid);
      return out;
    });
    const guids = [...result.created, ...result.updated, ...result.removed];
    if (guids.length) this.events.emit('environments.changed', { action: 'synced', guids });
    return result;
  }

  /**
   * Let go of environments managed by a declarative file that is no longer the configured one
   * (`keep`; null when none is configured), so they can be edited and deleted again instead of
   * answering 409 forever. Each release is audited, with an actor that says why.
   */
  async releaseManagedExcept(keep: string | null): Promise<Environment[]> {
    const released = await this.write(async (trx, now) => {
      const envs = await environmentsRepo.listManagedByOthers(trx, keep);
      const out: Environment[] = [];
      const audit: NewAuditEntry[] = [];
      for (const before of envs) {
        const after = await environmentsRepo.setManagedBy(trx, before.guid, null);
        const actor = `system:environments-file-changed (${before.managed_by} is no longer OFFHOST_ENVIRONMENTS_FILE${keep ? `, which is now ${keep}` : ', which is unset'})`;
        audit.push({ actor, action: 'environment.release', targetType: 'environment', targetId: before.guid, before, after, time: now });
        out.push(after);
      }
      await auditRepo.recordMany(trx, audit);
      return out;
    });
    if (released.length) this.events.emit('environments.changed', { action: 'updated', guids: released.map((e) => e.guid) });
    return released;
  }

  async select(manifest: Manifest, content: ContentDefaults, options: SelectionOptions): Promise<Selection> {
    return selectEnvironment(manifest, await this.list(), content, options);
  }

  private async insertAudited(trx: Db, spec: EnvironmentSpec, managedBy: string | null, actor: string, now: string): Promise<Environment> {
    const env = await environmentsRepo.insert(trx, this.newGuid(), spec, managedBy, now);
    await auditRepo.record(trx, { actor, action: 'environment.create', targetType: 'environment', targetId: env.guid, after: env, time: now });
    return env;
  }

  private async insertManyAudited(trx: Db, rows: { guid: string; spec: EnvironmentSpec }[], managedBy: string | null, actor: string, now: string): Promise<Environment[]> {
    const envs = await environmentsRepo.insertMany(trx, rows.map((r) => ({ ...r, managedBy })), now);
    await auditRepo.recordMany(
      trx,
      envs.map((env) => ({ actor, action: 'environment.create', targetType: 'environment', targetId: env.guid, after: env, time: now })),
    );
    return envs;
  }

  private async replaceManyAudited(trx: Db, pairs: [Environment, EnvironmentSpec][], managedBy: string | null, actor: string, now: string): Promise<Environment[]> {
    const after = await environmentsRepo.updateMany(trx, pairs.map(([before, spec]) => ({ guid: before.guid, spec, managedBy })), now);
    await auditRepo.recordMany(
      trx,
      pairs.map(([before], i) => ({ actor, action: 'environment.update', targetType: 'environment', targetId: before.guid, before, after: after[i], time: now })),
    );
    return after;
  }

  private async replaceAudited(trx: Db, before: Environment, spec: EnvironmentSpec, managedBy: string | null, actor: string, now: string): Promise<Environment> {
    const after = await environmentsRepo.update(trx, before.guid, spec, managedBy, now);
    await auditRepo.record(trx, { actor, action: 'environment.update', targetType: 'environment', targetId: before.guid, before, after, time: now });
    return after;
  }

  private async write<T>(fn: (trx: Db, now: string) => Promise<T>): Promise<T> {
    try {
      return await this.db.transaction().execute((trx) => fn(trx, this.now()));
    } catch (e) {
      // Two writers raced past the name check; the unique index caught the second.
      if (isUniqueViolation(e)) throw new AppError('DuplicateEnvironmentName', 'An environment with this image name already exists.', 'name');
      throw e;
    }
  }
}

async function assertNameFree(db: Db, name: string): Promise<void> {
  const clash = await environmentsRepo.getByName(db, name);
  if (clash) throw new AppError('DuplicateEnvironmentName', `An environment for image ${name} already exists ("${clash.title}").`, 'name');
}

function notFound(guid: string): AppError {
  return new AppError('NotFound', `There is no environment with guid ${guid}.`, 'guid');
}

function configManaged(env: Environment): AppError {
  return new AppError('EnvironmentIsConfigManaged', `"${env.title}" is managed by ${env.managed_by} and can only be changed there.`);
}
