// Events across instances on one PostgreSQL (LISTEN/NOTIFY): an event raised on one core reaches
// the other once and is not echoed back; a list of guids too long for one NOTIFY arrives whole, in
// parts; the relay comes back after its connection is killed.
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EventBus } from '../../main/events';
import { PgEventRelay, envelopes } from '../../main/events-pg';
import { silentLogger } from '../../main/log';
import { BACKENDS } from './backends';

const backend = BACKENDS.find((b) => b.name === 'postgres')!;

function collect(bus: EventBus) {
  const got: { event: string; payload: unknown }[] = [];
  bus.on('jobs.changed', (p) => got.push({ event: 'jobs.changed', payload: p }));
  bus.on('environments.changed', (p) => got.push({ event: 'environments.changed', payload: p }));
  return got;
}
async function until(ok: () => boolean, ms = 5000): Promise<void> {
  const t0 = Date.now();
  while (!ok()) {
    if (Date.now() - t0 > ms) throw new Error('not within time');
    await new Promise((r) => setTimeout(r, 10));
  }
}

describe('PostgreSQL event relay', () => {
  let db: Awaited<ReturnType<typeof backend.create>>;
  const buses = [new EventBus(), new EventBus()];
  let relays: PgEventRelay[] = [];
  beforeAll(async () => {
    db = await backend.create();
    const url = (db.config as { url: string }).url;
    relays = buses.map((events) => new PgEventRelay({ url, events, log: silentLogger, reconnectMs: 100 }));
    await Promise.all(relays.map((r) => r.start()));
  });
  afterAll(async () => {
    await Promise.all(relays.map((r) => r.stop()));
    await db?.drop();
  });

  it('an event on one instance reaches the other once, and is not echoed back', async () => {
    const [a, b] = buses.map(collect);
    buses[0]!.emit('jobs.changed', { content_guid: 'g', key: 'k1', state: 'running' });
    await until(() => b!.length === 1);
    await new Promise((r) => setTimeout(r, 200));
    expect(b).toEqual([{ event: 'jobs.changed', payload: { content_guid: 'g', key: 'k1', state: 'running' } }]);
    expect(a).toHaveLength(1); // its own emit only
  });

  it('1000 guids (too long for one NOTIFY) arrive whole, in parts', async () => {
    const guids = Array.from({ length: 1000 }, (_, i) => `00000000-0000-4000-8000-${String(i).padStart(12, '0')}`);
    expect(envelopes('x', 'environments.changed', { action: 'imported', guids }).length).toBeGreaterThan(1);
    const b = collect(buses[1]!);
    buses[0]!.emit('environments.changed', { action: 'imported', guids });
    await until(() => b.flatMap((x) => (x.payload as { guids: string[] }).guids).length === 1000);
    expect(b.flatMap((x) => (x.payload as { guids: string[] }).guids)).toEqual(guids);
  });

  it('listens again after its connection is killed', async () => {
    const admin = new pg.Client({ connectionString: (db.config as { url: string }).url });
    await admin.connect();
    await admin.query(`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = current_database() AND query LIKE 'LISTEN%' AND pid <> pg_backend_pid()`);
    await admin.end();
    const b = collect(buses[1]!);
    await until(() => {
      buses[0]!.emit('jobs.changed', { content_guid: 'g', key: 'again', state: 'queued' });
      return b.length > 0;
    }, 10_000);
    expect(b[0]!.payload).toMatchObject({ key: 'again' });
  });
});
