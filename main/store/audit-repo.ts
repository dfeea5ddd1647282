// The audit log: who changed what, when, with the object before and after.
import type { Kysely } from 'kysely';
import type { Database } from './schema';

export interface AuditEntry {
  id: number;
  time: string;
  actor: string;
  action: string;
  targetType: string;
  targetId: string;
  before: unknown;
  after: unknown;
}

export interface NewAuditEntry {
  actor: string;
  action: string;
  targetType: string;
  targetId: string;
  before?: unknown;
  after?: unknown;
  time: string;
}

export const auditRepo = {
  async record(db: Kysely<Database>, entry: NewAuditEntry): Promise<void> {
    await db.insertInto('audit_log').values(auditRow(entry)).execute();
  },

  /** Many entries in multi-row inserts, for imports and file syncs: 100 rows a statement (a few
   *  milliseconds with their JSON), yielding between statements so the event loop keeps turning. */
  async recordMany(db: Kysely<Database>, entries: readonly NewAuditEntry[]): Promise<void> {
    for (let i = 0; i < entries.length; i += 100) {
      if (i > 0) await new Promise<void>((resolve) => setImmediate(resolve));
      await db.insertInto('audit_log').values(entries.slice(i, i + 100).map(auditRow)).execute();
    }
  },

  async list(db: Kysely<Database>, filter: { targetType?: string; targetId?: string; limit?: number } = {}): Promise<AuditEntry[]> {
    let q = db.selectFrom('audit_log').selectAll();
    if (filter.targetType) q = q.where('target_type', '=', filter.targetType);
    if (filter.targetId) q = q.where('target_id', '=', filter.targetId);
    const rows = await q.orderBy('id', 'desc').limit(filter.limit ?? 100).execute();
    return rows.map((r) => ({
      id: r.id,
      time: r.time,
      actor: r.actor,
      action: r.action,
      targetType: r.target_type,
      targetId: r.target_id,
      before: r.before === null ? null : JSON.parse(r.before),
      after: r.after === null ? null : JSON.parse(r.after),
    }));
  },
};

function auditRow(entry: NewAuditEntry) {
  return {
    time: entry.time,
    actor: entry.actor,
    action: entry.action,
    target_type: entry.targetType,
    target_id: entry.targetId,
    before: entry.before === undefined ? null : JSON.stringify(entry.before),
    after: entry.after === undefined ? null : JSON.stringify(entry.after),
  };
}
