// Environments: create, read, replace, delete, import/export, the declarative file, selection.
// Every change is validated, written with its audit entry in one transaction, then announced.
import { randomUUID } from 'node:crypto';
import { isDeepStrictEqual } from 'node:util';
import type { ImportResult } from '../../shared/api';
import { specOf, type Environment, type EnvironmentSpec, type EnvironmentUpdate } from '../../shared/environment';
import { AppError } from '../../shared/errors';
import type { ContentDefaults, Manifest } from '../../shared/manifest';
import { selectEnvironment, type Selection, type SelectionOptions } from '../../shared/selection';
import type { EventBus } from '../events';
import { auditRepo } from '../store/audit-repo';
import { isUniqueViolation, type Store } from '../store/db';
import { environmentsRepo } from '../store/environments-repo';
import { environmentsFromYaml, environmentsToYaml } from './yaml';

type Db = Store['db'];

export interface ServiceDeps {
  store: Store;
  events: EventBus;
  now?: () => string;
  newGuid?: () => string;
}

export class EnvironmentService {
  private readonly db: Db;
  private readonly events: EventBus;
  private readonly now: () => string;
  private readonly newGuid: () => string;

  constructor(deps: ServiceDeps) {
    this.db = deps.store.db;
    this.events = deps.events;
    this.now = deps.now ?? (() => new Date().toISOString());
    this.newGuid = deps.newGuid ?? randomUUID;
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
    const specs = environmentsFromYaml(text);
    const result = await this.write(async (trx, now) => {
      const out: ImportResult = { created: [], updated: [], unchanged: [] };
      for (const [i, spec] of specs.entries()) {
        const existing = await environmentsRepo.getByName(trx, spec.name);
        if (!existing) {
          out.created.push((await this.insertAudited(trx, spec, null, actor, now)).guid);
        } else if (existing.managed_by) {
          throw new AppError(
            'EnvironmentIsConfigManaged',
            `Entry ${i + 1} (${spec.name}) is managed by ${existing.managed_by}; change it there instead.`,
            `[${i}].name`,
          );
        } else if (isDeepStrictEqual(spec, specOf(existing))) {
          out.unchanged.push(existing.guid);
        } else {
          out.updated.push((await this.replaceAudited(trx, existing, spec, null, actor, now)).guid);
        }
      }
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
      for (const stale of await environmentsRepo.listManagedBy(trx, source)) {
        if (names.has(stale.name)) continue;
        await environmentsRepo.delete(trx, stale.guid);
        await auditRepo.record(trx, { actor, action: 'environment.delete', targetType: 'environment', targetId: stale.guid, before: stale, time: now });
        out.removed.push(stale.guid);
      }
      for (const spec of specs) {
        const existing = await environmentsRepo.getByName(trx, spec.name);
        if (!existing) {
          out.created.push((await this.insertAudited(trx, spec, source, actor, now)).guid);
        } else if (existing.managed_by === source && isDeepStrictEqual(spec, specOf(existing))) {
          out.unchanged.push(existing.guid);
        } else {
          out.updated.push((await this.replaceAudited(trx, existing, spec, source, actor, now)).guid);
        }
      }
      return out;
    });
    const guids = [...result.created, ...result.updated, ...result.removed];
    if (guids.length) this.events.emit('environments.changed', { action: 'synced', guids });
    return result;
  }

  async select(manifest: Manifest, content: ContentDefaults, options: SelectionOptions): Promise<Selection> {
    return selectEnvironment(manifest, await this.list(), content, options);
  }

  private async insertAudited(trx: Db, spec: EnvironmentSpec, managedBy: string | null, actor: string, now: string): Promise<Environment> {
    const env = await environmentsRepo.insert(trx, this.newGuid(), spec, managedBy, now);
    await auditRepo.record(trx, { actor, action: 'environment.create', targetType: 'environment', targetId: env.guid, after: env, time: now });
    return env;
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
