// Content rows in and out of the database, as domain objects (the API shape adds URLs and the
// caller's role; see main/content/present.ts).
import type { Kysely, Selectable } from 'kysely';
import { DEFAULT_SETTINGS, type AccessType, type AppMode, type ContentSettings } from '../../shared/content';
import type { ContentTable, Database } from './schema';

type Db = Kysely<Database>;

export interface Runtimes {
  r_version: string | null;
  py_version: string | null;
  quarto_version: string | null;
  node_version: string | null;
}
export const NO_RUNTIMES: Runtimes = { r_version: null, py_version: null, quarto_version: null, node_version: null };

export interface ContentRecord {
  id: number;
  guid: string;
  name: string;
  title: string | null;
  description: string;
  access_type: AccessType;
  locked: boolean;
  locked_message: string;
  owner_guid: string | null;
  settings: ContentSettings;
  app_mode: AppMode;
  content_category: string;
  parameterized: boolean;
  bundle_id: number | null;
  environment_guid: string | null;
  image_name: string | null;
  runtimes: Runtimes;
  created_time: string;
  updated_time: string;
  last_deployed_time: string | null;
}

function toRecord(row: Selectable<ContentTable>): ContentRecord {
  return {
    id: row.id,
    guid: row.guid,
    name: row.name,
    title: row.title,
    description: row.description,
    access_type: row.access_type as AccessType,
    locked: row.locked !== 0,
    locked_message: row.locked_message,
    owner_guid: row.owner_guid,
    settings: { ...DEFAULT_SETTINGS, ...(JSON.parse(row.settings) as Partial<ContentSettings>) },
    app_mode: row.app_mode as AppMode,
    content_category: row.content_category,
    parameterized: row.parameterized !== 0,
    bundle_id: row.bundle_id,
    environment_guid: row.environment_guid,
    image_name: row.image_name,
    runtimes: { ...NO_RUNTIMES, ...(JSON.parse(row.runtimes) as Partial<Runtimes>) },
    created_time: row.created_time,
    updated_time: row.updated_time,
    last_deployed_time: row.last_deployed_time,
  };
}

/** The columns a person's writes change. */
export type ContentWritable = Pick<ContentRecord, 'name' | 'title' | 'description' | 'access_type' | 'locked' | 'locked_message' | 'owner_guid' | 'settings'>;

/** What a deploy records on the content. */
export interface DeployedState {
  bundle_id: number | null;
  app_mode: AppMode;
  content_category: string;
  parameterized: boolean;
  /** Null for static content, which runs nowhere. */
  environment_guid: string | null;
  image_name: string | null;
  runtimes: Runtimes;
  last_deployed_time: string;
}

function writableColumns(c: ContentWritable) {
  return {
    name: c.name,
    title: c.title,
    description: c.description,
    access_type: c.access_type,
    locked: c.locked ? 1 : 0,
    locked_message: c.locked_message,
    owner_guid: c.owner_guid,
    settings: JSON.stringify(c.settings),
  };
}

export const contentRepo = {
  async list(db: Db, filter: { name?: string; owner_guid?: string } = {}): Promise<ContentRecord[]> {
    let q = db.selectFrom('content').selectAll();
    if (filter.name !== undefined) q = q.where('name', '=', filter.name);
    if (filter.owner_guid !== undefined) q = q.where('owner_guid', '=', filter.owner_guid);
    return (await q.orderBy('id').execute()).map(toRecord);
  },

  async get(db: Db, guid: string): Promise<ContentRecord | undefined> {
    const row = await db.selectFrom('content').selectAll().where('guid', '=', guid).executeTakeFirst();
    return row && toRecord(row);
  },

  async getById(db: Db, id: number): Promise<ContentRecord | undefined> {
    const row = await db.selectFrom('content').selectAll().where('id', '=', id).executeTakeFirst();
    return row && toRecord(row);
  },

  /** Content with this name and owner (names are unique per owner, as in Connect). */
  async byOwnerAndName(db: Db, owner: string | null, name: string): Promise<ContentRecord | undefined> {
    let q = db.selectFrom('content').selectAll().where('name', '=', name);
    q = owner === null ? q.where('owner_guid', 'is', null) : q.where('owner_guid', '=', owner);
    const row = await q.executeTakeFirst();
    return row && toRecord(row);
  },

  async count(db: Db): Promise<number> {
    const r = await db.selectFrom('content').select((eb) => eb.fn.countAll<number | string>().as('n')).executeTakeFirstOrThrow();
    return Number(r.n);
  },

  async insert(db: Db, guid: string, c: ContentWritable, now: string): Promise<ContentRecord> {
    const row = await db
      .insertInto('content')
      .values({ guid, ...writableColumns(c), app_mode: 'unknown', content_category: '', parameterized: 0, runtimes: '{}', created_time: now, updated_time: now })
      .returningAll()
      .executeTakeFirstOrThrow();
    return toRecord(row);
  },

  async update(db: Db, guid: string, c: ContentWritable, now: string): Promise<ContentRecord> {
    const row = await db.updateTable('content').set({ ...writableColumns(c), updated_time: now }).where('guid', '=', guid).returningAll().executeTakeFirstOrThrow();
    return toRecord(row);
  },

  async recordDeploy(db: Db, guid: string, d: DeployedState, now: string): Promise<ContentRecord> {
    const row = await db
      .updateTable('content')
      .set({
        bundle_id: d.bundle_id,
        app_mode: d.app_mode,
        content_category: d.content_category,
        parameterized: d.parameterized ? 1 : 0,
        environment_guid: d.environment_guid,
        image_name: d.image_name,
        runtimes: JSON.stringify(d.runtimes),
        last_deployed_time: d.last_deployed_time,
        updated_time: now,
      })
      .where('guid', '=', guid)
      .returningAll()
      .executeTakeFirstOrThrow();
    return toRecord(row);
  },

  async delete(db: Db, id: number): Promise<void> {
    // Children first: PostgreSQL cascades by itself, but SQLite only with foreign_keys on, and an
    // explicit order keeps both the same.
    await db.deleteFrom('jobs').where('content_id', '=', id).execute();
    await db.deleteFrom('tasks').where('content_id', '=', id).execute();
    await db.deleteFrom('bundles').where('content_id', '=', id).execute();
    await db.deleteFrom('content_env_vars').where('content_id', '=', id).execute();
    await db.deleteFrom('content').where('id', '=', id).execute();
  },

  // Environment variables: names are listed, values never leave the server.
  async envVarNames(db: Db, contentId: number): Promise<string[]> {
    const rows = await db.selectFrom('content_env_vars').select('name').where('content_id', '=', contentId).orderBy('name').execute();
    return rows.map((r) => r.name);
  },

  async setEnvVars(db: Db, contentId: number, vars: { name: string; value: string | null }[], replaceAll: boolean): Promise<void> {
    if (replaceAll) await db.deleteFrom('content_env_vars').where('content_id', '=', contentId).execute();
    for (const v of vars) {
      await db.deleteFrom('content_env_vars').where('content_id', '=', contentId).where('name', '=', v.name).execute();
      if (v.value !== null) await db.insertInto('content_env_vars').values({ content_id: contentId, name: v.name, value: v.value }).execute();
    }
  },
};
