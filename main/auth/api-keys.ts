// API keys for scripts: random, shown once, stored as a SHA-256 hash (they carry 256 bits of
// entropy, so a slow password hash would add nothing but latency to every request).
import { createHash, randomBytes } from 'node:crypto';
import type { Kysely } from 'kysely';
import { ROLES, type Role } from '../../shared/api';
import type { Database } from '../store/schema';
import { toUser, usernameFrom, usersRepo, type UserRecord } from '../users/users';

const KEY_PREFIX = 'ohk_';
/** created_by of the key OFFHOST_BOOTSTRAP_ADMIN_KEY provides. */
export const BOOTSTRAP_ACTOR = 'system:bootstrap';

export interface ApiKeyInfo {
  id: number;
  name: string;
  prefix: string;
  role: Role;
  createdBy: string;
  createdTime: string;
  lastUsedTime: string | null;
  /** The user the key acts for (null only for a key whose user was removed). */
  user: UserRecord | null;
}

function hashKey(key: string): string {
  return createHash('sha256').update(key).digest('hex');
}

export function isRole(value: unknown): value is Role {
  return typeof value === 'string' && (ROLES as readonly string[]).includes(value);
}

export class ApiKeys {
  /** Last use per key id, written in batches by flush(): authentication never writes. */
  private readonly used = new Map<number, string>();

  constructor(private readonly db: Kysely<Database>, private readonly now = () => new Date()) {}

  /**
   * A new key for `options.user` (default: a username made from the key's name), creating that
   * user with `role` when it does not exist yet. The key's role is its user's role.
   */
  async create(name: string, role: Role, createdBy: string, options: { user?: string } = {}): Promise<{ key: string; info: ApiKeyInfo }> {
    if (!name.trim()) throw new Error('An API key needs a name.');
    if (!isRole(role)) throw new Error(`Role must be one of ${ROLES.join(', ')}.`);
    const key = KEY_PREFIX + randomBytes(32).toString('base64url');
    const created = this.now().toISOString();
    return this.db.transaction().execute(async (trx) => {
      const user = await usersRepo.ensure(trx, options.user ?? usernameFrom(name.trim()), role, created);
      const row = await trx
        .insertInto('api_keys')
        .values({ name: name.trim(), prefix: key.slice(0, 10), key_hash: hashKey(key), role, created_by: createdBy, created_time: created, user_id: user.id })
        .returning('id')
        .executeTakeFirstOrThrow();
      return { key, info: { id: row.id, name: name.trim(), prefix: key.slice(0, 10), role, createdBy, createdTime: created, lastUsedTime: null, user } };
    });
  }

  /**
   * Make sure `key` (from OFFHOST_BOOTSTRAP_ADMIN_KEY, e.g. a Kubernetes Secret) is an admin key of
   * user "admin". A changed value (a rotated Secret) replaces the previous bootstrap key. Safe when
   * several instances start at once: the hash is unique, so a racing insert is a no-op.
   * Returns whether anything changed.
   */
  async ensureBootstrap(key: string): Promise<boolean> {
    if (!key.startsWith(KEY_PREFIX) || key.length > 200) throw new Error(`A bootstrap key must start with ${KEY_PREFIX} and be at most 200 characters.`);
    const hash = hashKey(key);
    const created = this.now().toISOString();
    return this.db.transaction().execute(async (trx) => {
      const stale = await trx.deleteFrom('api_keys').where('created_by', '=', BOOTSTRAP_ACTOR).where('key_hash', '!=', hash).executeTakeFirst();
      const existing = await trx.selectFrom('api_keys').select('id').where('key_hash', '=', hash).executeTakeFirst();
      if (existing) return Number(stale.numDeletedRows) > 0;
      const user = await usersRepo.ensure(trx, 'admin', 'admin', created);
      const r = await trx
        .insertInto('api_keys')
        .values({ name: 'bootstrap', prefix: key.slice(0, 10), key_hash: hash, role: 'admin', created_by: BOOTSTRAP_ACTOR, created_time: created, user_id: user.id })
        .onConflict((oc) => oc.column('key_hash').doNothing())
        .executeTakeFirst();
      return Number(stale.numDeletedRows) > 0 || Number(r.numInsertedOrUpdatedRows ?? 0) > 0;
    });
  }

  /** The key's owner and role, if it is a key; one read, no write. */
  async verify(key: string): Promise<ApiKeyInfo | undefined> {
    if (!key.startsWith(KEY_PREFIX) || key.length > 200) return undefined;
    const row = await this.db.selectFrom('api_keys').selectAll().where('key_hash', '=', hashKey(key)).executeTakeFirst();
    if (!row) return undefined;
    const user = row.user_id === null ? undefined : await usersRepo.byId(this.db, row.user_id);
    // A locked user's keys stop working (Connect refuses its locked users the same way).
    if (user?.locked) return undefined;
    this.used.set(row.id, this.now().toISOString());
    return toInfo(row, user ?? null);
  }

  /** Writes the last-use times gathered since the previous flush, in one transaction. A failure
   *  (a busy database) keeps them for the next try. */
  async flush(): Promise<void> {
    if (this.used.size === 0) return;
    const batch = [...this.used];
    this.used.clear();
    try {
      await this.db.transaction().execute(async (tx) => {
        for (const [id, time] of batch) await tx.updateTable('api_keys').set({ last_used_time: time }).where('id', '=', id).execute();
      });
    } catch (e) {
      for (const [id, time] of batch) if (!this.used.has(id)) this.used.set(id, time);
      throw e;
    }
  }

  async list(): Promise<ApiKeyInfo[]> {
    const rows = await this.db.selectFrom('api_keys').selectAll().orderBy('id').execute();
    const users = new Map((await this.db.selectFrom('users').selectAll().execute()).map((u) => [u.id, toUser(u)]));
    return rows.map((r) => toInfo(r, r.user_id === null ? null : (users.get(r.user_id) ?? null)));
  }

  async revoke(id: number): Promise<boolean> {
    const r = await this.db.deleteFrom('api_keys').where('id', '=', id).executeTakeFirst();
    return Number(r.numDeletedRows) > 0;
  }
}

function toInfo(
  row: { id: number; name: string; prefix: string; role: string; created_by: string; created_time: string; last_used_time: string | null },
  user: UserRecord | null,
): ApiKeyInfo {
  return {
    id: row.id,
    name: row.name,
    prefix: row.prefix,
    role: row.role as Role,
    createdBy: row.created_by,
    createdTime: row.created_time,
    lastUsedTime: row.last_used_time,
    user,
  };
}
