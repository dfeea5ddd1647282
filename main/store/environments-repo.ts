// Environments in and out of the database, as domain objects.
import type { Kysely } from 'kysely';
import { CLUSTER_NAME, LANGUAGES, type Environment, type EnvironmentSpec, type Installations, type Language } from '../../shared/environment';
import type { Database, EnvironmentRow } from './schema';

type Db = Kysely<Database>;

/**
 * Rows per statement in the batch operations: well under SQLite's 32,766 bound parameters (11 columns a
 * row) and PostgreSQL's 65,535, and small enough that one statement takes a few milliseconds.
 */
export const BATCH_ROWS = 100;

/**
 * Between batches, let other callbacks run: better-sqlite3 is synchronous, so without this a
 * thousand-row import inside one transaction would hold the event loop (and /healthz) throughout.
 */
export const yieldToEventLoop = () => new Promise<void>((resolve) => setImmediate(resolve));

async function inBatches<T, R>(items: readonly T[], fn: (batch: T[]) => Promise<R[]>): Promise<R[]> {
  const out: R[] = [];
  for (let i = 0; i < items.length; i += BATCH_ROWS) {
    if (i > 0) await yieldToEventLoop();
    out.push(...(await fn(items.slice(i, i + BATCH_ROWS))));
  }
  return out;
}

function toEnvironment(row: EnvironmentRow): Environment {
  const inst = JSON.parse(row.installations) as Partial<Record<Language, Installations['installations']>>;
  const env: Environment = {
    id: String(row.id),
    guid: row.guid,
    name: row.name,
    title: row.title,
    description: row.description,
    cluster_name: CLUSTER_NAME,
    environment_type: CLUSTER_NAME,
    matching: row.matching as Environment['matching'],
    supervisor: row.supervisor,
    r: { installations: [] },
    python: { installations: [] },
    quarto: { installations: [] },
    tensorflow: { installations: [] },
    nodejs: { installations: [] },
    volume_mounts: JSON.parse(row.volume_mounts),
    managed_by: row.managed_by,
    created_time: row.created_time,
    updated_time: row.updated_time,
  };
  for (const lang of LANGUAGES) env[lang] = { installations: inst[lang] ?? [] };
  return env;
}

function specColumns(spec: EnvironmentSpec) {
  const installations = Object.fromEntries(LANGUAGES.map((l) => [l, spec[l].installations]));
  return {
    name: spec.name,
    title: spec.title,
    description: spec.description,
    matching: spec.matching,
    supervisor: spec.supervisor,
    installations: JSON.stringify(installations),
    volume_mounts: JSON.stringify(spec.volume_mounts),
  };
}

