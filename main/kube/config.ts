// Which cluster and namespace Offhost uses, and a loaded KubeConfig for it. The beginning of the
// cluster layer (the launcher, issue 9, grows the rest here): settings come from the environment
// (README "Configuration"), a kubeconfig list is merged the way kubectl merges $KUBECONFIG.
import fs from 'node:fs';
import path from 'node:path';
import * as k8s from '@kubernetes/client-node';
import { placementFromEnv, type Placement } from './placement';

export interface KubeSettings {
  /** Kubeconfig files (merged in order, as kubectl does), or the pod's own service account. */
  source: { kind: 'files'; files: string[]; from: 'OFFHOST_KUBECONFIG' | 'KUBECONFIG' } | { kind: 'in-cluster' };
  /** OFFHOST_KUBE_CONTEXT; null: the kubeconfig's current-context. */
  context: string | null;
  /** OFFHOST_NAMESPACE; null: the context's namespace, else DEFAULT_NAMESPACE. */
  namespace: string | null;
  /** OFFHOST_JOB_NODE_SELECTOR / OFFHOST_JOB_TOLERATIONS: where content's pods may run; absent: anywhere. */
  placement?: Placement;
}

/** Where content runs when neither OFFHOST_NAMESPACE nor the context names a namespace. */
export const DEFAULT_NAMESPACE = 'offhost';

const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

/**
 * The cluster settings from the environment, or null when no cluster is configured. A cluster is
 * configured only when named: OFFHOST_KUBECONFIG, KUBECONFIG, or running in a pod. ~/.kube/config
 * alone is not enough — Offhost writes to the cluster (the LimitRange, jobs), so it never picks
 * up whichever cluster a workstation happens to point at.
 */
export function kubeSettingsFromEnv(env: NodeJS.ProcessEnv, exists: (file: string) => boolean = fs.existsSync): KubeSettings | null {
  const context = env.OFFHOST_KUBE_CONTEXT?.trim() || null;
  const namespace = env.OFFHOST_NAMESPACE?.trim() || null;
  if (namespace !== null && (namespace.length > 63 || !DNS_LABEL.test(namespace)))
    throw new Error(`OFFHOST_NAMESPACE must be a Kubernetes namespace name (lowercase letters, digits and "-", at most 63 characters), not ${JSON.stringify(namespace)}`);
  const placement = placementFromEnv(env);
  const placed = Object.keys(placement.nodeSelector).length > 0 || placement.tolerations.length > 0;
  let source: KubeSettings['source'] | null = null;
  if (env.OFFHOST_KUBECONFIG?.trim()) source = { kind: 'files', files: [path.resolve(env.OFFHOST_KUBECONFIG.trim())], from: 'OFFHOST_KUBECONFIG' };
  else if (env.KUBECONFIG?.trim()) {
    const files = env.KUBECONFIG.split(path.delimiter).map((f) => f.trim()).filter(Boolean).map((f) => path.resolve(f));
    if (files.length) source = { kind: 'files', files, from: 'KUBECONFIG' };
  } else if (env.KUBERNETES_SERVICE_HOST && exists('/var/run/secrets/kubernetes.io/serviceaccount/token')) source = { kind: 'in-cluster' };
  if (!source) {
    if (context || namespace) throw new Error('OFFHOST_KUBE_CONTEXT and OFFHOST_NAMESPACE need a cluster: set OFFHOST_KUBECONFIG or KUBECONFIG too');
    if (placed)
      throw new Error('OFFHOST_JOB_NODE_SELECTOR and OFFHOST_JOB_TOLERATIONS need a cluster: set OFFHOST_KUBECONFIG or KUBECONFIG too');
    return null;
  }
  return { source, context, namespace, ...(placed ? { placement } : {}) };
}

export interface KubeConnection {
  kc: k8s.KubeConfig;
  context: string;
  namespace: string;
  /** The API server's address, for messages. */
  server: string;
}

/**
 * Load the configured cluster. Throws an Error that names the file, context or setting at fault.
 * Files are read now (not at start-up), so a kubeconfig that appears or is fixed later is picked
 * up on the next attempt.
 */
export function loadKube(settings: KubeSettings): KubeConnection {
  const kc = new k8s.KubeConfig();
  if (settings.source.kind === 'in-cluster') kc.loadFromCluster();
  else loadFiles(kc, settings.source.files, settings.source.from);

  const context = settings.context ?? kc.getCurrentContext();
  if (!context) throw new Error(`The kubeconfig names no current-context; set OFFHOST_KUBE_CONTEXT (contexts: ${kc.getContexts().map((c) => c.name).join(', ') || 'none'})`);
  const ctx = kc.getContextObject(context);
  if (!ctx) throw new Error(`The kubeconfig has no context ${JSON.stringify(context)} (it has: ${kc.getContexts().map((c) => c.name).join(', ') || 'none'})`);
  kc.setCurrentContext(context);
  const cluster = kc.getCurrentCluster();
  if (!cluster) throw new Error(`Context ${JSON.stringify(context)} names the cluster ${JSON.stringify(ctx.cluster)}, which the kubeconfig does not define`);
  const namespace = settings.namespace ?? (settings.source.kind === 'files' ? ctx.namespace : undefined) ?? DEFAULT_NAMESPACE;
  return { kc, context, namespace, server: cluster.server };
}

/** kubectl's rules for a $KUBECONFIG list: the first file to set a value wins; missing files are skipped. */
function loadFiles(kc: k8s.KubeConfig, files: string[], from: string): void {
  const merged = { clusters: [] as k8s.Cluster[], users: [] as k8s.User[], contexts: [] as k8s.Context[], currentContext: '' };
  let found = 0;
  for (const file of files) {
    if (!fs.existsSync(file)) {
      if (files.length === 1) throw new Error(`${from}: the kubeconfig ${file} does not exist`);
      continue;
    }
    const one = new k8s.KubeConfig();
    try {
      one.loadFromFile(file);
    } catch (e) {
      throw new Error(`${from}: cannot read the kubeconfig ${file}: ${(e as Error).message}`);
    }
    found++;
    merged.currentContext ||= one.getCurrentContext() ?? '';
    for (const c of one.getClusters()) if (!merged.clusters.some((x) => x.name === c.name)) merged.clusters.push(c);
    for (const u of one.getUsers()) if (!merged.users.some((x) => x.name === u.name)) merged.users.push(u);
    for (const c of one.getContexts()) if (!merged.contexts.some((x) => x.name === c.name)) merged.contexts.push(c);
  }
  if (!found) throw new Error(`${from}: none of the kubeconfig files exists (${files.join(', ')})`);
  kc.loadFromOptions(merged);
}
