// A job's CPU and memory samples (table job_metrics, migration 0008): raw samples as the sampler
// read them from metrics.k8s.io (res 0), minute averages (res 60) once raw ones are older than
// the raw retention, and nothing older than the retention. Times are epoch seconds.
import { sql, type Kysely } from 'kysely';
import type { Database } from './schema';

type Db = Kysely<Database>;

export const RAW = 0;
export const MINUTE = 60;

export interface SampleRow {
  job_id: number;
  /** Epoch seconds. */
  t: number;
  cpu_millicores: number;
  memory_bytes: number;
}

export interface StoredSample extends SampleRow {
  res: typeof RAW | typeof MINUTE;
}

/** Rows per INSERT: 5 parameters each stays far below SQLite's and PostgreSQL's limits. */
const CHUNK = 1000;

const toSample = (r: { job_id: number; res: number; t: number | string; cpu_millicores: number; memory_bytes: number | string }): StoredSample => ({
  job_id: r.job_id,
  res: r.res === MINUTE ? MINUTE : RAW,
  t: Number(r.t),
  cpu_millicores: Number(r.cpu_millicores),
  memory_bytes: Number(r.memory_bytes),
});

export const metricsRepo = {
  /** Store raw samples in one transaction (a sample already stored is left as it is). */
  async insertRaw(db: Db, rows: readonly SampleRow[]): Promise<void> {
    if (!rows.length) return;
    await db.transaction().execute(async (tx) => {
      for (let i = 0; i < rows.length; i += CHUNK) {
        const values = rows.slice(i, i + CHUNK).map((r) => ({ job_id: r.job_id, res: RAW, t: r.t, cpu_millicores: r.cpu_millicores, memory_bytes: r.memory_bytes }));
        await tx
          .insertInto('job_metrics')
          .values(values)
          .onConflict((oc) => oc.columns(['job_id', 'res', 't']).doNothing())
          .execute();
      }
    });
  },

  /**
   * Replace raw samples older than `rawCut` (a minute's start) by one average per job and
   * minute, and delete minute averages older than `minuteCut`. Returns how many rows each step touched.
   */
  async compact(db: Db, rawCut: number, minuteCut: number): Promise<{ averaged: number; rawDeleted: number; minuteDeleted: number }> {
    return db.transaction().execute(async (tx) => {
      const minute = sql<number>`(t / 60) * 60`;
      const averaged = await tx
        .insertInto('job_metrics')
        .columns(['job_id', 'res', 't', 'cpu_millicores', 'memory_bytes'])
        .expression((eb) =>
          eb
            .selectFrom('job_metrics')
            .select([
              'job_id',
              sql<number>`${MINUTE}`.as('res'),
              minute.as('t'),
              sql<number>`cast(round(avg(cpu_millicores)) as integer)`.as('cpu_millicores'),
              sql<number>`cast(round(avg(memory_bytes)) as bigint)`.as('memory_bytes'),
            ])
            .where('res', '=', RAW)
            .where('t', '<', rawCut)
            .groupBy(['job_id', minute]),
        )
        .onConflict((oc) => oc.columns(['job_id', 'res', 't']).doNothing())
        .executeTakeFirst();
      const raw = await tx.deleteFrom('job_metrics').where('res', '=', RAW).where('t', '<', rawCut).executeTakeFirst();
      const old = await tx.deleteFrom('job_metrics').where('res', '=', MINUTE).where('t', '<', minuteCut).executeTakeFirst();
      return { averaged: Number(averaged.numInsertedOrUpdatedRows ?? 0), rawDeleted: Number(raw.numDeletedRows), minuteDeleted: Number(old.numDeletedRows) };
    });
  },

  /** Each job's newest raw sample taken at or after `since` (jobs without one are absent). */
  async latest(db: Db, since: number): Promise<Map<number, SampleRow>> {
    const rows = await db
      .selectFrom('job_metrics as m')
      .innerJoin(
        (eb) => eb.selectFrom('job_metrics').select(['job_id', (e) => e.fn.max('t').as('t')]).where('res', '=', RAW).where('t', '>=', since).groupBy('job_id').as('l'),
        (join) => join.onRef('l.job_id', '=', 'm.job_id').onRef('l.t', '=', 'm.t'),
      )
      .select(['m.job_id', 'm.res', 'm.t', 'm.cpu_millicores', 'm.memory_bytes'])
      .where('m.res', '=', RAW)
      .execute();
    const out = new Map<number, SampleRow>();
    for (const r of rows) out.set(r.job_id, toSample(r));
    return out;
  },

  /** One job's samples from `since` on, oldest first (minute averages, then the raw ones after them). */
  async history(db: Db, jobId: number, since: number): Promise<StoredSample[]> {
    const rows = await db
      .selectFrom('job_metrics')
      .select(['job_id', 'res', 't', 'cpu_millicores', 'memory_bytes'])
      .where('job_id', '=', jobId)
      .where('t', '>=', since)
      .orderBy('t')
      .orderBy('res', 'desc')
      .execute();
    return rows.map(toSample);
  },

  async count(db: Db, res?: number): Promise<number> {
    let q = db.selectFrom('job_metrics').select((eb) => eb.fn.countAll<number | string>().as('n'));
    if (res !== undefined) q = q.where('res', '=', res);
    return Number((await q.executeTakeFirstOrThrow()).n);
  },

  /** A named JSON value other instances read (the sampler's status); last writer wins. */
  async putSetting(db: Db, key: string, value: string): Promise<void> {
    await db
      .insertInto('settings')
      .values({ key, value })
      .onConflict((oc) => oc.column('key').doUpdateSet({ value }))
      .execute();
  },
};
