// shared/quota.ts as tables: the quota settings' own validation, content settings against them,
// what a launch gets (defaults, clamps, refusals), and the impact of changing the bounds.
import { describe, expect, it } from 'vitest';
import { AppError } from '../../shared/errors';
import {
  assertExecutionSettings,
  DEFAULT_QUOTAS,
  effectiveResources,
  parseQuotas,
  parseQuotasHistoryInput,
  parseQuotasPreviewInput,
  parseQuotasUpdateInput,
  quotaImpact,
  quotaProblems,
  validateExecutionSettings,
  type ContentSettingsItem,
  type ExecutionSettings,
  type Quotas,
} from '../../shared/quota';

const GiB = 1024 ** 3;
const MiB = 1024 ** 2;

/** DEFAULT_QUOTAS with one path replaced: set(q, 'cpu_request.max', 2). */
function withValue(path: string, value: unknown, base: unknown = DEFAULT_QUOTAS): Record<string, unknown> {
  const copy = structuredClone(base) as Record<string, unknown>;
  const keys = path.split('.');
  let o = copy as Record<string, unknown>;
  for (const k of keys.slice(0, -1)) o = o[k] as Record<string, unknown>;
  if (value === undefined) delete o[keys.at(-1)!];
  else o[keys.at(-1)!] = value;
  return copy;
}

const quotas = (changes: Record<string, unknown> = {}): Quotas => {
  let q: unknown = DEFAULT_QUOTAS;
  for (const [p, v] of Object.entries(changes)) q = withValue(p, v, q);
  return parseQuotas(q);
};

