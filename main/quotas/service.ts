// Quotas: read them, preview the impact of new bounds on content, save (audited, before -> after,
// in one transaction with the write), and the trail of changes. Saving announces quotas.changed;
// the LimitRange mirror and the UI follow that.
import { isDeepStrictEqual } from 'node:util';
import { roleAllows, type Role } from '../../shared/api';
import { AppError } from '../../shared/errors';
import { assertExecutionSettings, DEFAULT_QUOTAS, EXECUTION_SETTING_FIELDS, quotaImpact, type ContentSettingsItem, type QuotaChange, type QuotaPreview, type QuotaSaveResult, type Quotas, type QuotasState, type QuotasView, type LimitRangeMirrorStatus } from '../../shared/quota';
import type { EventBus } from '../events';
import { auditRepo } from '../store/audit-repo';
import type { Store } from '../store/db';
import { quotasRepo } from './store';

/** Where the impact preview gets content's execution settings (the content service). */
export interface ContentSettingsSource {
  listExecutionSettings(): Promise<ContentSettingsItem[]>;
}

export interface QuotaServiceDeps {
  store: Store;
  events: EventBus;
  /** Without it, a preview counts no content (and says so: content_count 0). */
  content?: ContentSettingsSource;
  now?: () => string;
}

export const QUOTAS_AUDIT_TARGET = { targetType: 'quotas', targetId: 'global' } as const;

export class QuotaService {
  private readonly store: Store;
  private readonly events: EventBus;
  private content: ContentSettingsSource | undefined;
  private mirror: { status: LimitRangeMirrorStatus } | undefined;
  private readonly now: () => string;

  constructor(deps: QuotaServiceDeps) {
    this.store = deps.store;
    this.events = deps.events;
    this.content = deps.content;
    this.now = deps.now ?? (() => new Date().toISOString());
  }

  /** Plug in the content list once the content service exists (they are built in either order). */
  setContentSource(source: ContentSettingsSource): void {
    this.content = source;
  }

  async get(): Promise<QuotasState> {
    return (await quotasRepo.get(this.store.db)) ?? { quotas: DEFAULT_QUOTAS, version: 0, updated_time: null, updated_by: null };
  }

  /** The mirror whose state quotas.get reports (set by the core when a cluster is configured). */
  setMirror(mirror: { status: LimitRangeMirrorStatus }): void {
    this.mirror = mirror;
  }

  /** quotas.get: the stored bounds and how their LimitRange mirror is doing. */
  async view(): Promise<QuotasView> {
    const m = this.mirror?.status;
    return { ...(await this.get()), limit_range: m ? { namespace: m.namespace, state: m.state, error: m.error } : null };
  }

  /** The bounds in force (for validating content settings and for launches). */
  async current(): Promise<Quotas> {
    return (await this.get()).quotas;
  }

  /**
   * The content service's settings check: throws an AppError naming each field that breaks the
   * bounds in force. `before` is the stored settings on a change (null on create): only the
   * execution settings that change are range-checked, so content left outside by lowered bounds
   * can still be edited otherwise (at launch it is clamped; see shared/quota.ts). Setting
   * service_account_name needs the admin role.
   */
  async assertContentSettings(
    after: Readonly<Record<string, unknown>>,
    before: Readonly<Record<string, unknown>> | null,
    caller: { role: Role },
  ): Promise<void> {
    const changed = before ? EXECUTION_SETTING_FIELDS.filter((f) => !Object.is(after[f] ?? null, before[f] ?? null)) : undefined;
    if (changed && !changed.length) return;
    // As in Posit Connect, only an admin picks the identity content runs as.
    const accountSet = changed ? changed.includes('service_account_name') : (after.service_account_name ?? null) !== null;
    if (accountSet && !roleAllows(caller.role, 'admin'))
      throw new AppError('Forbidden', `Only an admin may set service_account_name (you have the ${caller.role} role).`, 'service_account_name');
    assertExecutionSettings(after, await this.current(), { changed });
  }

  async preview(next: Quotas): Promise<QuotaPreview> {
    const state = await this.get();
    return { quotas: next, version: state.version, impact: quotaImpact(state.quotas, next, await this.contents()) };
  }

  /**
   * Save `next`. With `expectedVersion` (the version a preview was made against), a save made by
   * someone else in between answers QuotasChanged (409) instead of overwriting it unseen.
   * Saving the same bounds again changes nothing and writes no audit entry.
   */
  async update(next: Quotas, expectedVersion: number | null, actor: string): Promise<QuotaSaveResult> {
    const contents = await this.contents();
    for (let attempt = 0; ; attempt++) {
      const result = await this.store.db.transaction().execute(async (trx) => {
        const before = (await quotasRepo.get(trx)) ?? { quotas: DEFAULT_QUOTAS, version: 0, updated_time: null, updated_by: null };
        if (expectedVersion !== null && expectedVersion !== before.version)
          throw new AppError(
            'QuotasChanged',
            `The quotas were changed${before.updated_by ? ` by ${before.updated_by}` : ''}${before.updated_time ? ` at ${before.updated_time}` : ''} since version ${expectedVersion} was read (they are at version ${before.version}); review the new values and preview again.`,
            'version',
          );
        const impact = quotaImpact(before.quotas, next, contents);
        if (isDeepStrictEqual(before.quotas, next)) return { state: before, impact, changed: false };
        const time = this.now();
        if (!(await quotasRepo.put(trx, before.version, next, actor, time))) return undefined; // someone saved in between
        await auditRepo.record(trx, { actor, action: 'quotas.update', ...QUOTAS_AUDIT_TARGET, before: before.quotas, after: next, time });
        return { state: { quotas: next, version: before.version + 1, updated_time: time, updated_by: actor }, impact, changed: true };
      });
      if (result) {
        if (result.changed) this.events.emit('quotas.changed', { version: result.state.version });
        return result;
      }
      if (expectedVersion !== null) throw new AppError('QuotasChanged', 'The quotas were changed by someone else while saving; preview again.', 'version');
      if (attempt >= 4) throw new AppError('Unavailable', 'The quotas kept changing while saving; try again.');
    }
  }

  /** The trail of saved changes, newest first: who, when, before -> after. */
  async history(limit = 50): Promise<QuotaChange[]> {
    const entries = await auditRepo.list(this.store.db, { ...QUOTAS_AUDIT_TARGET, limit });
    return entries.map((e) => ({ id: e.id, time: e.time, actor: e.actor, before: e.before as Quotas, after: e.after as Quotas }));
  }

  private async contents(): Promise<ContentSettingsItem[]> {
    return this.content ? this.content.listExecutionSettings() : [];
  }
}
