// Small named values kept in the database (shared by every instance that uses it).
import type { Kysely } from 'kysely';
import type { Database } from './schema';

export const settingsRepo = {
  async get(db: Kysely<Database>, key: string): Promise<string | undefined> {
    const row = await db.selectFrom('settings').select('value').where('key', '=', key).executeTakeFirst();
    return row?.value;
  },

  /** Store `value` under `key`, replacing what was there. */
  async set(db: Kysely<Database>, key: string, value: string): Promise<void> {
    await db
      .insertInto('settings')
      .values({ key, value })
      .onConflict((oc) => oc.column('key').doUpdateSet({ value }))
      .execute();
  },

  /** Store `value` unless the key exists; return what is stored either way (safe under races). */
  async getOrInit(db: Kysely<Database>, key: string, value: string): Promise<string> {
    await db
      .insertInto('settings')
      .values({ key, value })
      .onConflict((oc) => oc.column('key').doNothing())
      .execute();
    return (await this.get(db, key))!;
  },
};
