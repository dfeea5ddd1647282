import { useCallback, useEffect, useState } from 'react';
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
