// The metrics sampler's pure parts: PodMetrics → job samples, the change set of a cycle, the
// retention cuts, the options from the environment, the status shown, percentages and NOTIFY splits.
import { describe, expect, it } from 'vitest';
import { cpuNanocores, diffUsage, mapPodMetrics, memoryBytes, type PodMetricsItem } from '../../main/metrics/pod-metrics';
import { DEFAULT_METRICS_OPTIONS, metricsOptionsFromEnv, minuteStart, parseDuration, retentionCuts } from '../../main/metrics/options';
import { presentStatus, type StoredStatus } from '../../main/metrics/sampler';
import { cpuMillicores } from '../../main/metrics/app-usage';
import { envelopes } from '../../main/events-pg';
import { parseJobMetricsInput, parseProcessesListInput, usagePercent } from '../../shared/processes';
import { parseGuid } from '../../shared/api';
import { AppError } from '../../shared/errors';

const G1 = '3f9a6c1e-0b7d-4e52-9a3c-2d1f0e8b7a65';
const G2 = '00000000-0000-4000-8000-000000000002';

function item(id: string | undefined, containers: [string, string][], extra: Partial<PodMetricsItem> = {}, guid = G1): PodMetricsItem {
  const labels: Record<string, string> = { 'app.kubernetes.io/managed-by': 'offhost', 'offhost.dev/content-guid': guid };
  if (id !== undefined) labels['offhost.dev/job-id'] = id;
  return {
    metadata: { name: `offhost-job-${id}-abc`, namespace: 'ns', labels },
    timestamp: '2026-12-06T05:00:15Z',
    window: '15s',
    containers: containers.map(([cpu, memory], i) => ({ name: `c${i}`, usage: { cpu, memory } })),
    ...extra,
  };
}

describe('quantities as metrics-server prints them', () => {
  it('reads nanocores, microcores, millicores and cores', () => {
    expect(cpuNanocores('123456789n')).toBe(123456789);
    expect(cpuNanocores('250u')).toBe(250_000);
    expect(cpuNanocores('250m')).toBe(250_000_000);
    expect(cpuNanocores('2')).toBe(2e9);
    expect(cpuNanocores('0')).toBe(0);
  });
  it('reads Ki, Mi, plain bytes and other suffixes', () => {
    expect(memoryBytes('1024Ki')).toBe(1048576);
    expect(memoryBytes('300Mi')).toBe(300 * 2 ** 20);
    expect(memoryBytes('4096')).toBe(4096);
    expect(memoryBytes('1G')).toBe(1e9);
  });
  it('refuses what is not a quantity', () => {
    expect(() => cpuNanocores('lots')).toThrow();
    expect(() => memoryBytes('-1Ki')).toThrow();
  });
});

describe('mapPodMetrics', () => {
  const known = new Map([
    [7, G1],
    [8, G2],
  ]);
  const now = 1_800_000_000;

  it('sums the containers of a known job and takes the PodMetrics timestamp', () => {
    const r = mapPodMetrics([item('7', [['125000000n', '1000Ki'], ['125000001n', '24Ki']])], known, now);
    expect(r).toMatchObject({ pods: 1, matched: 1, bad: 0 });
    // nanocores summed before rounding up to millicores: 250.000001m → 251m
    expect(r.samples).toEqual([{ job_id: 7, t: Date.parse('2026-12-06T05:00:15Z') / 1000, cpu_millicores: 251, memory_bytes: 1024 * 1024 }]);
  });

  it('ignores pods without our label, of unknown jobs, or of another content with the same number', () => {
    const r = mapPodMetrics([item(undefined, [['1m', '1Ki']]), item('99', [['1m', '1Ki']]), item('8', [['1m', '1Ki']], {}, G1), item('07', [['1m', '1Ki']])], known, now);
    expect(r).toMatchObject({ pods: 4, matched: 0, samples: [] });
  });

  it('compares the content guid without regard to case', () => {
    const r = mapPodMetrics([item('8', [['1m', '1Ki']], {}, G2.toUpperCase())], known, now);
    expect(r.matched).toBe(1);
  });

  it('keeps the newest figure when a job has two pods listed', () => {
    const older = item('7', [['100m', '1Ki']], { timestamp: '2026-12-06T05:00:00Z' });
    const newer = item('7', [['200m', '2Ki']], { timestamp: '2026-12-06T05:00:30Z' });
    expect(mapPodMetrics([newer, older], known, now).samples).toMatchObject([{ cpu_millicores: 200, memory_bytes: 2048 }]);
    expect(mapPodMetrics([older, newer], known, now).samples).toMatchObject([{ cpu_millicores: 200, memory_bytes: 2048 }]);
  });

  it('counts an unreadable item as bad, names it, and keeps the rest', () => {
    const r = mapPodMetrics([item('7', [['much', '1Ki']]), item('8', [['5m', '1Ki']], {}, G2)], known, now);
    expect(r.bad).toBe(1);
    expect(r.problems[0]).toMatch(/offhost-job-7/);
    expect(r.samples).toMatchObject([{ job_id: 8, cpu_millicores: 5 }]);
  });

  it('uses the cycle time when the timestamp is missing or unreadable; a pod with no containers uses nothing', () => {
    const r = mapPodMetrics([item('7', [], { timestamp: 'yesterday' })], known, now);
    expect(r.samples).toEqual([{ job_id: 7, t: now, cpu_millicores: 0, memory_bytes: 0 }]);
  });
});