describe('quota settings', () => {
  it('the built-in defaults are valid and come back unchanged', () => {
    expect(parseQuotas(DEFAULT_QUOTAS)).toEqual(DEFAULT_QUOTAS);
  });

  it.each([
    // path, value, normalised value
    ['cpu_request.max', '2500m', 2.5],
    ['cpu_request.max', 3, 3],
    ['cpu_request.min', '1n', 0.001], // rounds up to a whole millicore
    ['cpu_request.min', 0, 0], // a minimum of 0: no minimum
    ['cpu_limit.max', '1e1', 10],
    ['memory_request.default', '256Mi', 256 * MiB],
    ['memory_limit.max', '40G', 40e9],
    ['memory_limit.max', 40 * GiB, 40 * GiB],
    ['memory_request.min', 0, 0],
  ])('accepts %s = %j as %j', (path, value, expected) => {
    const q = parseQuotas(withValue(path, value)) as unknown as Record<string, Record<string, number>>;
    const [f, k] = path.split('.') as [string, string];
    expect(q[f]![k]).toBe(expected);
  });

  it.each([
    // path, value, field at fault, code, message fragment
    ['cpu_request.max', 'lots', 'cpu_request.max', 'InvalidQuota', '"lots" is not valid'],
    ['cpu_request.max', -1, 'cpu_request.max', 'InvalidQuota', 'must not be negative'],
    ['cpu_request.max', '-1', 'cpu_request.max', 'InvalidQuota', 'it is negative'],
    ['cpu_request.max', Number.NaN, 'cpu_request.max', 'InvalidQuota', 'finite'],
    ['cpu_request.max', true, 'cpu_request.max', 'InvalidQuota', 'not a boolean'],
    ['cpu_request.max', null, 'cpu_request.max', 'InvalidQuota', 'not null'],
    ['cpu_request.max', undefined, 'cpu_request.max', 'InvalidQuota', 'is required'],
    ['cpu_request.max', ' 1', 'cpu_request.max', 'InvalidQuota', 'spaces'],
    ['cpu_request.default', 0, 'cpu_request.default', 'InvalidQuota', 'greater than 0'],
    ['memory_limit.max', 0, 'memory_limit.max', 'InvalidQuota', 'greater than 0'],
    ['memory_limit.max', '1e30', 'memory_limit.max', 'InvalidQuota', 'too large'],
    ['memory_limit', 5, 'memory_limit', 'InvalidQuota', 'must be an object'],
    ['memory_limit', undefined, 'memory_limit', 'InvalidQuota', 'is required'],
    ['memory_limit.avg', 5, 'memory_limit.avg', 'InvalidRequest', 'Unknown field "memory_limit.avg"'],
    ['gpu', 1, 'gpu', 'InvalidRequest', 'Unknown field "gpu"'],
    // min <= default <= max
    ['cpu_request.default', 0.005, 'cpu_request.default', 'InvalidQuota', 'below the minimum, 0.01 cores (10m)'],
    ['cpu_request.default', 5, 'cpu_request.default', 'InvalidQuota', 'above the maximum, 4 cores'],
    ['memory_request.max', '32Mi', 'memory_request.max', 'InvalidQuota', 'below the minimum, 67108864 bytes (64Mi)'],
    // request bounds <= limit bounds
    ['cpu_request.max', 8.5, 'cpu_request.max', 'InvalidQuota', 'is above the maximum CPU limit, 8 cores; a request can never exceed its limit'],
    ['cpu_request.min', 0.2, 'cpu_request.min', 'InvalidQuota', 'above the minimum CPU limit'],
    ['memory_request.default', '2Gi', 'memory_request.default', 'InvalidQuota', 'above the default memory limit'],
    // jobs
    ['max_concurrent_jobs', 0, 'max_concurrent_jobs', 'InvalidQuota', 'from 1 to 10000'],
    ['max_concurrent_jobs', 2.5, 'max_concurrent_jobs', 'InvalidQuota', 'whole number'],
    ['max_concurrent_jobs', '5', 'max_concurrent_jobs', 'InvalidQuota', 'whole number'],
    ['max_concurrent_jobs', 10001, 'max_concurrent_jobs', 'InvalidQuota', 'from 1 to 10000'],
    ['max_concurrent_jobs', undefined, 'max_concurrent_jobs', 'InvalidQuota', 'is required'],
    // service accounts
    ['service_accounts.allowed', 'runner', 'service_accounts.allowed', 'InvalidQuota', 'must be a list'],
    ['service_accounts.allowed', ['ok', 'Bad_Name'], 'service_accounts.allowed[1]', 'InvalidQuota', 'not a valid service account name'],
    ['service_accounts.allowed', ['a', 'a'], 'service_accounts.allowed[1]', 'InvalidQuota', 'listed twice'],
    ['service_accounts.allowed', [''], 'service_accounts.allowed[0]', 'InvalidQuota', 'is empty'],
    ['service_accounts.allowed', ['x'.repeat(254)], 'service_accounts.allowed[0]', 'InvalidQuota', 'at most 253'],
    ['service_accounts.allowed', Array.from({ length: 101 }, (_, i) => `sa-${i}`), 'service_accounts.allowed', 'LimitExceeded', 'at most 100'],
    ['service_accounts.default', 'runner', 'service_accounts.default', 'InvalidQuota', 'must also be in "service_accounts.allowed"'],
    ['service_accounts.default', 'Runner', 'service_accounts.default', 'InvalidQuota', 'not a valid service account name'],
    ['service_accounts.extra', 1, 'service_accounts.extra', 'InvalidRequest', 'Unknown field'],
    ['service_accounts', [], 'service_accounts', 'InvalidQuota', 'must be an object'],
  ])('refuses %s = %j: %s %s', (path, value, field, code, fragment) => {
    const problems = quotaProblems(withValue(path, value));
    expect(problems).toHaveLength(1);
    expect(problems[0]).toMatchObject({ field, code });
    expect(problems[0]!.message).toContain(fragment);
    const err = (() => {
      try {
        parseQuotas(withValue(path, value));
      } catch (e) {
        return e as AppError;
      }
      throw new Error('accepted');
    })();
    expect(err).toBeInstanceOf(AppError);
    expect(err.field).toBe(field);
  });

  it('reports every bad field at once, one error each', () => {
    let q: unknown = withValue('cpu_request.max', 'x');
    q = withValue('memory_limit.default', 64 * GiB, q);
    q = withValue('max_concurrent_jobs', -3, q);
    const problems = quotaProblems(q);
    expect(problems.map((p) => p.field)).toEqual(['cpu_request.max', 'memory_limit.default', 'max_concurrent_jobs']);
    const body = (() => {
      try {
        parseQuotas(q);
      } catch (e) {
        return (e as AppError).toBody();
      }
    })();
    expect(body?.details).toHaveLength(3);
  });

  it('a field broken two ways gets one error, the first', () => {
    // default above max AND above the default limit: one error for cpu_request.default
    const problems = quotaProblems(withValue('cpu_request.default', 5));
    expect(problems.filter((p) => p.field === 'cpu_request.default')).toHaveLength(1);
  });

  it('refuses a non-object', () => {
    expect(quotaProblems(null)[0]).toMatchObject({ code: 'InvalidQuota', message: expect.stringContaining('must be an object') });
    expect(quotaProblems([])[0]!.message).toContain('not a list');
  });

  it('a default service account that is allowed is accepted', () => {
    const q = quotas({ 'service_accounts.allowed': ['runner', 'reports.readers'], 'service_accounts.default': 'runner' });
    expect(q.service_accounts).toEqual({ allowed: ['runner', 'reports.readers'], default: 'runner' });
  });
});

