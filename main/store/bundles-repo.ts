// Bundle rows: one per upload, pointing at a content-addressed archive (several rows may share one
// file when the same archive is uploaded twice).
import type { Kysely, Selectable } from 'kysely';
import type { AppMode } from '../../shared/content';
import type { BundlesTable, Database } from './schema';

type Db = Kysely<Database>;

export interface BundleRecord {
  id: number;
  content_id: number;
  sha256: string;
  size: number;
  app_mode: AppMode;
  manifest: Record<string, unknown>;
  metadata: Record<string, unknown>;
  created_by: string;
  created_time: string;
}

function toRecord(row: Selectable<BundlesTable>): BundleRecord {
  return {
    id: row.id,
    content_id: row.content_id,
    sha256: row.sha256,
    size: Number(row.size),
    app_mode: row.app_mode as AppMode,
    manifest: JSON.parse(row.manifest) as Record<string, unknown>,
    metadata: JSON.parse(row.metadata) as Record<string, unknown>,
    created_by: row.created_by,
    created_time: row.created_time,
  };
}

export const bundlesRepo = {
  /** Newest first, as Connect lists them. */
  async list(db: Db, contentId: number): Promise<BundleRecord[]> {
    return (await db.selectFrom('bundles').selectAll().where('content_id', '=', contentId).orderBy('id', 'desc').execute()).map(toRecord);
  },

  async get(db: Db, contentId: number, id: number): Promise<BundleRecord | undefined> {
    const row = await db.selectFrom('bundles').selectAll().where('content_id', '=', contentId).where('id', '=', id).executeTakeFirst();
    return row && toRecord(row);
  },

  async latest(db: Db, contentId: number): Promise<BundleRecord | undefined> {
    const row = await db.selectFrom('bundles').selectAll().where('content_id', '=', contentId).orderBy('id', 'desc').limit(1).executeTakeFirst();
    return row && toRecord(row);
  },

  async insert(db: Db, b: Omit<BundleRecord, 'id'>): Promise<BundleRecord> {
    const row = await db
      .insertInto('bundles')
      .values({ ...b, manifest: JSON.stringify(b.manifest), metadata: JSON.stringify(b.metadata) })
      .returningAll()
      .executeTakeFirstOrThrow();
    return toRecord(row);
  },

  async delete(db: Db, id: number): Promise<void> {
    await db.deleteFrom('bundles').where('id', '=', id).execute();
  },

  async hashesOf(db: Db, contentId: number): Promise<string[]> {
    const rows = await db.selectFrom('bundles').select('sha256').where('content_id', '=', contentId).execute();
    return [...new Set(rows.map((r) => r.sha256))];
  },

  /** Whether any bundle row still points at this archive. */
  async hashInUse(db: Db, sha256: string): Promise<boolean> {
    return (await db.selectFrom('bundles').select('id').where('sha256', '=', sha256).limit(1).executeTakeFirst()) !== undefined;
  },

  async count(db: Db): Promise<number> {
    const r = await db.selectFrom('bundles').select((eb) => eb.fn.countAll<number | string>().as('n')).executeTakeFirstOrThrow();
    return Number(r.n);
  },
};
