// Browser sign-in for the headless server. The server (or `offhost login`) makes a sign-in link
// whose token works once and only for a few minutes; opening it creates a server-side session and
// sets its id in an HttpOnly, SameSite=Strict cookie. Sessions are rows, so every instance sharing
// the database knows them, and each can be listed and revoked. Only SHA-256 hashes are stored:
// both secrets carry 256 bits of entropy, so a slow hash would add nothing.
import { createHash, randomBytes } from 'node:crypto';
import type { Kysely } from 'kysely';
import type { Database } from '../store/schema';

export const SESSION_COOKIE = 'offhost_session';
/** A session ends this long after sign-in, whatever happens; sign in again with a new link. */
export const SESSION_HOURS = 12;
/** A sign-in link must be opened within this time, and works once. */
export const LOGIN_LINK_MINUTES = 15;

const SESSION_PREFIX = 'ohs_';
const LINK_PREFIX = 'ohl_';

export interface SessionInfo {
  id: number;
  createdBy: string;
  createdTime: string;
  expiresTime: string;
}

const hash = (secret: string) => createHash('sha256').update(secret).digest('hex');
const secret = (prefix: string) => prefix + randomBytes(32).toString('base64url');

export class Sessions {
  constructor(
    private readonly db: Kysely<Database>,
    private readonly now = () => new Date(),
  ) {}

  /** A new single-use sign-in token. */
  async createLoginToken(createdBy: string): Promise<string> {
    const token = secret(LINK_PREFIX);
    const now = this.now();
    await this.db
      .insertInto('login_links')
      .values({ token_hash: hash(token), created_by: createdBy, created_time: now.toISOString(), expires_time: later(now, LOGIN_LINK_MINUTES * 60) })
      .execute();
    return token;
  }

  /** Spends a sign-in token (atomically: two instances can't both take it) and opens a session. */
  async signIn(token: string): Promise<{ cookie: string; maxAgeSeconds: number; session: SessionInfo } | undefined> {
    if (!token.startsWith(LINK_PREFIX) || token.length > 100) return undefined;
    const now = this.now();
    const link = await this.db
      .deleteFrom('login_links')
      .where('token_hash', '=', hash(token))
      .where('expires_time', '>', now.toISOString())
      .returning('created_by')
      .executeTakeFirst();
    if (!link) return undefined;
    const cookie = secret(SESSION_PREFIX);
    const row = {
      token_hash: hash(cookie),
      created_by: link.created_by,
      created_time: now.toISOString(),
      expires_time: later(now, SESSION_HOURS * 3600),
    };
    const { id } = await this.db.insertInto('sessions').values(row).returning('id').executeTakeFirstOrThrow();
    // Expired rows are of no use to anyone; sign-in is rare enough to sweep them here.
    await this.db.deleteFrom('sessions').where('expires_time', '<=', row.created_time).execute();
    await this.db.deleteFrom('login_links').where('expires_time', '<=', row.created_time).execute();
    return { cookie, maxAgeSeconds: SESSION_HOURS * 3600, session: toInfo({ id, ...row }) };
  }

  /** The live session a cookie names, if any. Read-only: no write on the request path. */
  async verify(cookie: string | undefined): Promise<SessionInfo | undefined> {
    if (!cookie?.startsWith(SESSION_PREFIX) || cookie.length > 100) return undefined;
    const row = await this.db
      .selectFrom('sessions')
      .selectAll()
      .where('token_hash', '=', hash(cookie))
      .where('expires_time', '>', this.now().toISOString())
      .executeTakeFirst();
    return row && toInfo(row);
  }

  async list(): Promise<SessionInfo[]> {
    const rows = await this.db.selectFrom('sessions').selectAll().where('expires_time', '>', this.now().toISOString()).orderBy('id').execute();
    return rows.map(toInfo);
  }

  /** Ends one session (by id), or all of them; returns how many ended. */
  async revoke(id: number | 'all'): Promise<number> {
    const q = this.db.deleteFrom('sessions');
    const r = await (id === 'all' ? q : q.where('id', '=', id)).executeTakeFirst();
    return Number(r.numDeletedRows);
  }

  /** Ends the session a cookie names (sign out). */
  async signOut(cookie: string | undefined): Promise<void> {
    if (cookie) await this.db.deleteFrom('sessions').where('token_hash', '=', hash(cookie)).execute();
  }
}

/** How the audit log names what a session did. */
export function sessionActor(s: SessionInfo): string {
  return `session #${s.id} (signed in by ${s.createdBy})`;
}

function later(from: Date, seconds: number): string {
  return new Date(from.getTime() + seconds * 1000).toISOString();
}

function toInfo(row: { id: number; created_by: string; created_time: string; expires_time: string }): SessionInfo {
  return { id: row.id, createdBy: row.created_by, createdTime: row.created_time, expiresTime: row.expires_time };
}
