// Who may use an environment (Connect's environment permissions). None listed: every publisher.
import type { Kysely, Selectable } from 'kysely';
import type { Database, EnvironmentPermissionsTable } from './schema';

type Db = Kysely<Database>;

/** As Connect's API returns it. */
export interface EnvironmentPermission {
  id: string;
  guid: string;
  environment_guid: string;
  user_guid: string | null;
  group_guid: string | null;
}

function toPermission(row: Selectable<EnvironmentPermissionsTable>): EnvironmentPermission {
  return { id: String(row.id), guid: row.guid, environment_guid: row.environment_guid, user_guid: row.user_guid, group_guid: row.group_guid };
}

export const environmentPermissionsRepo = {
  async list(db: Db, environmentGuid: string): Promise<EnvironmentPermission[]> {
    return (await db.selectFrom('environment_permissions').selectAll().where('environment_guid', '=', environmentGuid).orderBy('id').execute()).map(toPermission);
  },

  async all(db: Db): Promise<EnvironmentPermission[]> {
    return (await db.selectFrom('environment_permissions').selectAll().orderBy('id').execute()).map(toPermission);
  },

  async get(db: Db, environmentGuid: string, guid: string): Promise<EnvironmentPermission | undefined> {
    const row = await db.selectFrom('environment_permissions').selectAll().where('environment_guid', '=', environmentGuid).where('guid', '=', guid).executeTakeFirst();
    return row && toPermission(row);
  },

  async insert(db: Db, p: Omit<EnvironmentPermission, 'id'>, now: string): Promise<EnvironmentPermission> {
    const row = await db.insertInto('environment_permissions').values({ ...p, created_time: now }).returningAll().executeTakeFirstOrThrow();
    return toPermission(row);
  },

  async delete(db: Db, guid: string): Promise<void> {
    await db.deleteFrom('environment_permissions').where('guid', '=', guid).execute();
  },
};