describe('diffUsage', () => {
  it('sends new and changed figures, and the jobs that lost theirs', () => {
    const prev = new Map([
      [1, { t: 10, cpu_millicores: 5, memory_bytes: 100 }],
      [2, { t: 10, cpu_millicores: 5, memory_bytes: 100 }],
      [3, { t: 10, cpu_millicores: 5, memory_bytes: 100 }],
    ]);
    const { changed, gone } = diffUsage(prev, [
      { job_id: 1, t: 25, cpu_millicores: 5, memory_bytes: 100 }, // same figures, newer time: not sent
      { job_id: 2, t: 25, cpu_millicores: 6, memory_bytes: 100 },
      { job_id: 4, t: 25, cpu_millicores: 1, memory_bytes: 1 },
    ]);
    expect(changed.map((s) => s.job_id)).toEqual([2, 4]);
    expect(gone).toEqual([3]);
  });
});

describe('retention', () => {
  it('cuts raw samples at a minute start one raw-retention back, and minute averages one retention back', () => {
    const now = Date.parse('2026-12-06T12:34:56Z') / 1000;
    const { rawCut, minuteCut } = retentionCuts(now, DEFAULT_METRICS_OPTIONS);
    expect(new Date(rawCut * 1000).toISOString()).toBe('2026-12-06T11:34:00.000Z');
    expect(new Date(minuteCut * 1000).toISOString()).toBe('2026-11-29T12:34:56.000Z');
    expect(minuteStart(119)).toBe(60);
    expect(minuteStart(120)).toBe(120);
  });

  it('reads durations and bounds from the environment, naming the variable at fault', () => {
    expect(metricsOptionsFromEnv({})).toEqual(DEFAULT_METRICS_OPTIONS);
    expect(metricsOptionsFromEnv({ OFFHOST_METRICS_INTERVAL: '30s', OFFHOST_METRICS_RAW_RETENTION: '2h', OFFHOST_METRICS_RETENTION: '14d' })).toEqual({
      intervalMs: 30_000,
      rawRetentionMs: 7_200_000,
      retentionMs: 14 * 86_400_000,
    });
    expect(parseDuration('X', '90')).toBe(90_000);
    expect(parseDuration('X', '10m')).toBe(600_000);
    expect(() => metricsOptionsFromEnv({ OFFHOST_METRICS_INTERVAL: 'often' })).toThrow(/OFFHOST_METRICS_INTERVAL must be a duration/);
    expect(() => metricsOptionsFromEnv({ OFFHOST_METRICS_INTERVAL: '0s' })).toThrow(/OFFHOST_METRICS_INTERVAL must be from 1s/);
    expect(() => metricsOptionsFromEnv({ OFFHOST_METRICS_RAW_RETENTION: '30s' })).toThrow(/OFFHOST_METRICS_RAW_RETENTION/);
    expect(() => metricsOptionsFromEnv({ OFFHOST_METRICS_RETENTION: '30m' })).toThrow(/OFFHOST_METRICS_RETENTION must be at least/);
    expect(() => metricsOptionsFromEnv({ OFFHOST_METRICS_RETENTION: '100d' })).toThrow(/at most 90d/);
  });
});

