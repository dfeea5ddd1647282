// The quotas service on real SQLite and a real PostgreSQL: defaults, saving with its audit entry
// in the same transaction, stale versions, no-op saves, the impact preview, the trail, and the
// contract's roles through the dispatcher.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createHandlers, dispatch } from '../../main/api/handlers';
import { loadConfig } from '../../main/config';
import { EnvironmentService } from '../../main/environments/service';
import { EventBus } from '../../main/events';
import { QuotaService, type ContentSettingsSource } from '../../main/quotas/service';
import { auditRepo } from '../../main/store/audit-repo';
import type { Store } from '../../main/store/db';
import type { ApiEvents } from '../../shared/api';
import { AppError } from '../../shared/errors';
import { DEFAULT_QUOTAS, parseQuotas, type ContentSettingsItem, type Quotas } from '../../shared/quota';
import { BACKENDS, freshStore } from './backends';

const GiB = 1024 ** 3;

function tighter(over: Partial<Quotas> = {}): Quotas {
  return parseQuotas({
    ...DEFAULT_QUOTAS,
    memory_request: { min: 64 * 1024 ** 2, default: 512 * 1024 ** 2, max: 4 * GiB },
    memory_limit: { min: 128 * 1024 ** 2, default: GiB, max: 8 * GiB },
    ...over,
  });
}

async function rejection(p: Promise<unknown>): Promise<AppError> {
  try {
    await p;
  } catch (e) {
    if (e instanceof AppError) return e;
    throw e;
  }
  throw new Error('expected the call to fail');
}

const item = (guid: string, s: Partial<ContentSettingsItem> = {}): ContentSettingsItem => ({
  guid,
  name: `content-${guid}`,
  cpu_request: null,
  cpu_limit: null,
  memory_request: null,
  memory_limit: null,
  service_account_name: null,
  ...s,
});

