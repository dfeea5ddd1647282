// The quotas row: read and conditionally written, converting between Connect's units (the API's
// cores and bytes) and the base units kept in the database (millicores and bytes, DESIGN.md §5).
import type { Kysely } from 'kysely';
import { parseQuotas, type Quotas, type QuotasState } from '../../shared/quota';
import type { Database } from '../store/schema';

const toStored = (q: Quotas): unknown => ({
  ...q,
  cpu_request: mapBounds(q.cpu_request, (v) => Math.round(v * 1000)),
  cpu_limit: mapBounds(q.cpu_limit, (v) => Math.round(v * 1000)),
});

function fromStored(text: string): Quotas {
  const raw = JSON.parse(text) as Quotas;
  // The stored row goes through the same checks as an input: a hand-edited row that breaks the
  // rules fails loudly here instead of letting content launch with nonsense bounds.
  const quotas = {
    ...raw,
    cpu_request: mapBounds(raw.cpu_request, (v) => v / 1000),
    cpu_limit: mapBounds(raw.cpu_limit, (v) => v / 1000),
  };
  try {
    return parseQuotas(quotas);
  } catch (e) {
    throw new Error(`The stored quotas are invalid (${(e as Error).message}); save valid ones with quotas.update.`);
  }
}

function mapBounds<B extends { min: number; default: number; max: number }>(b: B, f: (v: number) => number) {
  return { min: f(b.min), default: f(b.default), max: f(b.max) };
}

export const quotasRepo = {
  /** The saved quotas, or undefined when none were ever saved. */
  async get(db: Kysely<Database>): Promise<QuotasState | undefined> {
    const row = await db.selectFrom('quotas').selectAll().where('id', '=', 1).executeTakeFirst();
    if (!row) return undefined;
    return { quotas: fromStored(row.settings), version: Number(row.version), updated_time: row.updated_time, updated_by: row.updated_by };
  },

  /**
   * Store `quotas` as version `from + 1` if the stored version is still `from` (0: nothing stored
   * yet). Returns false when someone else saved in between (the caller decides: 409 or retry).
   */
  async put(db: Kysely<Database>, from: number, quotas: Quotas, actor: string, time: string): Promise<boolean> {
    const values = { version: from + 1, settings: JSON.stringify(toStored(quotas)), updated_time: time, updated_by: actor };
    if (from === 0) {
      const r = await db.insertInto('quotas').values({ id: 1, ...values }).onConflict((oc) => oc.column('id').doNothing()).executeTakeFirst();
      return Number(r.numInsertedOrUpdatedRows ?? 0n) === 1;
    }
    const r = await db.updateTable('quotas').set(values).where('id', '=', 1).where('version', '=', from).executeTakeFirst();
    return Number(r.numUpdatedRows) === 1;
  },
};

