// Keeps the database in step with the declarative environments file (OFFHOST_ENVIRONMENTS_FILE).
// We watch the directory, not the file: editors and Kubernetes ConfigMaps replace files by rename.
// Only a file that parses, validates and lists environments changes anything. A missing, empty
// (blank or comments only), oversized or invalid file is most often a moment in a rewrite or a
// mistake, never an intent to delete everything: it is logged and the last good state stays.
// An explicit empty list ("[]") does remove every environment the file managed.
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { LIMITS } from '../../shared/environment';
import type { Logger } from '../log';
import type { EnvironmentService } from './service';

export interface FileSync {
  /** Resolves after the current file has been applied (or rejected). */
  syncNow(): Promise<void>;
  close(): void;
}

/**
 * At start: release what files other than the configured one managed (so those environments can
 * be edited again), then, if a file is configured, apply it and watch it.
 */
export async function startEnvironmentsFile(file: string | null, service: EnvironmentService, log: Logger): Promise<FileSync | undefined> {
  const sync = file ? await watchEnvironmentsFile(file, service, log) : undefined;
  let released;
  try {
    released = await service.releaseManagedExcept(file);
  } catch (e) {
    sync?.close();
    throw e;
  }
  if (released.length)
    log.warn({ released: released.map((e) => e.guid), file }, `released ${released.length} environments managed by a file that is no longer configured; they can be edited again`);
  return sync;
}

export async function watchEnvironmentsFile(file: string, service: EnvironmentService, log: Logger, debounceMs = 150): Promise<FileSync> {
  let lastHash: string | undefined;
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<void> = Promise.resolve();
  const keep = 'keeping the previous environments';

  const apply = async () => {
    let text: string;
    try {
      // Check the size before reading: a runaway file must not be read into memory.
      const { size } = await fs.promises.stat(file);
      if (size > LIMITS.yamlBytes)
        return void log.error({ file, bytes: size, limit: LIMITS.yamlBytes }, `the environments file is larger than ${LIMITS.yamlBytes} bytes; ${keep}`);
      text = await fs.promises.readFile(file, 'utf8');
    } catch (e) {
      // A missing file is more often a moment in a replace than an intent to delete everything.
      return void log.warn({ file, err: (e as Error).message }, `cannot read the environments file; ${keep}`);
    }
    const hash = createHash('sha256').update(text).digest('hex');
    if (hash === lastHash) return;
    try {
      const parsed = await service.parseYaml(text);
      if (parsed.kind === 'empty')
        return void log.warn({ file }, `the environments file is empty (no list, only blanks or comments); ${keep}. To remove every environment it manages, write "[]".`);
      const result = await service.syncManaged(file, parsed.specs);
      lastHash = hash;
      log.info({ file, created: result.created.length, updated: result.updated.length, removed: result.removed.length }, 'environments file applied');
    } catch (e) {
      const err = e as Error & { code?: string; field?: string };
      log.error({ file, code: err.code, err: err.message, field: err.field }, `environments file rejected; ${keep}`);
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
