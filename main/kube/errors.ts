// How apiserver failures are read: the HTTP status, and the apiserver's own words for a log line
// or a message a person reads ("namespaces \"x\" not found").
import * as k8s from '@kubernetes/client-node';

/** The apiserver's HTTP status, also through an error that wraps it (`cause`). */
export function statusOf(e: unknown): number | undefined {
  if (e instanceof k8s.ApiException) return e.code;
  return e instanceof Error && e.cause !== undefined ? statusOf(e.cause) : undefined;
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
  // client-node's Watch and Log fail with the HTTP status alone (the apiserver's Status body is not
  // read): say the code, and for a refusal where the missing permission is named.
  const code = e instanceof Error ? (e as Error & { statusCode?: unknown }).statusCode : undefined;
  if (typeof code === 'number') {
    const text = `HTTP ${code} ${(e as Error).message}`;
    if (code === 403) return `${text}: this account may not do it (Settings → Test connection names the missing permission)`;
    if (code === 401) return `${text}: the cluster did not accept the credentials`;
    return text;
  }
  return e instanceof Error ? e.message : String(e);
}