describe.each(BACKENDS)('$name quotas', (backend) => {
  let store: Store;
  let events: EventBus;
  let seen: ApiEvents['quotas.changed'][];
  let contents: ContentSettingsItem[];
  let service: QuotaService;

  beforeEach(async () => {
    store = await freshStore(backend);
    events = new EventBus();
    seen = [];
    events.on('quotas.changed', (e) => seen.push(e));
    contents = [];
    const source: ContentSettingsSource = { listExecutionSettings: async () => contents };
    service = new QuotaService({ store, events, content: source });
  });
  afterEach(async () => {
    await store.close();
  });

  const audits = () => auditRepo.list(store.db, { targetType: 'quotas' });

  it('starts with the built-in defaults at version 0', async () => {
    expect(await service.get()).toEqual({ quotas: DEFAULT_QUOTAS, version: 0, updated_time: null, updated_by: null });
  });

  it('saves with one audit entry (before -> after, who), announces it, and stores base units', async () => {
    const next = tighter({ cpu_request: { min: 0.05, default: 0.25, max: 2 } });
    const r = await service.update(next, 0, 'api-key:ci (#3)');
    expect(r.changed).toBe(true);
    expect(r.state).toMatchObject({ quotas: next, version: 1, updated_by: 'api-key:ci (#3)' });
    expect(await service.get()).toEqual(r.state);
    expect(seen).toEqual([{ version: 1 }]);

    const trail = await audits();
    expect(trail).toHaveLength(1);
    expect(trail[0]).toMatchObject({ actor: 'api-key:ci (#3)', action: 'quotas.update', targetId: 'global', before: DEFAULT_QUOTAS, after: next });

    // DESIGN.md §5: CPU is stored as millicores.
    const row = await store.db.selectFrom('quotas').selectAll().executeTakeFirstOrThrow();
    expect(JSON.parse(row.settings).cpu_request).toEqual({ min: 50, default: 250, max: 2000 });
    expect(JSON.parse(row.settings).memory_limit.max).toBe(8 * GiB);

    const second = await service.update(DEFAULT_QUOTAS, 1, 'desktop:alice');
    expect(second.state.version).toBe(2);
    const history = await service.history();
    expect(history.map((h) => [h.actor, h.before, h.after])).toEqual([
      ['desktop:alice', next, DEFAULT_QUOTAS],
      ['api-key:ci (#3)', DEFAULT_QUOTAS, next],
    ]);
    expect(await service.history(1)).toHaveLength(1);
  });

  it('a save against a stale version is refused (409) and writes nothing', async () => {
    await service.update(tighter(), 0, 'alice');
    const err = await rejection(service.update(DEFAULT_QUOTAS, 0, 'bob'));
    expect(err.code).toBe('QuotasChanged');
    expect(err.status).toBe(409);
    expect(err.message).toContain('by alice');
    expect((await service.get()).quotas).toEqual(tighter());
    expect(await audits()).toHaveLength(1);
    expect(seen).toHaveLength(1);
  });

  it('saving the same bounds again changes nothing and is not audited', async () => {
    await service.update(tighter(), null, 'alice');
    const r = await service.update(tighter(), null, 'bob');
    expect(r.changed).toBe(false);
    expect(r.state.version).toBe(1);
    expect(await audits()).toHaveLength(1);
    expect(seen).toHaveLength(1);
  });

  it('two saves of the same version at once: exactly one wins', async () => {
    const results = await Promise.allSettled([
      service.update(tighter(), 0, 'alice'),
      service.update(tighter({ max_concurrent_jobs: 3 }), 0, 'bob'),
    ]);
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
    const lost = results.find((r) => r.status === 'rejected') as PromiseRejectedResult;
    expect((lost.reason as AppError).code).toBe('QuotasChanged');
    expect((await service.get()).version).toBe(1);
    expect(await audits()).toHaveLength(1);
  });

  it('saves without a version retry past a concurrent save, and both are audited', async () => {
    await Promise.all([service.update(tighter(), null, 'alice'), service.update(tighter({ max_concurrent_jobs: 3 }), null, 'bob')]);
    expect((await service.get()).version).toBe(2);
    expect(await audits()).toHaveLength(2);
  });

  it('previews the impact on content before saving, without writing', async () => {
    contents = [item('a'), item('b', { memory_limit: 16 * GiB }), item('c', { memory_limit: 4 * GiB })];
    const p = await service.preview(tighter());
    expect(p.version).toBe(0);
    expect(p.impact.content_count).toBe(3);
    expect(p.impact.affected).toEqual([
      expect.objectContaining({ guid: 'b', clamped: [expect.objectContaining({ field: 'memory_limit', value: 16 * GiB, launch_value: 8 * GiB, bound: 'max' })] }),
    ]);
    expect(await service.get()).toMatchObject({ version: 0 });
    expect(await audits()).toHaveLength(0);
    // and the save answers the same impact
    expect((await service.update(tighter(), p.version, 'alice')).impact).toEqual(p.impact);
  });

  it("checks content settings against the saved bounds; a change is range-checked on what it changes", async () => {
    const adminCaller = { role: 'admin' as const };
    const publisherCaller = { role: 'publisher' as const };
    await service.update(tighter({ service_accounts: { allowed: ['runner'], default: null } }), 0, 'admin');
    const none = { cpu_request: null, cpu_limit: null, memory_request: null, memory_limit: null, service_account_name: null };
    // create: every field
    const err = await rejection(service.assertContentSettings({ ...none, memory_limit: 16 * GiB, service_account_name: 'root' }, null, adminCaller));
    expect(err.toBody().details!.map((d) => [d.field, d.code])).toEqual([
      ['memory_limit', 'MemoryLimitOutOfBounds'],
      ['service_account_name', 'ServiceAccountNotAllowed'],
    ]);
    expect(err.status).toBe(400);
    await service.assertContentSettings({ ...none, memory_limit: 8 * GiB, service_account_name: 'runner' }, null, adminCaller);
    // change: content left outside by lowered bounds can still change something else ...
    const stored = { ...none, memory_limit: 16 * GiB };
    await service.assertContentSettings({ ...stored, cpu_limit: 2 }, stored, publisherCaller);
    await service.assertContentSettings({ ...stored, title: 'x' }, stored, publisherCaller);
    // ... but not set a new out-of-bounds value
    expect((await rejection(service.assertContentSettings({ ...stored, memory_limit: 12 * GiB }, stored, publisherCaller))).code).toBe('MemoryLimitOutOfBounds');
    // only an admin sets the service account (as in Connect), on create or change; others may leave it
    const sa = await rejection(service.assertContentSettings({ ...none, service_account_name: 'runner' }, null, publisherCaller));
    expect(sa).toMatchObject({ code: 'Forbidden', field: 'service_account_name', status: 403 });
    expect((await rejection(service.assertContentSettings({ ...stored, service_account_name: 'runner' }, stored, publisherCaller))).code).toBe('Forbidden');
    const withAccount = { ...none, service_account_name: 'runner' };
    await service.assertContentSettings({ ...withAccount, cpu_limit: 1 }, withAccount, publisherCaller);
    await service.assertContentSettings({ ...none, service_account_name: null }, null, publisherCaller);
  });

  it('the contract: publishers read, admins change; inputs are parsed with field paths', async () => {
    const core = { config: loadConfig({}), store, environments: new EnvironmentService({ store, events }), quotas: service };
    const handlers = createHandlers(core, 'server');
    const publisher = { actor: 'api-key:pub (#1)', role: 'publisher' as const };
    const admin = { actor: 'api-key:admin (#2)', role: 'admin' as const };

    expect(await dispatch(handlers, 'quotas.get', undefined, publisher)).toEqual({ quotas: DEFAULT_QUOTAS, version: 0, updated_time: null, updated_by: null, limit_range: null });
    expect(await dispatch(handlers, 'quotas.history', {}, publisher)).toEqual([]);
    expect((await rejection(dispatch(handlers, 'quotas.update', { quotas: DEFAULT_QUOTAS }, publisher))).code).toBe('Forbidden');
    expect((await rejection(dispatch(handlers, 'quotas.preview', { quotas: DEFAULT_QUOTAS }, publisher))).code).toBe('Forbidden');
    expect((await rejection(dispatch(handlers, 'quotas.get', undefined, { actor: 'v', role: 'viewer' }))).code).toBe('Forbidden');

    const bad = await rejection(dispatch(handlers, 'quotas.update', { quotas: { ...DEFAULT_QUOTAS, cpu_limit: { min: 0.1, default: 9, max: 8 } } }, admin));
    expect(bad).toMatchObject({ code: 'InvalidQuota', field: 'quotas.cpu_limit.default', status: 400 });

    // Kubernetes quantities are accepted as input; the answer is in cores and bytes.
    const input = {
      ...DEFAULT_QUOTAS,
      memory_request: { min: '64Mi', default: '512Mi', max: '4Gi' },
      memory_limit: { min: '128Mi', default: '1Gi', max: '8Gi' },
      cpu_limit: { min: '100m', default: '1', max: '6' },
    };
    const saved = (await dispatch(handlers, 'quotas.update', { quotas: input, version: 0 }, admin)) as { state: { quotas: Quotas } };
    expect(saved.state.quotas.memory_limit).toEqual({ min: 128 * 1024 ** 2, default: GiB, max: 8 * GiB });
    expect(saved.state.quotas.cpu_limit).toEqual({ min: 0.1, default: 1, max: 6 });
    expect(await dispatch(handlers, 'quotas.history', { limit: 5 }, publisher)).toEqual([expect.objectContaining({ actor: 'api-key:admin (#2)' })]);
  });
});