describe('content execution settings', () => {
  const q = quotas({ 'service_accounts.allowed': ['runner'] });

  it.each([
    [{}, { cpu_request: null, cpu_limit: null, memory_request: null, memory_limit: null, service_account_name: null }],
    [{ cpu_request: 0.25, cpu_limit: '2', memory_request: '256Mi', memory_limit: 2 * GiB }, { cpu_request: 0.25, cpu_limit: 2, memory_request: 256 * MiB, memory_limit: 2 * GiB }],
    [{ cpu_request: '250m' }, { cpu_request: 0.25 }],
    [{ cpu_request: 0.0101 }, { cpu_request: 0.011 }], // rounds up to whole millicores
    [{ cpu_request: null, memory_limit: null }, { cpu_request: null, memory_limit: null }],
    [{ service_account_name: 'runner' }, { service_account_name: 'runner' }],
    [{ cpu_request: 1, cpu_limit: 1 }, { cpu_request: 1, cpu_limit: 1 }], // request == limit
    [{ cpu_request: 4, cpu_limit: 8 }, { cpu_request: 4, cpu_limit: 8 }], // at the maxima
    [{ cpu_request: 0.01, cpu_limit: 0.1 }, { cpu_request: 0.01, cpu_limit: 0.1 }], // at the minima
    [{ title: 'ignored', min_processes: 3 }, {}], // other content fields are not ours
  ])('accepts %j', (input, expected) => {
    const { settings, problems } = validateExecutionSettings(input, q);
    expect(problems).toEqual([]);
    expect(settings).toMatchObject(expected);
  });

  it.each([
    // input, field, code, message fragment
    [{ cpu_request: 'lots' }, 'cpu_request', 'InvalidCpuRequest', '"lots" is not valid'],
    [{ cpu_request: 0 }, 'cpu_request', 'InvalidCpuRequest', 'greater than 0 cores; leave it unset (null) for the default, 0.5 cores'],
    [{ cpu_request: -0.5 }, 'cpu_request', 'InvalidCpuRequest', 'must not be negative'],
    [{ cpu_request: true }, 'cpu_request', 'InvalidCpuRequest', 'not a boolean'],
    [{ cpu_request: 0.001 }, 'cpu_request', 'CpuRequestOutOfBounds', 'below the minimum CPU request of 0.01 cores (10m)'],
    [{ cpu_request: 4.5, cpu_limit: 5 }, 'cpu_request', 'CpuRequestOutOfBounds', 'above the maximum CPU request of 4 cores'],
    [{ cpu_request: 2, cpu_limit: 1 }, 'cpu_request', 'CpuRequestAboveLimit', 'cpu_request (2 cores) is above cpu_limit (1 core)'],
    [{ cpu_limit: 'a lot' }, 'cpu_limit', 'InvalidCpuLimit', 'not valid'],
    [{ cpu_limit: 0 }, 'cpu_limit', 'InvalidCpuLimit', 'greater than 0'],
    [{ cpu_limit: 0.05 }, 'cpu_limit', 'CpuLimitOutOfBounds', 'below the minimum CPU limit of 0.1 cores (100m)'],
    [{ cpu_limit: 16 }, 'cpu_limit', 'CpuLimitOutOfBounds', 'above the maximum CPU limit of 8 cores'],
    [{ memory_request: '1Qi' }, 'memory_request', 'InvalidMemoryRequest', 'not valid'],
    [{ memory_request: 0 }, 'memory_request', 'MemoryRequestOutOfBounds', 'below the minimum memory request of 67108864 bytes (64Mi)'],
    [{ memory_request: 17 * GiB, memory_limit: 20 * GiB }, 'memory_request', 'MemoryRequestOutOfBounds', 'above the maximum memory request of 17179869184 bytes (16Gi)'],
    [{ memory_request: 2 * GiB, memory_limit: GiB }, 'memory_request', 'MemoryRequestAboveLimit', 'is above memory_limit'],
    [{ memory_limit: [] }, 'memory_limit', 'InvalidMemoryLimit', 'not a list'],
    [{ memory_limit: 100 * MiB }, 'memory_limit', 'MemoryLimitOutOfBounds', 'below the minimum memory limit'],
    [{ memory_limit: '33Gi' }, 'memory_limit', 'MemoryLimitOutOfBounds', 'above the maximum memory limit of 34359738368 bytes (32Gi)'],
    [{ service_account_name: 'Runner' }, 'service_account_name', 'InvalidServiceAccountName', 'not a valid service account name'],
    [{ service_account_name: 7 }, 'service_account_name', 'InvalidServiceAccountName', 'must be text'],
    [{ service_account_name: 'admin' }, 'service_account_name', 'ServiceAccountNotAllowed', 'allowed: "runner"'],
  ])('refuses %j: %s %s', (input, field, code, fragment) => {
    const { problems } = validateExecutionSettings(input, q);
    expect(problems).toHaveLength(1);
    expect(problems[0]).toMatchObject({ field, code });
    expect(problems[0]!.message).toContain(fragment);
  });

  it('says when no service account is allowed at all', () => {
    const { problems } = validateExecutionSettings({ service_account_name: 'runner' }, DEFAULT_QUOTAS);
    expect(problems[0]!.message).toContain('no service accounts are allowed');
  });

  it('one error per field, every field at once', () => {
    const input = { cpu_request: 9, cpu_limit: 0.01, memory_request: 'x', memory_limit: 64 * GiB, service_account_name: 'nope' };
    const { problems } = validateExecutionSettings(input, q);
    expect(problems.map((p) => [p.field, p.code])).toEqual([
      ['cpu_request', 'CpuRequestOutOfBounds'],
      ['cpu_limit', 'CpuLimitOutOfBounds'],
      ['memory_request', 'InvalidMemoryRequest'],
      ['memory_limit', 'MemoryLimitOutOfBounds'],
      ['service_account_name', 'ServiceAccountNotAllowed'],
    ]);
    try {
      assertExecutionSettings(input, q);
      throw new Error('accepted');
    } catch (e) {
      expect(e).toBeInstanceOf(AppError);
      expect((e as AppError).toBody().details).toHaveLength(5);
      expect((e as AppError).status).toBe(400);
    }
  });

  it('a PATCH is checked on the fields it changes (and the pair they belong to)', () => {
    // memory_limit is outside new bounds already; changing cpu_request alone is not blocked by it.
    const stored = { cpu_request: null, cpu_limit: null, memory_request: null, memory_limit: 64 * GiB, service_account_name: null };
    expect(validateExecutionSettings({ ...stored, cpu_request: 1 }, q, { changed: ['cpu_request'] }).problems).toEqual([]);
    // a changed field out of range is reported
    expect(validateExecutionSettings({ ...stored, memory_request: 20 * GiB }, q, { changed: ['memory_request'] }).problems.map((p) => p.field)).toEqual(['memory_request']);
    // a changed limit below a stored request: the pair is reported on the request
    const s2 = { ...stored, memory_limit: null, cpu_request: 2 };
    expect(validateExecutionSettings({ ...s2, cpu_limit: 1 }, q, { changed: ['cpu_limit'] }).problems.map((p) => p.code)).toEqual(['CpuRequestAboveLimit']);
    // invalid values are always reported
    expect(validateExecutionSettings({ ...stored, cpu_limit: 'bad' }, q, { changed: [] }).problems.map((p) => p.field)).toEqual(['cpu_limit']);
  });
});

