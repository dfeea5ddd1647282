// The store pod of copied mode (main/content/volume-copied.ts): Pod Security "restricted", the
// content placement, and little CPU and memory inside the quotas' bounds.
import { describe, expect, it } from 'vitest';
import { storePodManifest, storePodResources, STORE_LABELS } from '../../main/content/volume-copied';
import { JOB_USER_ID } from '../../main/content/volume';
import { DEFAULT_QUOTAS } from '../../shared/quota';

describe('store pod', () => {
  it('runs as the job user with no privileges, holds the claim, takes the placement, is not one of the launcher\'s jobs', () => {
    const pod = storePodManifest({
      name: 'offhost-content-store',
      namespace: 'ns',
      claimName: 'content',
      image: 'img:1',
      placement: { nodeSelector: { pool: 'content' }, tolerations: [{ key: 'dedicated', operator: 'Equal', value: 'content', effect: 'NoSchedule' }] },
      resources: storePodResources(DEFAULT_QUOTAS),
    });
    expect(pod.metadata?.labels).toEqual(STORE_LABELS);
    expect(Object.keys(pod.metadata?.labels ?? {})).not.toContain('offhost.dev/job-id');
    expect(pod.spec?.securityContext).toMatchObject({ runAsNonRoot: true, runAsUser: JOB_USER_ID, runAsGroup: JOB_USER_ID, seccompProfile: { type: 'RuntimeDefault' } });
    expect(pod.spec?.automountServiceAccountToken).toBe(false);
    const c = pod.spec!.containers[0]!;
    expect(c.securityContext).toEqual({ allowPrivilegeEscalation: false, capabilities: { drop: ['ALL'] }, runAsNonRoot: true, seccompProfile: { type: 'RuntimeDefault' } });
    expect(pod.spec?.volumes).toEqual([{ name: 'content', persistentVolumeClaim: { claimName: 'content' } }]);
    expect(pod.spec?.nodeSelector).toEqual({ pool: 'content' });
    expect(pod.spec?.tolerations).toHaveLength(1);
    expect(c.resources).toEqual({ requests: { cpu: '10m', memory: '64Mi' }, limits: { cpu: '1', memory: '256Mi' } });
  });

  it('asks within the bounds an admin set (raised minimums, lowered maximums)', () => {
    const q = { ...DEFAULT_QUOTAS, cpu_request: { min: 0.1, default: 0.5, max: 4 }, memory_request: { min: 128 * 1024 ** 2, default: 512 * 1024 ** 2, max: 1024 ** 3 }, cpu_limit: { min: 0.1, default: 0.5, max: 0.5 }, memory_limit: { min: 512 * 1024 ** 2, default: 1024 ** 3, max: 2 * 1024 ** 3 } };
    expect(storePodResources(q)).toEqual({ requests: { cpu: '100m', memory: '128Mi' }, limits: { cpu: '500m', memory: '512Mi' } });
    expect(storePodResources(undefined)).toBeUndefined();
  });
});
