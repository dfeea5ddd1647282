// Keeps the database in step with the declarative environments file (OFFHOST_ENVIRONMENTS_FILE).
// We watch the directory, not the file: editors and Kubernetes ConfigMaps replace files by rename.
// A file that fails to parse changes nothing; the error is logged and the last good state stays.
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import type { Logger } from '../log';
import type { EnvironmentService } from './service';
import { environmentsFromYaml } from './yaml';

export interface FileSync {
  /** Resolves after the current file has been applied (or rejected). */
  syncNow(): Promise<void>;
  close(): void;
}

export async function watchEnvironmentsFile(file: string, service: EnvironmentService, log: Logger, debounceMs = 150): Promise<FileSync> {
  let lastHash: string | undefined;
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<void> = Promise.resolve();

  const apply = async () => {
    let text: string;
    try {
      text = await fs.promises.readFile(file, 'utf8');
    } catch (e) {
      // A missing file is more often a moment in a replace than an intent to delete everything.
      return void log.warn({ file, err: (e as Error).message }, 'cannot read the environments file; keeping the previous environments');
    }
    const hash = createHash('sha256').update(text).digest('hex');
    if (hash === lastHash) return;
    try {
      const result = await service.syncManaged(file, environmentsFromYaml(text));
      lastHash = hash;
      log.info({ file, created: result.created.length, updated: result.updated.length, removed: result.removed.length }, 'environments file applied');
    } catch (e) {
      const err = e as Error & { field?: string };
      log.error({ file, err: err.message, field: err.field }, 'environments file rejected; keeping the previous environments');
    }
  };
  const syncNow = () => (running = running.then(apply));

  await syncNow();
  const dir = path.dirname(file);
  fs.mkdirSync(dir, { recursive: true });
  const watcher = fs.watch(dir, () => {
    clearTimeout(timer);
    timer = setTimeout(() => void syncNow(), debounceMs);
  });
  watcher.on('error', (e) => log.error({ file, err: e.message }, 'watching the environments file failed'));
  return {
    syncNow,
    close() {
      clearTimeout(timer);
      watcher.close();
    },
  };
}