const none: ExecutionSettings = { cpu_request: null, cpu_limit: null, memory_request: null, memory_limit: null, service_account_name: null };

describe('effectiveResources (what a launch gets)', () => {
  const q = quotas({ 'service_accounts.allowed': ['runner', 'etl'], 'service_accounts.default': 'runner' });

  it.each([
    // content settings, expected cpu_request, cpu_limit, memory_request, memory_limit
    ['nothing set: the defaults', {}, [0.5, 1, 512 * MiB, GiB]],
    ['both set', { cpu_request: 2, cpu_limit: 4 }, [2, 4, 512 * MiB, GiB]],
    ['only a limit below the default request: request follows it down', { cpu_limit: 0.2 }, [0.2, 0.2, 512 * MiB, GiB]],
    ['only a limit above the default request', { cpu_limit: 3 }, [0.5, 3, 512 * MiB, GiB]],
    ['only a request above the default limit: limit follows it up', { memory_request: 3 * GiB }, [0.5, 1, 3 * GiB, 3 * GiB]],
    ['only a request below the default limit', { memory_request: 128 * MiB }, [0.5, 1, 128 * MiB, GiB]],
  ])('%s', (_what, settings, [cr, cl, mr, ml]) => {
    const e = effectiveResources({ ...none, ...settings }, q);
    expect([e.cpu_request, e.cpu_limit, e.memory_request, e.memory_limit]).toEqual([cr, cl, mr, ml]);
    expect(e.clamped).toEqual([]);
    expect(e.refused).toBeNull();
    expect(e.service_account_name).toBe('runner');
  });

  it('says where each value came from', () => {
    const e = effectiveResources({ ...none, cpu_limit: 2, service_account_name: 'etl' }, q);
    expect(e.source).toEqual({ cpu_request: 'default', cpu_limit: 'content', memory_request: 'default', memory_limit: 'default', service_account_name: 'content' });
    expect(e.service_account_name).toBe('etl');
  });

  it.each([
    // settings, field, bound, launch value
    [{ cpu_limit: 20 }, 'cpu_limit', 'max', 8],
    [{ cpu_request: 0.001 }, 'cpu_request', 'min', 0.01],
    [{ memory_limit: 64 * GiB }, 'memory_limit', 'max', 32 * GiB],
    [{ memory_request: MiB }, 'memory_request', 'min', 64 * MiB],
    [{ cpu_request: 3, cpu_limit: 2 }, 'cpu_request', 'limit', 2],
  ])('clamps %j: %s to its %s', (settings, field, bound, launch) => {
    const e = effectiveResources({ ...none, ...settings }, q);
    expect(e.clamped).toHaveLength(1);
    expect(e.clamped[0]).toMatchObject({ field, bound, launch_value: launch });
    expect((e as unknown as Record<string, number>)[field]).toBe(launch);
    expect(e.refused).toBeNull();
  });

  it('a request clamped by its max and then by a lower clamped limit is reported once, against the limit', () => {
    // request 6 (max 4), limit 20 -> new bounds: limit max 3
    const tight = quotas({ 'cpu_limit.max': 3, 'cpu_request.max': 3 });
    const e = effectiveResources({ ...none, cpu_request: 6, cpu_limit: 2 }, tight);
    expect(e.cpu_request).toBe(2);
    expect(e.cpu_limit).toBe(2);
    expect(e.clamped.filter((c) => c.field === 'cpu_request')).toEqual([expect.objectContaining({ bound: 'limit', launch_value: 2, value: 6 })]);
    expect(e.cpu_request).toBeLessThanOrEqual(e.cpu_limit);
  });

  it('refuses a service account that is not allowed (no silent swap)', () => {
    const e = effectiveResources({ ...none, service_account_name: 'admin' }, q);
    expect(e.refused).toMatchObject({ code: 'ServiceAccountNotAllowed', field: 'service_account_name' });
    expect(e.refused!.message).toContain('cannot launch');
    expect(e.service_account_name).toBe('admin');
  });

  it('the result always fits the bounds and request <= limit (every combination)', () => {
    const values = { cpu: [null, 0.001, 0.05, 0.5, 2, 5, 9], mem: [null, MiB, 100 * MiB, GiB, 20 * GiB, 40 * GiB] };
    for (const cr of values.cpu)
      for (const cl of values.cpu)
        for (const mr of values.mem)
          for (const ml of values.mem) {
            const e = effectiveResources({ cpu_request: cr, cpu_limit: cl, memory_request: mr, memory_limit: ml, service_account_name: null }, q);
            for (const f of ['cpu_request', 'cpu_limit', 'memory_request', 'memory_limit'] as const) {
              expect(e[f]).toBeGreaterThanOrEqual(q[f].min);
              expect(e[f]).toBeLessThanOrEqual(q[f].max);
            }
            expect(e.cpu_request).toBeLessThanOrEqual(e.cpu_limit);
            expect(e.memory_request).toBeLessThanOrEqual(e.memory_limit);
          }
  });
});

