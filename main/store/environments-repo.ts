// Environments in and out of the database, as domain objects.
import type { Kysely } from 'kysely';
import { CLUSTER_NAME, LANGUAGES, type Environment, type EnvironmentSpec, type Installations, type Language } from '../../shared/environment';
import type { Database, EnvironmentRow } from './schema';

type Db = Kysely<Database>;

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

  async listManagedBy(db: Db, source: string): Promise<Environment[]> {
    const rows = await db.selectFrom('environments').selectAll().where('managed_by', '=', source).execute();
    return rows.map(toEnvironment);
  },

  async insert(db: Db, guid: string, spec: EnvironmentSpec, managedBy: string | null, now: string): Promise<Environment> {
    await db
      .insertInto('environments')
      .values({ guid, ...specColumns(spec), managed_by: managedBy, created_time: now, updated_time: now })
      .execute();
    return (await this.get(db, guid))!;
  },

  async update(db: Db, guid: string, spec: EnvironmentSpec, managedBy: string | null, now: string): Promise<Environment> {
    await db
      .updateTable('environments')
      .set({ ...specColumns(spec), managed_by: managedBy, updated_time: now })
      .where('guid', '=', guid)
      .execute();
    return (await this.get(db, guid))!;
  },

  async delete(db: Db, guid: string): Promise<void> {
    await db.deleteFrom('environments').where('guid', '=', guid).execute();
  },
};
