// Users: who an API key acts for, and who owns content. A user has one role (viewer, publisher,
// admin); `GET /__api__/v1/user` answers for the key's user with Connect's field names.
import { randomUUID } from 'node:crypto';
import type { Kysely, Selectable } from 'kysely';
import { ROLES, type Role } from '../../shared/api';
import type { Database, UsersTable } from '../store/schema';

type Db = Kysely<Database>;

/** Connect names the admin role "administrator" in its API; Offhost's roles are shorter. */
export type ConnectUserRole = 'administrator' | 'publisher' | 'viewer';
export const CONNECT_ROLE: Record<Role, ConnectUserRole> = { admin: 'administrator', publisher: 'publisher', viewer: 'viewer' };

/** A user as Connect's v1 API returns it (with Connect's role names). */
export interface User {
  guid: string;
  username: string;
  email: string;
  first_name: string;
  last_name: string;
  user_role: ConnectUserRole;
  created_time: string;
  updated_time: string;
  active_time: string | null;
  confirmed: boolean;
  locked: boolean;
}

/** The user as Offhost keeps it: an internal id, and the role by Offhost's name. */
export type UserRecord = Omit<User, 'user_role'> & { id: number; user_role: Role };

export function toUser(row: Selectable<UsersTable>): UserRecord {
  return {
    id: row.id,
    guid: row.guid,
    username: row.username,
    email: row.email,
    first_name: row.first_name,
    last_name: row.last_name,
    user_role: row.user_role as Role,
    created_time: row.created_time,
    updated_time: row.updated_time,
    active_time: null,
    confirmed: true,
    locked: row.locked !== 0,
  };
}

/** The API shape: no internal id, Connect's role name. */
export function publicUser({ id: _id, user_role, ...user }: UserRecord): User {
  return { ...user, user_role: CONNECT_ROLE[user_role] };
}

const USERNAME = /^[a-z0-9_][a-z0-9_.-]{0,63}$/;

/** A username from a free-form name: "CI deploys" -> "ci_deploys". */
export function usernameFrom(name: string): string {
  const slug = name
    .toLowerCase()
    .replace(/[^a-z0-9_.-]+/g, '_')
    .replace(/^[_.-]+|[_.-]+$/g, '')
    .slice(0, 64);
  return slug || 'user';
}

export function usernameProblem(username: string): string | undefined {
  return USERNAME.test(username) ? undefined : `A username is 1 to 64 lowercase letters, digits, "_", "." or "-" (not starting with "." or "-"); ${JSON.stringify(username)} is not.`;
}

export const usersRepo = {
  async byGuid(db: Db, guid: string): Promise<UserRecord | undefined> {
    const row = await db.selectFrom('users').selectAll().where('guid', '=', guid).executeTakeFirst();
    return row && toUser(row);
  },

  async byId(db: Db, id: number): Promise<UserRecord | undefined> {
    const row = await db.selectFrom('users').selectAll().where('id', '=', id).executeTakeFirst();
    return row && toUser(row);
  },

  async byUsername(db: Db, username: string): Promise<UserRecord | undefined> {
    const row = await db.selectFrom('users').selectAll().where('username', '=', username).executeTakeFirst();
    return row && toUser(row);
  },

  async list(db: Db): Promise<UserRecord[]> {
    return (await db.selectFrom('users').selectAll().orderBy('username').execute()).map(toUser);
  },

  /**
   * The user named `username`, created with `role` when missing. An existing user keeps its role:
   * a key never carries more (or other) power than its user, so a different role is an error.
   */
  async ensure(db: Db, username: string, role: Role, now: string): Promise<UserRecord> {
    const problem = usernameProblem(username);
    if (problem) throw new Error(problem);
    if (!(ROLES as readonly string[]).includes(role)) throw new Error(`Role must be one of ${ROLES.join(', ')}.`);
    await db
      .insertInto('users')
      .values({ guid: randomUUID(), username, email: '', first_name: '', last_name: '', user_role: role, locked: 0, created_time: now, updated_time: now })
      .onConflict((oc) => oc.column('username').doNothing())
      .execute();
    const user = (await this.byUsername(db, username))!;
    if (user.user_role !== role)
      throw new Error(`User "${username}" has the ${user.user_role} role, so a key for it cannot have the ${role} role. Give the key another user (--user) or the user's role.`);
    return user;
  },
};
