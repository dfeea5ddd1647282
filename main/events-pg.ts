// Events across instances sharing one PostgreSQL (DESIGN.md §3): every event raised on this
// instance's EventBus is also sent with NOTIFY, and every event another instance sent arrives
// through LISTEN and is raised here — so a deploy on one instance kicks the leader's launcher,
// and a job change reaches the UIs connected to any instance. The bus itself stays in-process;
// this relay is started only on PostgreSQL.
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { EVENT_NAMES, type ApiEvents, type EventName } from '../shared/api';
import type { EventBus } from './events';
import type { Logger } from './log';

export const CHANNEL = 'offhost_events';
/** PostgreSQL refuses NOTIFY payloads of 8000 bytes or more; keep a margin. */
const MAX_PAYLOAD = 7500;

interface Envelope {
  o: string;
  e: EventName;
  p: unknown;
}

export class PgEventRelay {
  readonly origin = randomBytes(6).toString('hex');
  private client: pg.Client | undefined;
  private offs: (() => void)[] = [];
  private relaying = false;
  private sending: Promise<void> = Promise.resolve();
  private stopped = true;
  private retry: NodeJS.Timeout | undefined;

  constructor(private readonly deps: { url: string | undefined; events: EventBus; log: Logger; reconnectMs?: number }) {}

  /** Resolves once listening (or after the first failure, which is logged and retried). */
  async start(): Promise<void> {
    if (!this.stopped) return;
    this.stopped = false;
    for (const name of EVENT_NAMES) this.offs.push(this.deps.events.on(name, (payload) => this.publish(name, payload)));
    await this.connect();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.retry);
    this.offs.forEach((off) => off());
    this.offs = [];
    const c = this.client;
    this.client = undefined;
    await c?.end().catch(() => {});
  }

  private async connect(): Promise<void> {
    const client = new pg.Client({ ...(this.deps.url ? { connectionString: this.deps.url } : {}), connectionTimeoutMillis: 5000 });
    client.on('error', (err) => this.lost(client, err));
    client.on('end', () => this.lost(client, new Error('connection ended')));
    client.on('notification', (msg) => this.receive(msg.payload));
    try {
      await client.connect();
      await client.query(`LISTEN ${CHANNEL}`);
      if (this.stopped) return void (await client.end());
      this.client = client;
    } catch (e) {
      this.lost(client, e as Error);
    }
  }

  private lost(client: pg.Client, err: Error): void {
    if (this.client !== undefined && this.client !== client) return;
    this.client = undefined;
    void client.end().catch(() => {});
    if (this.stopped) return;
    this.deps.log.warn({ err: { message: err.message } }, 'events: lost the PostgreSQL LISTEN connection; other instances\u2019 events are missed until it is back');
    clearTimeout(this.retry);
    this.retry = setTimeout(() => void this.connect(), this.deps.reconnectMs ?? 1000);
    this.retry.unref();
  }

  private publish<E extends EventName>(name: E, payload: ApiEvents[E]): void {
    if (this.relaying || !this.client) return; // an event that came from another instance
    const warn = (err: Error) => this.deps.log.warn({ err: { message: err.message }, event: name }, 'events: cannot send an event to other instances');
    // A listener must not throw into the code that raised the event.
    try {
      const client = this.client;
      // One query at a time on the client, in order (events keep their order across instances).
      for (const text of envelopes(this.origin, name, payload))
        this.sending = this.sending.then(() => client.query('SELECT pg_notify($1, $2)', [CHANNEL, text])).then(
          () => {},
          (err: Error) => warn(err),
        );
    } catch (e) {
      warn(e as Error);
    }
  }

  private receive(text: string | undefined): void {
    if (!text) return;
    let env: Envelope;
    try {
      env = JSON.parse(text) as Envelope;
    } catch {
      return;
    }
    if (env.o === this.origin || !EVENT_NAMES.includes(env.e)) return;
    this.relaying = true;
    try {
      this.deps.events.emit(env.e, env.p as never);
    } finally {
      this.relaying = false;
    }
  }
}

/** The list fields an event may be split on when it is too long for one NOTIFY (each part is a whole event). */
const SPLITTABLE = ['guids', 'rows', 'gone'] as const;

/** One NOTIFY payload, or several when a list (guids, a metrics cycle's rows) makes it too long. */
export function envelopes(origin: string, e: EventName, p: unknown): string[] {
  const one = JSON.stringify({ o: origin, e, p } satisfies Envelope);
  if (one.length < MAX_PAYLOAD) return [one];
  // Halve the longest list; the other fields go with each half.
  const obj = p as Record<string, unknown>;
  let field: string | undefined;
  for (const f of SPLITTABLE) {
    const v = obj[f];
    if (Array.isArray(v) && v.length >= 2 && (field === undefined || v.length > (obj[field] as unknown[]).length)) field = f;
  }
  if (field === undefined) throw new Error(`event ${e} is too large to send to other instances`);
  const list = obj[field] as unknown[];
  const half = Math.ceil(list.length / 2);
  return [...envelopes(origin, e, { ...obj, [field]: list.slice(0, half) }), ...envelopes(origin, e, { ...obj, [field]: list.slice(half) })];
}