describe('quotaImpact', () => {
  const item = (guid: string, s: Partial<ExecutionSettings> = {}): ContentSettingsItem => ({ guid, name: `c-${guid}`, ...none, ...s });
  const contents = [
    item('a'), // follows the defaults
    item('b', { memory_limit: 24 * GiB }),
    item('c', { cpu_limit: 6, cpu_request: 3 }),
    item('d', { service_account_name: 'etl' }),
    item('e', { memory_limit: 40 * GiB }), // outside already (max 32 Gi)
  ];
  const current = quotas({ 'service_accounts.allowed': ['etl', 'runner'] });

  it('lists content that falls outside the new bounds and what its launch will do', () => {
    const next = quotas({
      'memory_limit.max': 16 * GiB,
      'memory_request.max': 8 * GiB,
      'cpu_limit.max': 4,
      'service_accounts.allowed': ['runner'],
    });
    const impact = quotaImpact(current, next, contents);
    expect(impact.content_count).toBe(5);
    expect(impact.affected.map((a) => a.guid)).toEqual(['b', 'c', 'd', 'e']);
    const by = Object.fromEntries(impact.affected.map((a) => [a.guid, a]));
    expect(by.b!.clamped).toEqual([expect.objectContaining({ field: 'memory_limit', value: 24 * GiB, launch_value: 16 * GiB, bound: 'max' })]);
    expect(by.b!.was_outside).toBe(false);
    expect(by.c!.clamped).toEqual([expect.objectContaining({ field: 'cpu_limit', launch_value: 4 })]);
    expect(by.d!.refused).toMatchObject({ code: 'ServiceAccountNotAllowed' });
    expect(by.d!.clamped).toEqual([]);
    expect(by.e!.was_outside).toBe(true);
    expect(impact.defaults_changed).toEqual([]);
  });

  it('nothing affected when bounds widen; defaults that change are counted with their followers', () => {
    const next = quotas({ 'memory_limit.max': 64 * GiB, 'memory_limit.default': 2 * GiB, 'cpu_request.default': 0.25, 'service_accounts.allowed': ['etl'] });
    const impact = quotaImpact(current, next, contents);
    expect(impact.affected).toEqual([]);
    expect(impact.defaults_changed).toEqual([
      { field: 'cpu_request', from: 0.5, to: 0.25, content_count: 4 },
      { field: 'memory_limit', from: GiB, to: 2 * GiB, content_count: 3 },
    ]);
  });

  it('a changed default service account is listed', () => {
    const next = quotas({ 'service_accounts.allowed': ['etl', 'runner'], 'service_accounts.default': 'runner' });
    expect(quotaImpact(current, next, contents).defaults_changed).toEqual([{ field: 'service_account_name', from: null, to: 'runner', content_count: 4 }]);
  });

  it('no content, no impact', () => {
    expect(quotaImpact(current, DEFAULT_QUOTAS, [])).toEqual({ content_count: 0, affected: [], defaults_changed: [] });
  });
});

