// The admin's pod placement (OFFHOST_JOB_NODE_SELECTOR, OFFHOST_JOB_TOLERATIONS): JSON checked
// entry by entry, each refusal naming the variable and what to write instead.
import { describe, expect, it } from 'vitest';
import { kubeSettingsFromEnv } from '../../main/kube/config';
import { parseNodeSelector, parseTolerations, placementFromEnv } from '../../main/kube/placement';
import { loadConfig } from '../../main/config';

describe('job placement from the environment', () => {
  it('is empty when unset or blank', () => {
    expect(placementFromEnv({})).toEqual({ nodeSelector: {}, tolerations: [] });
    expect(placementFromEnv({ OFFHOST_JOB_NODE_SELECTOR: ' ', OFFHOST_JOB_TOLERATIONS: '' })).toEqual({ nodeSelector: {}, tolerations: [] });
  });

  it('reads a node selector and tolerations (operator Equal when left out)', () => {
    expect(parseNodeSelector('{"node.offhost.dev/pool":"content","tier":""}')).toEqual({ 'node.offhost.dev/pool': 'content', tier: '' });
    expect(parseTolerations('[{"key":"dedicated","value":"content","effect":"NoSchedule"},{"operator":"Exists"},{"key":"k","operator":"Exists","effect":"NoExecute","tolerationSeconds":30}]')).toEqual([
      { key: 'dedicated', operator: 'Equal', value: 'content', effect: 'NoSchedule' },
      { operator: 'Exists' },
      { key: 'k', operator: 'Exists', effect: 'NoExecute', tolerationSeconds: 30 },
    ]);
  });

  it.each([
    ['OFFHOST_JOB_NODE_SELECTOR', '{pool: content}', /OFFHOST_JOB_NODE_SELECTOR must be JSON/],
    ['OFFHOST_JOB_NODE_SELECTOR', '["a"]', /OFFHOST_JOB_NODE_SELECTOR must be a JSON object of node labels/],
    ['OFFHOST_JOB_NODE_SELECTOR', '{"Pool/x":"a"}', /OFFHOST_JOB_NODE_SELECTOR: the label key "Pool\/x" is not valid: its prefix/],
    ['OFFHOST_JOB_NODE_SELECTOR', '{"-pool":"a"}', /label key "-pool" is not valid: its name/],
    ['OFFHOST_JOB_NODE_SELECTOR', '{"pool":3}', /OFFHOST_JOB_NODE_SELECTOR: the value of "pool" must be a string/],
    ['OFFHOST_JOB_NODE_SELECTOR', '{"pool":"a b"}', /OFFHOST_JOB_NODE_SELECTOR: the value "a b" of "pool" is not valid/],
    ['OFFHOST_JOB_TOLERATIONS', '{"key":"a"}', /OFFHOST_JOB_TOLERATIONS must be a JSON array of tolerations/],
    ['OFFHOST_JOB_TOLERATIONS', '["a"]', /OFFHOST_JOB_TOLERATIONS\[0\] must be an object/],
    ['OFFHOST_JOB_TOLERATIONS', '[{"key":"a","efect":"NoSchedule"}]', /OFFHOST_JOB_TOLERATIONS\[0\]: unknown field "efect"/],
    ['OFFHOST_JOB_TOLERATIONS', '[{"key":"a","operator":"In"}]', /OFFHOST_JOB_TOLERATIONS\[0\]\.operator must be "Equal" or "Exists"/],
    ['OFFHOST_JOB_TOLERATIONS', '[{"key":"a","operator":"Exists","value":"b"}]', /operator "Exists" takes no value/],
    ['OFFHOST_JOB_TOLERATIONS', '[{"value":"b"}]', /without a key the operator must be "Exists"/],
    ['OFFHOST_JOB_TOLERATIONS', '[{"key":"a"},{"key":"b","effect":"NoSchedul"}]', /OFFHOST_JOB_TOLERATIONS\[1\]\.effect must be one of NoSchedule, PreferNoSchedule, NoExecute/],
    ['OFFHOST_JOB_TOLERATIONS', '[{"key":"a","effect":"NoSchedule","tolerationSeconds":5}]', /tolerationSeconds applies only with effect "NoExecute"/],
    ['OFFHOST_JOB_TOLERATIONS', '[{"key":"a","effect":"NoExecute","tolerationSeconds":"5"}]', /tolerationSeconds must be a whole number/],
    ['OFFHOST_JOB_TOLERATIONS', '[{"key":"a b"}]', /OFFHOST_JOB_TOLERATIONS\[0\]\.key "a b" is not valid/],
  ])('%s=%s is refused', (name, text, why) => {
    expect(() => placementFromEnv({ [name]: text })).toThrow(why);
    // At start-up: loadConfig reads it with the cluster settings, so the server refuses to start.
    expect(() => loadConfig({ KUBECONFIG: '/k', [name]: text })).toThrow(why);
  });

  it('belongs to the cluster settings, and needs a cluster', () => {
    const tol = '[{"key":"offhost.dev/real-node","operator":"Equal","value":"true","effect":"NoSchedule"}]';
    expect(kubeSettingsFromEnv({ KUBECONFIG: '/k', OFFHOST_JOB_TOLERATIONS: tol }, () => false)?.placement).toEqual({
      nodeSelector: {},
      tolerations: [{ key: 'offhost.dev/real-node', operator: 'Equal', value: 'true', effect: 'NoSchedule' }],
    });
    expect(kubeSettingsFromEnv({ KUBECONFIG: '/k' }, () => false)?.placement).toBeUndefined();
    expect(() => kubeSettingsFromEnv({ OFFHOST_JOB_TOLERATIONS: tol }, () => false)).toThrow(/OFFHOST_JOB_NODE_SELECTOR and OFFHOST_JOB_TOLERATIONS need a cluster/);
  });
});
