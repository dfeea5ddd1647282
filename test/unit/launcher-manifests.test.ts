// The manifest builders for every app mode × job kind: names from the job id, labels, limits,
// the security settings Pod Security "restricted" asks for, the Service only for apps and APIs.
// (The cluster test proves admission by an apiserver that enforces "restricted".)
import { describe, expect, it } from 'vitest';
import { DEPLOYABLE_APP_MODES, JOB_KINDS, isRendered, jobTag, type AppMode, type JobKind } from '../../shared/content';
import { placementFromEnv as parsePlacement } from '../../main/kube/placement';
import { containerCommand, jobManifest, needsService, objectName, serviceManifest, type LaunchSpec } from '../../main/kube/manifests';

function spec(kind: JobKind, mode: AppMode, over: Partial<LaunchSpec> = {}): LaunchSpec {
  return {
    job: { id: 42, key: 'k42', kind, tag: jobTag(kind, mode), bundle_id: 7 },
    content: { guid: '0f4b8e2c-5c1e-4f7a-9d0b-3a2e1c4d5e6f', name: 'sales-report', app_mode: mode },
    image: 'ghcr.io/example/python:3.12',
    namespace: 'offhost',
    resources: { cpu_request: 0.5, cpu_limit: 1, memory_request: 512 * 1024 ** 2, memory_limit: 1024 ** 3, service_account_name: null },
    deadlineSeconds: kind === 'run' ? null : 3600,
    ttlSecondsAfterFinished: 600,
    ...over,
  };
}

const cases = DEPLOYABLE_APP_MODES.flatMap((mode) => JOB_KINDS.map((kind) => ({ mode, kind })));

describe('jobManifest for every app mode × job kind', () => {
  it.each(cases)('$mode × $kind', ({ mode, kind }) => {
    const job = jobManifest(spec(kind, mode));
    expect(job.metadata?.name).toBe('offhost-job-42');
    expect(job.metadata?.labels).toEqual({
      'app.kubernetes.io/managed-by': 'offhost',
      'app.kubernetes.io/name': 'offhost-content',
      'offhost.dev/job-id': '42',
      'offhost.dev/content-guid': '0f4b8e2c-5c1e-4f7a-9d0b-3a2e1c4d5e6f',
      'offhost.dev/kind': kind,
    });
    expect(job.metadata?.annotations?.['offhost.dev/tag']).toBe(jobTag(kind, mode));
    expect(job.spec?.backoffLimit).toBe(0);
    expect(job.spec?.ttlSecondsAfterFinished).toBe(600);
    expect(job.spec?.activeDeadlineSeconds).toBe(kind === 'run' ? undefined : 3600);
    const pod = job.spec!.template.spec!;
    expect(job.spec?.template.metadata?.labels?.['offhost.dev/job-id']).toBe('42');
    expect(pod.restartPolicy).toBe('Never');
    expect(pod.automountServiceAccountToken).toBe(false);
    expect(pod.serviceAccountName).toBeUndefined();
    // Pod Security "restricted": non-root, RuntimeDefault seccomp, no escalation, no capabilities.
    expect(pod.securityContext).toMatchObject({ runAsNonRoot: true, seccompProfile: { type: 'RuntimeDefault' } });
    expect(pod.securityContext?.runAsUser).not.toBe(0);
    expect(pod.hostNetwork ?? false).toBe(false);
    expect(pod.volumes ?? []).toEqual([]);
    expect(pod.containers).toHaveLength(1);
    const c = pod.containers[0]!;
    expect(c.image).toBe('ghcr.io/example/python:3.12');
    expect(c.securityContext).toEqual({ allowPrivilegeEscalation: false, capabilities: { drop: ['ALL'] }, runAsNonRoot: true, seccompProfile: { type: 'RuntimeDefault' } });
    expect(c.resources).toEqual({ requests: { cpu: '500m', memory: '512Mi' }, limits: { cpu: '1', memory: '1Gi' } });
    expect(c.command).toEqual(containerCommand(kind, mode, jobTag(kind, mode)));
    expect(Boolean(c.ports?.length)).toBe(needsService(kind, mode));
  });

  it('gives a Service only to running apps and APIs, owned by the Job', () => {
    for (const { mode, kind } of cases) expect(needsService(kind, mode), `${mode} × ${kind}`).toBe(kind === 'run' && !isRendered(mode));
    const svc = serviceManifest(spec('run', 'python-fastapi'), 'uid-1');
    expect(svc.metadata?.name).toBe('offhost-job-42');
    expect(svc.metadata?.ownerReferences).toEqual([{ apiVersion: 'batch/v1', kind: 'Job', name: 'offhost-job-42', uid: 'uid-1', controller: true, blockOwnerDeletion: true }]);
    expect(svc.spec?.selector).toEqual({ 'offhost.dev/job-id': '42', 'app.kubernetes.io/managed-by': 'offhost' });
    expect(svc.spec?.ports?.[0]?.targetPort).toBe('http');
  });

  it('mounts the token only for a named service account', () => {
    const pod = jobManifest(spec('run', 'shiny', { resources: { ...spec('run', 'shiny').resources, service_account_name: 'reader' } })).spec!.template.spec!;
    expect(pod.serviceAccountName).toBe('reader');
    expect(pod.automountServiceAccountToken).toBe(true);
  });

  it('prints clamped quantities as Kubernetes does and passes test annotations to the pod only', () => {
    const job = jobManifest(spec('build', 'shiny', { resources: { cpu_request: 0.25, cpu_limit: 1.5, memory_request: 1536 * 1024 ** 2, memory_limit: 2 * 1024 ** 3, service_account_name: null }, podAnnotations: { 'kwok.offhost.dev/outcome': 'fail' } }));
    expect(job.spec!.template.spec!.containers[0]!.resources).toEqual({ requests: { cpu: '250m', memory: '1536Mi' }, limits: { cpu: '1500m', memory: '2Gi' } });
    expect(job.spec!.template.metadata?.annotations?.['kwok.offhost.dev/outcome']).toBe('fail');
    expect(job.metadata?.annotations?.['kwok.offhost.dev/outcome']).toBeUndefined();
  });

  it("puts every pod where the admin's placement says (node selector, tolerations); none by default", () => {
    const none = jobManifest(spec('render', 'quarto-static')).spec!.template.spec!;
    expect(none.nodeSelector).toBeUndefined();
    expect(none.tolerations).toBeUndefined();
    const placement = parsePlacement({
      OFFHOST_JOB_NODE_SELECTOR: '{"node.offhost.dev/pool":"content","kubernetes.io/os":"linux"}',
      OFFHOST_JOB_TOLERATIONS: '[{"key":"offhost.dev/real-node","operator":"Equal","value":"true","effect":"NoSchedule"},{"key":"gpu","operator":"Exists"}]',
    });
    const placed = (kind: JobKind, mode: AppMode) => {
      const pod = jobManifest(spec(kind, mode, { placement })).spec!.template.spec!;
      return { nodeSelector: pod.nodeSelector, tolerations: pod.tolerations };
    };
    for (const { mode, kind } of cases) expect(placed(kind, mode), `${mode} × ${kind}`).toEqual(placed('run', 'shiny'));
    expect(placed('run', 'shiny')).toMatchInlineSnapshot(`
        {
          "nodeSelector": {
            "kubernetes.io/os": "linux",
            "node.offhost.dev/pool": "content",
          },
          "tolerations": [
            {
              "effect": "NoSchedule",
              "key": "offhost.dev/real-node",
              "operator": "Equal",
              "value": "true",
            },
            {
              "key": "gpu",
              "operator": "Exists",
            },
          ],
        }
      `);
    // The builder copies: a later change to the settings object cannot reach a built manifest.
    const pod = jobManifest(spec('build', 'shiny', { placement })).spec!.template.spec!;
    placement.tolerations[0]!.value = 'changed';
    expect(pod.tolerations?.[0]?.value).toBe('true');
  });

  it('refuses a job id that cannot make a name', () => {
    expect(() => objectName(0)).toThrow(/positive integer/);
    expect(() => objectName(1.5)).toThrow(/positive integer/);
  });
});

