// How often the metrics sampler reads metrics.k8s.io and how long samples are kept (README
// "Metrics"): OFFHOST_METRICS_INTERVAL, OFFHOST_METRICS_RAW_RETENTION, OFFHOST_METRICS_RETENTION.
// Durations are whole numbers with a unit (s, m, h, d), e.g. "15s", "1h", "7d"; a bare number is seconds.

export interface MetricsOptions {
  /** One PodMetrics list per interval. metrics-server's resolution is 15 s by default (at least 10 s). */
  intervalMs: number;
  /** Raw samples older than this are replaced by their minute averages. */
  rawRetentionMs: number;
  /** Minute averages older than this are deleted. */
  retentionMs: number;
}

export const DEFAULT_METRICS_OPTIONS: MetricsOptions = {
  intervalMs: 15_000,
  rawRetentionMs: 3_600_000,
  retentionMs: 7 * 86_400_000,
};

const UNITS: Record<string, number> = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };
const MAX_RETENTION_MS = 90 * 86_400_000;

/** "15s" → 15000; "90" → 90000. Throws with the variable's name on anything else. */
export function parseDuration(name: string, text: string): number {
  const m = /^(\d{1,9})\s*([smhd]?)$/.exec(text.trim());
  if (!m) throw new Error(`${name} must be a duration such as 15s, 10m, 1h or 7d, not ${JSON.stringify(text)}`);
  return Number(m[1]) * UNITS[m[2] || 's']!;
}

export function metricsOptionsFromEnv(env: NodeJS.ProcessEnv): MetricsOptions {
  const read = (name: string, fallback: number) => {
    const text = env[name];
    return text === undefined || text.trim() === '' ? fallback : parseDuration(name, text);
  };
  return checkMetricsOptions({
    intervalMs: read('OFFHOST_METRICS_INTERVAL', DEFAULT_METRICS_OPTIONS.intervalMs),
    rawRetentionMs: read('OFFHOST_METRICS_RAW_RETENTION', DEFAULT_METRICS_OPTIONS.rawRetentionMs),
    retentionMs: read('OFFHOST_METRICS_RETENTION', DEFAULT_METRICS_OPTIONS.retentionMs),
  });
}

/** The bounds that keep the store and the cycle sane; each error names the variable to change. */
export function checkMetricsOptions(o: MetricsOptions): MetricsOptions {
  if (o.intervalMs < 1000 || o.intervalMs > 3_600_000)
    throw new Error(`OFFHOST_METRICS_INTERVAL must be from 1s to 1h (metrics-server measures every 15 s by default), not ${o.intervalMs / 1000}s`);
  if (o.rawRetentionMs < 60_000 || o.rawRetentionMs < o.intervalMs)
    throw new Error(`OFFHOST_METRICS_RAW_RETENTION must be at least 1m and at least the interval, not ${o.rawRetentionMs / 1000}s`);
  if (o.retentionMs < o.rawRetentionMs || o.retentionMs > MAX_RETENTION_MS)
    throw new Error(`OFFHOST_METRICS_RETENTION must be at least OFFHOST_METRICS_RAW_RETENTION and at most 90d, not ${o.retentionMs / 1000}s`);
  return o;
}

/**
 * The retention cuts at `nowSec` (epoch seconds): raw samples before `rawCut` are averaged per
 * minute (the cut falls on a minute's start, so every minute averaged is complete), and minute
 * averages before `minuteCut` are deleted.
 */
export function retentionCuts(nowSec: number, o: Pick<MetricsOptions, 'rawRetentionMs' | 'retentionMs'>): { rawCut: number; minuteCut: number } {
  const rawCut = minuteStart(nowSec - Math.floor(o.rawRetentionMs / 1000));
  return { rawCut, minuteCut: nowSec - Math.floor(o.retentionMs / 1000) };
}

/** The start of the minute `sec` falls in. */
export function minuteStart(sec: number): number {
  return Math.floor(sec / 60) * 60;
}
