// "Test connection": can Offhost work with this cluster? The server's version, each permission
// the launcher and the quotas mirror need (one SelfSubjectAccessReview per verb and resource, so
// the answer names exactly what is missing), and whether metrics.k8s.io answers. Every part is
// tried even when an earlier one fails, so one call tells the admin everything.
import * as k8s from '@kubernetes/client-node';
import type { ConnectionReport, Permission } from '../../shared/cluster';
import type { KubeConnection } from './config';
import { LAUNCHER_PERMISSIONS, permissionKey } from './permissions';

export type { ConnectionReport, Permission };

/** What Offhost does in its namespace: main/kube/permissions.ts (also the Helm chart's Role). */
export const NEEDED_PERMISSIONS: readonly Permission[] = LAUNCHER_PERMISSIONS;

export function permissionName(p: Pick<Permission, 'verb' | 'group' | 'resource' | 'subresource'>): string {
  return permissionKey(p);
}

/** `asked`: the permissions to ask about (main/kube/permissions.ts neededPermissions for the way Offhost runs). */
export async function testConnection(conn: KubeConnection, timeoutMs = 10_000, asked: readonly Permission[] = NEEDED_PERMISSIONS): Promise<ConnectionReport> {
  const { kc, namespace } = conn;
  const within = <T>(p: Promise<T>) =>
    Promise.race([p, new Promise<never>((_, reject) => setTimeout(() => reject(new Error(`no answer within ${timeoutMs / 1000} s`)), timeoutMs).unref())]);

  let version: ConnectionReport['version'];
  try {
    const v = await within(kc.makeApiClient(k8s.VersionApi).getCode());
    version = { ok: true, gitVersion: v.gitVersion };
  } catch (e) {
    version = { ok: false, error: words(e) };
  }

  const auth = kc.makeApiClient(k8s.AuthorizationV1Api);
  const permissions = await Promise.all(
    asked.map(async (p) => {
      try {
        const review = await within(
          auth.createSelfSubjectAccessReview({
            body: { spec: { resourceAttributes: { namespace, verb: p.verb, group: p.group, resource: p.resource, ...(p.subresource ? { subresource: p.subresource } : {}) } } },
          }),
        );
        return { ...p, allowed: review.status?.allowed === true, reason: review.status?.reason ?? review.status?.evaluationError ?? '' };
      } catch (e) {
        return { ...p, allowed: false, reason: `cannot ask: ${words(e)}` };
      }
    }),
  );
  const missing = permissions.filter((p) => !p.allowed).map((p) => `${permissionName(p)} (${p.why})`);

  let metrics: ConnectionReport['metrics'];
  try {
    await within(kc.makeApiClient(k8s.CustomObjectsApi).listNamespacedCustomObject({ group: 'metrics.k8s.io', version: 'v1beta1', namespace, plural: 'pods' }));
    metrics = { ok: true, message: 'metrics.k8s.io answers: CPU and memory use can be shown.' };
  } catch (e) {
    metrics = { ok: false, message: `metrics.k8s.io does not answer (${words(e)}); install metrics-server to see CPU and memory use. Everything else works without it.` };
  }
  return { ok: version.ok && missing.length === 0, server: conn.server, context: conn.context, namespace, version, permissions, missing, metrics };
}

function words(e: unknown): string {
  if (e instanceof k8s.ApiException) {
    const body = e.body as unknown;
    const message = typeof body === 'string' ? safeMessage(body) : body && typeof body === 'object' && 'message' in body ? String((body as { message: unknown }).message) : undefined;
    return `HTTP ${e.code}${message ? `: ${message}` : ''}`;
  }
  return e instanceof Error ? e.message : String(e);
}

function safeMessage(body: string): string {
  try {
    return (JSON.parse(body) as { message?: string }).message ?? body.slice(0, 200);
  } catch {
    return body.slice(0, 200);
  }
}