describe('the status shown', () => {
  const stored: StoredStatus = {
    state: 'ok',
    error: null,
    last_sample_time: '2026-12-06T05:00:15.000Z',
    last_cycle_time: '2026-12-06T05:00:20.000Z',
    pods: 3,
    matched: 2,
    cycle_ms: 4,
    interval_seconds: 15,
    allocatable: null,
    allocatable_error: null,
  };
  const at = (iso: string) => Date.parse(iso);

  it('is ok while cycles keep coming, stale after three intervals without one', () => {
    expect(presentStatus(stored, DEFAULT_METRICS_OPTIONS, at('2026-12-06T05:00:50Z'))).toMatchObject({ state: 'ok', available: true, error: null, pods: 3, matched: 2, interval_seconds: 15, raw_retention_seconds: 3600, retention_seconds: 604800 });
    expect(presentStatus(stored, DEFAULT_METRICS_OPTIONS, at('2026-12-06T05:01:06Z'))).toMatchObject({ state: 'stale', available: false, error: expect.stringMatching(/No metrics cycle for 46 s/) });
  });
  it('says unavailable, starting or not configured', () => {
    expect(presentStatus({ ...stored, state: 'unavailable', error: 'install metrics-server' }, DEFAULT_METRICS_OPTIONS, at('2026-12-06T05:00:21Z'))).toMatchObject({ state: 'unavailable', available: false, error: 'install metrics-server' });
    expect(presentStatus(null, DEFAULT_METRICS_OPTIONS, 0)).toMatchObject({ state: 'starting', available: false });
    expect(presentStatus(stored, DEFAULT_METRICS_OPTIONS, 0, false)).toMatchObject({ state: 'not-configured', available: false, error: expect.stringMatching(/No cluster/) });
  });
});

describe('contract helpers', () => {
  it('usagePercent: one decimal; none without a figure or a bound', () => {
    expect(usagePercent(250, 1000)).toBe(25);
    expect(usagePercent(1, 3)).toBe(33.3);
    expect(usagePercent(1500, 1000)).toBe(150);
    expect(usagePercent(null, 1000)).toBeNull();
    expect(usagePercent(5, null)).toBeNull();
    expect(usagePercent(5, 0)).toBeNull();
  });
  it('cpuMillicores: CPU time over wall time', () => {
    expect(cpuMillicores(500_000, 1_000_000)).toBe(500);
    expect(cpuMillicores(3_000_000, 1_500_000)).toBe(2000);
    expect(cpuMillicores(1, 0)).toBe(0);
  });
  it('processes.list input: defaults, bounds, unknown fields', () => {
    expect(parseProcessesListInput(undefined)).toEqual({ hours: 24, limit: 2000 });
    expect(parseProcessesListInput({ hours: 1, limit: 10 })).toEqual({ hours: 1, limit: 10 });
    const err = (raw: unknown) => {
      try {
        parseProcessesListInput(raw);
      } catch (e) {
        return e as AppError;
      }
      throw new Error('accepted');
    };
    expect(err({ hours: 0 }).field).toBe('hours');
    expect(err({ hours: 169 }).field).toBe('hours');
    expect(err({ limit: 1.5 }).field).toBe('limit');
    expect(err({ other: 1 }).field).toBe('other');
  });
  it('jobs.metrics input: guid, key and an optional ISO since', () => {
    expect(parseJobMetricsInput({ guid: G1.toUpperCase(), key: 'abc_1', since: '2026-12-06T05:00:00+01:00' }, parseGuid)).toEqual({ guid: G1, key: 'abc_1', since: '2026-12-06T04:00:00.000Z' });
    expect(() => parseJobMetricsInput({ guid: G1, key: 'k', since: 'yesterday' }, parseGuid)).toThrow(/ISO time/);
    expect(() => parseJobMetricsInput({ guid: 'nope', key: 'k' }, parseGuid)).toThrow(AppError);
    expect(() => parseJobMetricsInput({ guid: G1, key: 'a b' }, parseGuid)).toThrow(/job key/);
    expect(() => parseJobMetricsInput([], parseGuid)).toThrow(/object/);
  });
});

describe('NOTIFY payloads of a metrics cycle', () => {
  it('are split on the rows (each part a whole event) when too long', () => {
    const rows = Array.from({ length: 5000 }, (_, i) => ({ id: i + 1, cpu_millicores: 250, memory_bytes: 314572800, sample_time: '2026-12-06T05:00:15.000Z' }));
    const parts = envelopes('o', 'processes.metrics', { t: 'x', rows, gone: [1, 2], status: { state: 'ok' } }).map((p) => JSON.parse(p) as { p: { rows: unknown[]; gone: number[] } });
    expect(parts.length).toBeGreaterThan(10);
    for (const p of parts) expect(JSON.stringify(p).length).toBeLessThan(7500);
    expect(parts.flatMap((p) => p.p.rows)).toEqual(rows);
    expect(parts.every((p) => p.p.gone.length === 2)).toBe(true);
  });
});
