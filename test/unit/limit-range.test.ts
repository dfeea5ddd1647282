// The LimitRange manifest built from the quotas (pure), and the comparison that decides whether the
// object in the cluster must be put back.
import { describe, expect, it } from 'vitest';
import { LIMIT_RANGE_NAME, limitRangeManifest, limitRangeMatches } from '../../main/quotas/limit-range';
import { DEFAULT_QUOTAS, parseQuotas } from '../../shared/quota';

describe('limitRangeManifest', () => {
  it('mirrors the default quotas', () => {
    expect(limitRangeManifest(DEFAULT_QUOTAS, 'content')).toEqual({
      apiVersion: 'v1',
      kind: 'LimitRange',
      metadata: {
        name: LIMIT_RANGE_NAME,
        namespace: 'content',
        labels: { 'app.kubernetes.io/managed-by': 'offhost', 'app.kubernetes.io/name': 'offhost-quotas' },
        annotations: { 'offhost.dev/note': expect.stringContaining('edits here are put back') },
      },
      spec: {
        limits: [
          {
            type: 'Container',
            // min: the request minima; max: the limit maxima; default: the default limits.
            min: { cpu: '10m', memory: '64Mi' },
            max: { cpu: '8', memory: '32Gi' },
            _default: { cpu: '1', memory: '1Gi' },
            defaultRequest: { cpu: '500m', memory: '512Mi' },
          },
        ],
      },
    });
  });

  it('leaves out a minimum of 0, per resource', () => {
    const q = parseQuotas({ ...DEFAULT_QUOTAS, cpu_request: { min: 0, default: 0.25, max: 2 } });
    expect(limitRangeManifest(q, 'ns').spec!.limits[0]!.min).toEqual({ memory: '64Mi' });
    const none = parseQuotas({ ...q, memory_request: { min: 0, default: 1e9, max: 2e9 } });
    const item = limitRangeManifest(none, 'ns').spec!.limits[0]!;
    expect(item.min).toBeUndefined();
    expect(item.defaultRequest).toEqual({ cpu: '250m', memory: '1G' });
  });

  it('writes odd amounts exactly', () => {
    const q = parseQuotas({ ...DEFAULT_QUOTAS, cpu_limit: { min: 0.1, default: 1.5, max: 7.125 }, memory_limit: { min: 128 * 1024 ** 2, default: 1_000_000_001, max: 32 * 1024 ** 3 } });
    const item = limitRangeManifest(q, 'ns').spec!.limits[0]!;
    expect(item.max!.cpu).toBe('7125m');
    expect(item._default).toEqual({ cpu: '1500m', memory: '1000000001' });
  });
});

describe('limitRangeMatches', () => {
  const wanted = limitRangeManifest(DEFAULT_QUOTAS, 'ns');
  const edit = (f: (lr: typeof wanted) => void) => {
    const copy = structuredClone(wanted);
    f(copy);
    return copy;
  };

  it.each([
    ['itself', (_: typeof wanted) => {}, true],
    ['the same amounts written differently, as the apiserver may', (lr: typeof wanted) => {
      lr.spec!.limits[0]!.max = { cpu: '8000m', memory: '34359738368' };
      lr.spec!.limits[0]!.defaultRequest = { cpu: '0.5', memory: '512Mi' };
    }, true],
    ['extra metadata the apiserver adds', (lr: typeof wanted) => {
      lr.metadata!.resourceVersion = '42';
      lr.metadata!.labels!.extra = 'x';
    }, true],
    ['a changed max', (lr: typeof wanted) => void (lr.spec!.limits[0]!.max!.cpu = '16'), false],
    ['a removed default', (lr: typeof wanted) => void delete lr.spec!.limits[0]!._default, false],
    ['an added resource', (lr: typeof wanted) => void (lr.spec!.limits[0]!.max!['ephemeral-storage'] = '1Gi'), false],
    ['an added ratio', (lr: typeof wanted) => void (lr.spec!.limits[0]!.maxLimitRequestRatio = { cpu: '2' }), false],
    ['another item', (lr: typeof wanted) => void lr.spec!.limits.push({ type: 'Pod', max: { cpu: '1' } }), false],
    ['another type', (lr: typeof wanted) => void (lr.spec!.limits[0]!.type = 'Pod'), false],
    ['our label removed', (lr: typeof wanted) => void delete lr.metadata!.labels!['app.kubernetes.io/managed-by'], false],
  ])('%s: %s', (_what, change, same) => {
    expect(limitRangeMatches(edit(change), wanted)).toBe(same);
  });

  it('a missing object never matches', () => {
    expect(limitRangeMatches(undefined, wanted)).toBe(false);
  });
});
