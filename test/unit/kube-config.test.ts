// Which cluster and namespace the settings name, and loading kubeconfig files the way kubectl
// merges a $KUBECONFIG list (real files in a temporary directory).
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../main/config';
import { DEFAULT_NAMESPACE, kubeSettingsFromEnv, loadKube } from '../../main/kube/config';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'offhost-kube-'));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

function kubeconfig(name: string, o: { current?: string; contexts: { name: string; cluster: string; namespace?: string }[]; clusters: string[] }): string {
  const file = path.join(dir, name);
  const yaml = [
    'apiVersion: v1',
    'kind: Config',
    ...(o.current ? [`current-context: ${o.current}`] : []),
    'clusters:',
    ...o.clusters.map((c) => `- name: ${c}\n  cluster:\n    server: https://${c}.example:6443`),
    'users:',
    '- name: u\n  user:\n    token: t',
    'contexts:',
    ...o.contexts.map((c) => `- name: ${c.name}\n  context:\n    cluster: ${c.cluster}\n    user: u${c.namespace ? `\n    namespace: ${c.namespace}` : ''}`),
  ].join('\n');
  fs.writeFileSync(file, yaml);
  return file;
}

const never = () => false;

describe('kubeSettingsFromEnv', () => {
  it('no cluster unless one is named (not ~/.kube/config alone)', () => {
    expect(kubeSettingsFromEnv({ HOME: '/home/x' }, never)).toBeNull();
    expect(loadConfig({}).kube).toBeNull();
  });

  it.each([
    [{ OFFHOST_KUBECONFIG: '/k/a' }, { kind: 'files', files: ['/k/a'], from: 'OFFHOST_KUBECONFIG' }],
    [{ OFFHOST_KUBECONFIG: '/k/a', KUBECONFIG: '/k/b' }, { kind: 'files', files: ['/k/a'], from: 'OFFHOST_KUBECONFIG' }],
    [{ KUBECONFIG: `/k/a${path.delimiter}${path.delimiter}/k/b` }, { kind: 'files', files: ['/k/a', '/k/b'], from: 'KUBECONFIG' }],
  ])('%j', (env, source) => {
    expect(kubeSettingsFromEnv(env, never)).toEqual({ source, context: null, namespace: null });
  });

  it('in a pod: its service account', () => {
    expect(kubeSettingsFromEnv({ KUBERNETES_SERVICE_HOST: '10.0.0.1' }, () => true)?.source).toEqual({ kind: 'in-cluster' });
    expect(kubeSettingsFromEnv({ KUBERNETES_SERVICE_HOST: '10.0.0.1' }, never)).toBeNull();
  });

  it('context and namespace', () => {
    expect(kubeSettingsFromEnv({ KUBECONFIG: '/k', OFFHOST_KUBE_CONTEXT: 'prod', OFFHOST_NAMESPACE: 'offhost-jobs' }, never)).toMatchObject({ context: 'prod', namespace: 'offhost-jobs' });
  });

  it.each([
    [{ KUBECONFIG: '/k', OFFHOST_NAMESPACE: 'Jobs' }, /OFFHOST_NAMESPACE must be a Kubernetes namespace name/],
    [{ KUBECONFIG: '/k', OFFHOST_NAMESPACE: 'a'.repeat(64) }, /at most 63/],
    [{ OFFHOST_NAMESPACE: 'jobs' }, /need a cluster: set OFFHOST_KUBECONFIG or KUBECONFIG/],
  ])('refuses %j', (env, why) => {
    expect(() => kubeSettingsFromEnv(env, never)).toThrow(why);
    expect(() => loadConfig(env)).toThrow(why);
  });
});

describe('loadKube', () => {
  const a = kubeconfig('a.yaml', { current: 'one', clusters: ['c1'], contexts: [{ name: 'one', cluster: 'c1', namespace: 'team-a' }, { name: 'shared', cluster: 'c1' }] });
  const b = kubeconfig('b.yaml', { current: 'two', clusters: ['c1', 'c2'], contexts: [{ name: 'two', cluster: 'c2' }, { name: 'shared', cluster: 'c2' }] });
  const files = (list: string[], over: object = {}) => ({ source: { kind: 'files' as const, files: list, from: 'KUBECONFIG' as const }, context: null, namespace: null, ...over });

  it('the current context, its cluster and namespace', () => {
    expect(loadKube(files([a]))).toMatchObject({ context: 'one', namespace: 'team-a', server: 'https://c1.example:6443' });
  });

  it('OFFHOST_NAMESPACE wins over the context; without either, the default', () => {
    expect(loadKube(files([a], { namespace: 'jobs' })).namespace).toBe('jobs');
    expect(loadKube(files([a], { context: 'shared' })).namespace).toBe(DEFAULT_NAMESPACE);
  });

  it('a list merges as kubectl does: the first file to define a name or the current context wins; missing files are skipped', () => {
    const k = loadKube(files([path.join(dir, 'missing.yaml'), a, b]));
    expect(k.context).toBe('one');
    expect(loadKube(files([a, b], { context: 'shared' })).server).toBe('https://c1.example:6443');
    expect(loadKube(files([a, b], { context: 'two' })).server).toBe('https://c2.example:6443');
    expect(loadKube(files([b, a], { context: 'shared' })).server).toBe('https://c2.example:6443');
  });

  it.each([
    [() => files([path.join(dir, 'nope.yaml')]), /the kubeconfig .*nope\.yaml does not exist/],
    [() => files([path.join(dir, 'nope.yaml'), path.join(dir, 'nope2.yaml')]), /none of the kubeconfig files exists/],
    [() => files([a], { context: 'staging' }), /no context "staging" \(it has: one, shared\)/],
    [() => files([kubeconfig('nocur.yaml', { clusters: ['c1'], contexts: [{ name: 'x', cluster: 'c1' }] })]), /no current-context; set OFFHOST_KUBE_CONTEXT \(contexts: x\)/],
    [() => files([kubeconfig('dangling.yaml', { current: 'x', clusters: ['c1'], contexts: [{ name: 'x', cluster: 'gone' }] })]), /names the cluster "gone", which the kubeconfig does not define/],
    [() => {
      const f = path.join(dir, 'broken.yaml');
      fs.writeFileSync(f, 'clusters: [');
      return files([f]);
    }, /cannot read the kubeconfig .*broken\.yaml/],
  ])('a clear error: %#', (settings, why) => {
    expect(() => loadKube(settings())).toThrow(why);
  });
});