export const environmentsRepo = {
  async list(db: Db): Promise<Environment[]> {
    const rows = await db.selectFrom('environments').selectAll().orderBy('title').orderBy('id').execute();
    return rows.map(toEnvironment);
  },

  async get(db: Db, guid: string): Promise<Environment | undefined> {
    const row = await db.selectFrom('environments').selectAll().where('guid', '=', guid).executeTakeFirst();
    return row && toEnvironment(row);
  },

  async getByName(db: Db, name: string): Promise<Environment | undefined> {
    const row = await db.selectFrom('environments').selectAll().where('name', '=', name).executeTakeFirst();
    return row && toEnvironment(row);
  },

  /** The environments with these image names, by name (one query per BATCH_ROWS names). */
  async getByNames(db: Db, names: readonly string[]): Promise<Map<string, Environment>> {
    const rows = await inBatches(names, (batch) => db.selectFrom('environments').selectAll().where('name', 'in', batch).execute());
    return new Map(rows.map((r) => [r.name, toEnvironment(r)]));
  },

  async listManagedBy(db: Db, source: string): Promise<Environment[]> {
    const rows = await db.selectFrom('environments').selectAll().where('managed_by', '=', source).execute();
    return rows.map(toEnvironment);
  },

  /** Environments managed by any declarative file other than `keep` (all managed ones if null). */
  async listManagedByOthers(db: Db, keep: string | null): Promise<Environment[]> {
    let q = db.selectFrom('environments').selectAll().where('managed_by', 'is not', null);
    if (keep !== null) q = q.where('managed_by', '!=', keep);
    return (await q.orderBy('id').execute()).map(toEnvironment);
  },

  async insert(db: Db, guid: string, spec: EnvironmentSpec, managedBy: string | null, now: string): Promise<Environment> {
    const [env] = await this.insertMany(db, [{ guid, spec, managedBy }], now);
    return env!;
  },

  /** Multi-row inserts, BATCH_ROWS at a time; returns the new environments in input order. */
  async insertMany(db: Db, rows: readonly { guid: string; spec: EnvironmentSpec; managedBy: string | null }[], now: string): Promise<Environment[]> {
    const inserted = await inBatches(rows, (batch) =>
      db
        .insertInto('environments')
        .values(batch.map(({ guid, spec, managedBy }) => ({ guid, ...specColumns(spec), managed_by: managedBy, created_time: now, updated_time: now })))
        .returningAll()
        .execute(),
    );
    const byGuid = new Map(inserted.map((r) => [r.guid, toEnvironment(r)]));
    return rows.map((r) => byGuid.get(r.guid)!);
  },

  async update(db: Db, guid: string, spec: EnvironmentSpec, managedBy: string | null, now: string): Promise<Environment> {
    const row = await db
      .updateTable('environments')
      .set({ ...specColumns(spec), managed_by: managedBy, updated_time: now })
      .where('guid', '=', guid)
      .returningAll()
      .executeTakeFirstOrThrow();
    return toEnvironment(row);
  },

  /**
   * Replace the editable fields of many existing environments, BATCH_ROWS a statement: a
   * multi-row INSERT … ON CONFLICT (guid) DO UPDATE, which both SQLite and PostgreSQL run as an
   * update of each row (id and created_time stay). One statement instead of one round trip each.
   * Every guid must exist; returns the environments in input order.
   */
  async updateMany(db: Db, rows: readonly { guid: string; spec: EnvironmentSpec; managedBy: string | null }[], now: string): Promise<Environment[]> {
    const updated = await inBatches(rows, (batch) =>
      db
        .insertInto('environments')
        .values(batch.map(({ guid, spec, managedBy }) => ({ guid, ...specColumns(spec), managed_by: managedBy, created_time: now, updated_time: now })))
        .onConflict((oc) =>
          oc.column('guid').doUpdateSet((eb) => ({
            title: eb.ref('excluded.title'),
            description: eb.ref('excluded.description'),
            matching: eb.ref('excluded.matching'),
            supervisor: eb.ref('excluded.supervisor'),
            installations: eb.ref('excluded.installations'),
            volume_mounts: eb.ref('excluded.volume_mounts'),
            managed_by: eb.ref('excluded.managed_by'),
            updated_time: eb.ref('excluded.updated_time'),
          })),
        )
        .returningAll()
        .execute(),
    );
    const byGuid = new Map(updated.map((r) => [r.guid, toEnvironment(r)]));
    return rows.map((r) => byGuid.get(r.guid)!);
  },

  /** Only managed_by changes (a file lets go of an environment); updated_time stays. */
  async setManagedBy(db: Db, guid: string, managedBy: string | null): Promise<Environment> {
    const row = await db.updateTable('environments').set({ managed_by: managedBy }).where('guid', '=', guid).returningAll().executeTakeFirstOrThrow();
    return toEnvironment(row);
  },

  async delete(db: Db, guid: string): Promise<void> {
    await db.deleteFrom('environments').where('guid', '=', guid).execute();
  },

  async deleteMany(db: Db, guids: readonly string[]): Promise<void> {
    await inBatches(guids, async (batch) => {
      await db.deleteFrom('environments').where('guid', 'in', batch).execute();
      return [];
    });
  },
};
