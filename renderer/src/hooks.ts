import { useCallback, useEffect, useRef, useState } from 'react';
import type { EventName } from '../../shared/api';
import type { Environment } from '../../shared/environment';
import { call, subscribe } from './transport';

/** The environment list, refetched whenever the core announces a change (no polling). */
export function useEnvironments() {
  const [environments, setEnvironments] = useState<Environment[] | undefined>();
  const [error, setError] = useState<string | undefined>();
  const reload = useCallback(() => {
    call('environments.list').then(
      (list) => {
        setEnvironments(list);
        setError(undefined);
      },
      (e: Error) => setError(e.message),
    );
  }, []);
  useEffect(() => {
    reload();
    const offs = [subscribe('environments.changed', reload), subscribe('events.resync', reload)];
    return () => offs.forEach((off) => off());
  }, [reload]);
  return { environments, error, reload };
}

/**
 * Data that follows the core's events with no polling. A burst of events (a deploy announces
 * several changes; an import many) becomes one refetch: events within `batchMs` are coalesced,
 * and while a fetch is in flight further events only mark it stale, so at most one more follows.
 * `accept` filters events (e.g. only those naming the guid on screen).
 */
export function useLive<T>(
  fetcher: () => Promise<T>,
  events: readonly EventName[],
  options: { batchMs?: number; accept?: (event: EventName, payload: unknown) => boolean } = {},
) {
  const [data, setData] = useState<T | undefined>();
  const [error, setError] = useState<string | undefined>();
  const fetchRef = useRef(fetcher);
  fetchRef.current = fetcher;
  const acceptRef = useRef(options.accept);
  acceptRef.current = options.accept;
  const batchMs = options.batchMs ?? 150;
  const state = useRef({ inFlight: false, stale: false, timer: undefined as ReturnType<typeof setTimeout> | undefined, alive: true });

  const run = useCallback(() => {
    const s = state.current;
    if (s.inFlight) {
      s.stale = true;
      return;
    }
    s.inFlight = true;
    fetchRef.current().then(
      (v) => {
        if (!s.alive) return;
        setData(v);
        setError(undefined);
      },
      (e: Error) => s.alive && setError(e.message),
    ).finally(() => {
      s.inFlight = false;
      if (s.stale && s.alive) {
        s.stale = false;
        run();
      }
    });
  }, []);

  const schedule = useCallback(() => {
    const s = state.current;
    if (s.timer !== undefined) return;
    s.timer = setTimeout(() => {
      s.timer = undefined;
      run();
    }, batchMs);
  }, [run, batchMs]);

  const key = events.join(',');
  useEffect(() => {
    const s = state.current;
    s.alive = true;
    run();
    const offs = key
      .split(',')
      .filter(Boolean)
      .map((name) =>
        subscribe(name as EventName, (payload) => {
          if (acceptRef.current && !acceptRef.current(name as EventName, payload)) return;
          schedule();
        }),
      );
    offs.push(subscribe('events.resync', schedule));
    return () => {
      s.alive = false;
      if (s.timer !== undefined) clearTimeout(s.timer);
      s.timer = undefined;
      offs.forEach((off) => off());
    };
  }, [key, run, schedule]);
  /** `set` shows a fresher value at once (e.g. what a save returned) until the next refetch. */
  return { data, error, reload: run, set: setData };
}
