// Pods and Jobs as the apiserver reports them → what the state machine reads. The objects are
// shaped as Kubernetes writes them for each case (scheduler, kubelet, Job controller).
import type * as k8s from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import { observeJob, observePod } from '../../main/launcher/observe';

const t = (s: string) => new Date(`2026-01-01T00:00:0${s}Z`);

function pod(status: k8s.V1PodStatus, extra: Partial<k8s.V1Pod> = {}): k8s.V1Pod {
  return { metadata: { name: 'offhost-job-1-abcde', ...extra.metadata }, spec: { containers: [], ...extra.spec }, status };
}

describe('observePod', () => {
  it('unschedulable: the scheduler’s reason and words from PodScheduled', () => {
    const o = observePod(
      pod({
        phase: 'Pending',
        conditions: [{ type: 'PodScheduled', status: 'False', reason: 'Unschedulable', message: '0/3 nodes are available: 3 Insufficient cpu.' }],
      }),
    );
    expect(o).toMatchObject({ phase: 'Pending', scheduled: { ok: false, reason: 'Unschedulable', message: '0/3 nodes are available: 3 Insufficient cpu.' }, container: null, ready: null });
  });

  it('image pull back-off: the main container’s waiting reason and message, not pulled', () => {
    const o = observePod(
      pod(
        {
          phase: 'Pending',
          conditions: [{ type: 'PodScheduled', status: 'True', lastTransitionTime: t('1') }],
          containerStatuses: [
            { name: 'main', ready: false, restartCount: 0, image: 'nope:1', imageID: '', state: { waiting: { reason: 'ImagePullBackOff', message: 'Back-off pulling image "nope:1"' } } },
          ],
        },
        { spec: { nodeName: 'n1', containers: [] } },
      ),
    );
    expect(o).toMatchObject({ node_name: 'n1', scheduled: { ok: true, at: '2026-01-01T00:00:01.000Z' }, container: { state: 'waiting', reason: 'ImagePullBackOff', message: 'Back-off pulling image "nope:1"', image_pulled: false } });
  });

  it('OOMKilled: exit code, reason and times from the terminated state', () => {
    const o = observePod(
      pod({
        phase: 'Failed',
        containerStatuses: [
          { name: 'main', ready: false, restartCount: 0, image: 'i', imageID: 'sha256:x', state: { terminated: { exitCode: 137, reason: 'OOMKilled', startedAt: t('1'), finishedAt: t('3') } } },
        ],
      }),
    );
    expect(o.container).toEqual({ state: 'terminated', exit_code: 137, reason: 'OOMKilled', message: '', started_at: '2026-01-01T00:00:01.000Z', finished_at: '2026-01-01T00:00:03.000Z' });
  });

  it('evicted: the pod-level reason and message; a deleting pod is marked', () => {
    const o = observePod(pod({ phase: 'Failed', reason: 'Evicted', message: 'The node was low on resource: memory.' }, { metadata: { name: 'p', deletionTimestamp: t('4') } }));
    expect(o).toMatchObject({ phase: 'Failed', reason: 'Evicted', message: 'The node was low on resource: memory.', deleting: true });
  });

  it('ready: the Ready condition’s time; the main container is picked by name', () => {
    const o = observePod(
      pod({
        phase: 'Running',
        conditions: [{ type: 'Ready', status: 'True', lastTransitionTime: t('2') }],
        containerStatuses: [
          { name: 'sidecar', ready: true, restartCount: 0, image: 'i', imageID: 'x', state: { terminated: { exitCode: 1 } } },
          { name: 'main', ready: true, restartCount: 0, image: 'i', imageID: 'x', state: { running: { startedAt: t('1') } } },
        ],
      }),
    );
    expect(o).toMatchObject({ ready: { at: '2026-01-01T00:00:02.000Z' }, container: { state: 'running', started_at: '2026-01-01T00:00:01.000Z' } });
  });
});

describe('observeJob', () => {
  it('DeadlineExceeded arrives first as FailureTarget; Complete as complete; nothing yet as null', () => {
    const cond = (type: string, reason: string, message = '') => ({ status: { conditions: [{ type, status: 'True', reason, message, lastTransitionTime: t('5') }] } }) as k8s.V1Job;
    expect(observeJob(cond('FailureTarget', 'DeadlineExceeded', 'Job was active longer than specified deadline'))).toEqual({
      outcome: 'failed',
      reason: 'DeadlineExceeded',
      message: 'Job was active longer than specified deadline',
      at: '2026-01-01T00:00:05.000Z',
    });
    expect(observeJob(cond('Complete', 'CompletionsReached'))).toMatchObject({ outcome: 'complete' });
    expect(observeJob({ status: { conditions: [{ type: 'Failed', status: 'False' }] } } as k8s.V1Job)).toBeNull();
    expect(observeJob({} as k8s.V1Job)).toBeNull();
  });
});