describe('contract inputs', () => {
  it('preview and update name nested fields under "quotas."', () => {
    expect(() => parseQuotasPreviewInput({ quotas: withValue('cpu_limit.max', 'x') })).toThrow(expect.objectContaining({ field: 'quotas.cpu_limit.max' }));
    expect(() => parseQuotasUpdateInput({ quotas: DEFAULT_QUOTAS, version: -1 })).toThrow(expect.objectContaining({ field: 'version' }));
    expect(() => parseQuotasUpdateInput({ quotas: DEFAULT_QUOTAS, extra: 1 })).toThrow(expect.objectContaining({ field: 'extra' }));
    expect(() => parseQuotasPreviewInput({})).toThrow(expect.objectContaining({ field: 'quotas' }));
    expect(parseQuotasUpdateInput({ quotas: DEFAULT_QUOTAS, version: 3 })).toEqual({ quotas: DEFAULT_QUOTAS, version: 3 });
    expect(parseQuotasUpdateInput({ quotas: DEFAULT_QUOTAS })).toEqual({ quotas: DEFAULT_QUOTAS, version: null });
  });

  it('history takes an optional limit', () => {
    expect(parseQuotasHistoryInput(undefined)).toEqual({ limit: 50 });
    expect(parseQuotasHistoryInput({ limit: 5 })).toEqual({ limit: 5 });
    expect(() => parseQuotasHistoryInput({ limit: 0 })).toThrow(/from 1 to 500/);
  });
});
