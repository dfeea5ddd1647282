// processes.* and jobs.metrics (shared/api.ts): thin adapters over the metrics service.
import { AppError } from '../../shared/errors';
import type { Handlers } from '../api/handlers';
import type { MetricsService } from './service';

export function metricsHandlers(metrics: MetricsService | undefined): Pick<Handlers, 'processes.list' | 'processes.summary' | 'jobs.metrics'> {
  const need = () => {
    if (!metrics) throw new AppError('Internal', 'This core was assembled without the metrics service.');
    return metrics;
  };
  return {
    'processes.list': (input) => need().list(input),
    'processes.summary': () => need().summary(),
    'jobs.metrics': ({ guid, key, since }, ctx) => need().jobMetrics(guid, key, ctx, since),
  };
}
