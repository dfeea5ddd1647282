// The admin's package sources (shared/package-sources.ts), kept in the settings table so every
// instance sharing the database uses the same; changes are audited. Build jobs read them when
// their pod is made (main/launcher/execution.ts).
import { DEFAULT_PACKAGE_SOURCES, parsePackageSources, type PackageSources } from '../../shared/package-sources';
import { auditRepo } from '../store/audit-repo';
import type { Store } from '../store/db';
import { settingsRepo } from '../store/settings-repo';

const KEY = 'package_sources';

export class PackageSourcesService {
  constructor(private readonly store: Store) {}

  async get(): Promise<PackageSources> {
    const text = await settingsRepo.get(this.store.db, KEY);
    if (text === undefined) return { ...DEFAULT_PACKAGE_SOURCES };
    // Stored values were checked when written; a damaged row reads as the defaults rather than failing every build.
    try {
      return parsePackageSources(JSON.parse(text));
    } catch {
      return { ...DEFAULT_PACKAGE_SOURCES };
    }
  }

  async update(input: PackageSources, actor: string): Promise<PackageSources> {
    const next = parsePackageSources(input);
    const before = await this.get();
    await this.store.db.transaction().execute(async (trx) => {
      await settingsRepo.set(trx, KEY, JSON.stringify(next));
      await auditRepo.record(trx, { actor, action: 'settings.package_sources', targetType: 'settings', targetId: KEY, before, after: next, time: new Date().toISOString() });
    });
    return next;
  }
}