describe('jobManifest with an execution (the content volume, the script, the environment volumes)', () => {
  const execution = (kind: JobKind) => ({
    claimName: 'offhost-content',
    bundleSubPath: `bundles/${'a'.repeat(64)}`,
    librarySubPath: 'libraries/0f4b8e2c-5c1e-4f7a-9d0b-3a2e1c4d5e6f/lib-0123',
    outputSubPath: kind === 'render' ? 'jobs/42/output' : null,
    command: ['sh', '-c', 'echo hi'],
    environmentMounts: [
      { source: { volume_type: 'pvc' as const, pvc_name: 'shared-data' }, target: { path: '/data', read_only: true } },
      { source: { volume_type: 'nfs' as const, nfs_host: 'nfs.example.com', nfs_export_path: '/exports/x' }, target: { path: '/mnt/x', read_only: false } },
    ],
  });

  it.each([
    ['build', 'python-fastapi'],
    ['run', 'python-fastapi'],
    ['render', 'rmd-static'],
  ] as [JobKind, AppMode][])('%s × %s', (kind, mode) => {
    const job = jobManifest(spec(kind, mode, { execution: execution(kind) }));
    const pod = job.spec!.template.spec!;
    const c = pod.containers[0]!;
    expect(c.command).toEqual(['sh', '-c', 'echo hi']);
    expect(pod.securityContext).toMatchObject({ runAsNonRoot: true, runAsUser: 999, runAsGroup: 999, fsGroup: 999, seccompProfile: { type: 'RuntimeDefault' } });
    expect(c.securityContext).toEqual({ allowPrivilegeEscalation: false, capabilities: { drop: ['ALL'] }, runAsNonRoot: true, seccompProfile: { type: 'RuntimeDefault' } });
    const lib = c.volumeMounts!.find((m) => m.mountPath === '/opt/offhost/library')!;
    expect(lib.readOnly).toBe(kind !== 'build');
    expect(c.volumeMounts!.find((m) => m.mountPath === '/opt/offhost/bundle')).toMatchObject({ subPath: `bundles/${'a'.repeat(64)}`, readOnly: true });
    expect(Boolean(c.volumeMounts!.find((m) => m.mountPath === '/opt/offhost/output'))).toBe(kind === 'render');
    expect(c.readinessProbe).toEqual(kind === 'run' ? { tcpSocket: { port: 'http' }, periodSeconds: 2, timeoutSeconds: 1, failureThreshold: 1 } : undefined);
    expect({ volumes: pod.volumes, mounts: c.volumeMounts, workingDir: c.workingDir }).toMatchSnapshot();
  });
});
