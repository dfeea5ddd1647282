// Feeds the Processes store from the core: one processes.list at start (and after the event stream
// was interrupted), then events only. processes.metrics carries the changed usage itself;
// jobs.changed names a job, whose new status is read with jobs.get (a few) or the list again (many,
// or a job the table does not have yet). No polling.
import { useEffect, useState, useSyncExternalStore } from 'react';
import type { ApiEvents } from '../../../shared/api';
import { AppError } from '../../../shared/errors';
import { call, subscribe } from '../transport';
import { ProcessStore } from './store';

/** One store for the app's life: going to a job and back shows the table at once, as it was. */
export const processStore = new ProcessStore();

const FEW = 20;
const BATCH_MS = 200;
const LIST = { hours: 24, limit: 5000 };

export function useProcesses() {
  const snapshot = useSyncExternalStore(processStore.subscribe, processStore.getSnapshot);
  const [error, setError] = useState<string | undefined>();

  useEffect(() => {
    let alive = true;
    let listing: Promise<void> | undefined;
    let again = false;
    const reload = () => {
      if (listing) {
        again = true;
        return;
      }
      listing = call('processes.list', LIST)
        .then(
          (list) => {
            if (!alive) return;
            processStore.replace(list);
            setError(undefined);
          },
          (e: Error) => {
            if (!alive) return;
            // processes.list is for admins; say where a publisher finds their own jobs.
            setError(e instanceof AppError && e.code === 'Forbidden' ? `${e.message} Only administrators see every job here; your content's jobs are listed on its page under Content.` : e.message);
          },
        )
        .finally(() => {
          listing = undefined;
          if (again && alive) {
            again = false;
            reload();
          }
        });
    };

    const changed = new Map<string, ApiEvents['jobs.changed']>();
    let timer: ReturnType<typeof setTimeout> | undefined;
    const onJob = (e: ApiEvents['jobs.changed']) => {
      changed.set(e.key, e);
      timer ??= setTimeout(() => {
        timer = undefined;
        const batch = [...changed.values()];
        changed.clear();
        if (batch.length > FEW || batch.some((e) => !processStore.has(e.key))) return reload();
        for (const e of batch)
          call('jobs.get', { guid: e.content_guid, key: e.key }).then(
            (job) => alive && !processStore.mergeJob(job) && reload(),
            () => alive && reload(),
          );
      }, BATCH_MS);
    };

    reload();
    const offs = [
      subscribe('processes.metrics', (e) => processStore.applyMetrics(e)),
      subscribe('jobs.changed', onJob),
      subscribe('events.resync', reload),
    ];
    return () => {
      alive = false;
      if (timer) clearTimeout(timer);
      offs.forEach((off) => off());
    };
  }, []);

  return { rows: snapshot.rows, version: snapshot.version, membership: snapshot.membership, loaded: processStore.loaded, truncated: processStore.truncated, metrics: processStore.metrics, skewMs: processStore.skewMs, error };
}
