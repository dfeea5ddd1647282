// How apiserver failures are read: the HTTP status, and the apiserver's own words for a log line
// or a message a person reads ("namespaces \"x\" not found").
import * as k8s from '@kubernetes/client-node';

export function statusOf(e: unknown): number | undefined {
  return e instanceof k8s.ApiException ? e.code : undefined;
}

/** The apiserver's own message when there is one, else the error's. */
export function describeError(e: unknown): string {
  if (e instanceof k8s.ApiException) {
    const body: unknown = e.body;
    let message: string | undefined;
    if (typeof body === 'string') {
      try {
        message = (JSON.parse(body) as { message?: string }).message;
      } catch {
        message = body;
      }
    } else if (body && typeof body === 'object' && 'message' in body) message = String((body as { message: unknown }).message);
    return `HTTP ${e.code}: ${message ?? 'no message'}`;
  }
  return e instanceof Error ? e.message : String(e);
}
