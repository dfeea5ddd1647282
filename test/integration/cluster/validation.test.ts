/**
 * The real kube-apiserver rejects invalid objects with its own status code and message — what
 * the launcher must surface to users. Works on any cluster (local or kind).
 */
import { describe, expect, it } from 'vitest';

import { apiErrorCode, apiErrorMessage, kube, useTestNamespace } from '../../cluster/kube.js';
import { jobManifest } from './helpers.js';

const ns = useTestNamespace('validation');

async function rejection(p: Promise<unknown>): Promise<{ code: number | undefined; message: string }> {
  try {
    await p;
  } catch (err) {
    return { code: apiErrorCode(err), message: apiErrorMessage(err) };
  }
  throw new Error('the apiserver accepted an invalid object');
}

describe('apiserver validation', () => {
  it('rejects a bad resource quantity', async () => {
    const { batch } = kube();
    const job = jobManifest({ name: 'bad-quantity', requests: { cpu: 'lots', memory: '1Gi' }, limits: { cpu: '1' } });
    const { code, message } = await rejection(batch.createNamespacedJob({ namespace: ns.name, body: job }));
    expect(code).toBe(400);
    expect(message).toMatch(/quantities must match the regular expression/);
  });

  it('rejects an invalid object name', async () => {
    const { batch } = kube();
    const { code, message } = await rejection(
      batch.createNamespacedJob({ namespace: ns.name, body: jobManifest({ name: 'Bad_Name' }) }),
    );
    expect(code).toBe(422);
    expect(message).toContain('Job.batch "Bad_Name" is invalid');
    expect(message).toMatch(/RFC 1123/);
  });

  it('rejects requests above limits', async () => {
    const { batch } = kube();
    const job = jobManifest({ name: 'over-limit', requests: { cpu: '2', memory: '1Gi' }, limits: { cpu: '1', memory: '1Gi' } });
    const { code, message } = await rejection(batch.createNamespacedJob({ namespace: ns.name, body: job }));
    expect(code).toBe(422);
    expect(message).toMatch(/must be less than or equal to cpu limit/);
  });

  it('accepts the same Job once it is valid', async () => {
    const { batch } = kube();
    const created = await batch.createNamespacedJob({ namespace: ns.name, body: jobManifest({ name: 'good-name' }) });
    expect(created.metadata?.uid).toBeTruthy();
    expect(created.spec?.template.spec?.containers[0]?.resources?.requests?.cpu).toBe('500m');
  });
});
