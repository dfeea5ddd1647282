// "Test connection" in the UI contract: what main/kube/check.ts reports about the configured cluster.

export interface Permission {
  verb: string;
  group: string;
  resource: string;
  subresource?: string;
  /** Why Offhost needs it, in words. */
  why: string;
}

export interface ConnectionReport {
  ok: boolean;
  server: string;
  context: string;
  namespace: string;
  version: { ok: true; gitVersion: string } | { ok: false; error: string };
  permissions: (Permission & { allowed: boolean; reason: string })[];
  /** "create batch/jobs (to run content as Jobs)", … — empty when all are granted. */
  missing: string[];
  metrics: { ok: boolean; message: string };
}

/** No cluster configured (a normal state), or the kubeconfig could not be loaded: what to do. */
export interface NoConnection {
  ok: false;
  configured: boolean;
  message: string;
}
