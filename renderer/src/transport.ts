// The renderer's only way to the core, chosen once at start-up: Electron's preload bridge when it
// is there, otherwise HTTP + Server-Sent Events against the headless server that served this page.
import { EVENT_NAMES, type ApiEvents, type EventName, type MethodInput, type MethodName, type MethodOutput, type Transport } from '../../shared/api';
import { UPLOAD_BUNDLE_MAX_BYTES } from '../../shared/api';
import type { Bundle } from '../../shared/content';
import { AppError, type ErrorBody } from '../../shared/errors';

interface Envelope {
  result?: unknown;
  error?: ErrorBody;
}

interface Bridge {
  call(method: string, input: unknown): Promise<Envelope>;
  subscribe(event: EventName, listener: (payload: unknown) => void): () => void;
}

declare global {
  interface Window {
    offhost?: Bridge;
  }
}

function unwrap<T>(envelope: Envelope): T {
  if (envelope.error) throw AppError.fromBody(envelope.error);
  return envelope.result as T;
}

function bridgeTransport(bridge: Bridge): Transport {
  return {
    call: async (method, input) => unwrap(await bridge.call(method, input)),
    subscribe: (event, listener) => bridge.subscribe(event, listener as (p: unknown) => void),
  };
}

function httpTransport(): Transport {
  const listeners = new Map<EventName, Set<(payload: never) => void>>();
  const emit = (event: EventName, payload: unknown) => {
    for (const l of listeners.get(event) ?? []) l(payload as never);
  };
  // One event stream, opened on the first subscription. EventSource retries a dropped stream by
  // itself but gives up when a retry cannot connect (a server restarting), so we reopen it with
  // backoff. Whatever was pushed in between is lost: listeners get events.resync to refetch.
  let source: EventSource | undefined;
  let interrupted = false;
  let backoffMs = 1000;
  const connect = () => {
    const es = new EventSource('api/events');
    source = es;
    for (const name of EVENT_NAMES) es.addEventListener(name, (e) => emit(name, JSON.parse((e as MessageEvent<string>).data)));
    es.addEventListener('open', () => {
      backoffMs = 1000;
      if (interrupted) emit('events.resync', {});
      interrupted = false;
    });
    es.addEventListener('error', () => {
      interrupted = true;
      if (es.readyState !== EventSource.CLOSED) return;
      setTimeout(connect, backoffMs);
      backoffMs = Math.min(backoffMs * 2, 30_000);
    });
  };
  return {
    async call(method, input) {
      const res = await fetch(`api/call/${method}`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify(input ?? {}),
        credentials: 'same-origin',
      });
      let body: Envelope;
      try {
        body = (await res.json()) as Envelope;
      } catch {
        throw new AppError('Internal', `The server answered ${res.status} without JSON.`);
      }
      if (res.status === 401) window.dispatchEvent(new Event('offhost:signed-out'));
      return unwrap(body);
    },
    subscribe(event, listener) {
      if (!source) connect();
      if (!listeners.has(event)) listeners.set(event, new Set());
      const set = listeners.get(event)!;
      set.add(listener as (payload: never) => void);
      return () => set.delete(listener as (payload: never) => void);
    },
  };
}

export const transport: Transport = window.offhost ? bridgeTransport(window.offhost) : httpTransport();

/** Browser mode only: ends this browser's session on the server (the desktop app has none). */
export const signOut: (() => Promise<void>) | undefined = window.offhost
  ? undefined
  : async () => {
      const res = await fetch('api/signout', { method: 'POST', credentials: 'same-origin' });
      if (!res.ok && res.status !== 401) throw new AppError('Internal', `Signing out failed: the server answered ${res.status}.`);
      window.dispatchEvent(new Event('offhost:signed-out'));
    };

export function call<M extends MethodName>(method: M, ...input: MethodInput<M> extends void ? [] : [MethodInput<M>]): Promise<MethodOutput<M>> {
  return transport.call(method, input[0] as MethodInput<M>);
}

export function subscribe<E extends EventName>(event: E, listener: (payload: ApiEvents[E]) => void): () => void {
  return transport.subscribe(event, listener);
}

/**
 * Upload a bundle (.tar.gz) to content. In a browser the archive goes as raw bytes to Connect's
 * own route, POST __api__/v1/content/{guid}/bundles, the one rsconnect uses: streamed, no JSON
 * body limit, no base64 growth, and the session cookie is accepted there (our page is same-origin).
 * The desktop app has no HTTP server, so there it is content.uploadBundle over IPC, as base64
 * (capped at UPLOAD_BUNDLE_MAX_BYTES). Either way the server validates the archive the same way.
 */
export async function uploadBundle(guid: string, file: Blob): Promise<Bundle> {
  if (window.offhost) {
    if (file.size > UPLOAD_BUNDLE_MAX_BYTES)
      throw new AppError('BundleTooLarge', `The bundle is ${file.size} bytes; the desktop app uploads at most ${UPLOAD_BUNDLE_MAX_BYTES / 1024 / 1024} MiB. Use rsconnect for larger bundles.`, 'archive');
    return call('content.uploadBundle', { guid, archive: await toBase64(file) });
  }
  const res = await fetch(`__api__/v1/content/${encodeURIComponent(guid)}/bundles`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/octet-stream' },
    body: file,
    credentials: 'same-origin',
  });
  if (res.status === 401) window.dispatchEvent(new Event('offhost:signed-out'));
  let body: unknown;
  try {
    body = await res.json();
  } catch {
    throw new AppError('Internal', `The server answered ${res.status} without JSON.`);
  }
  if (!res.ok) {
    // Connect's error shape: { code, error, payload, field? }.
    const e = body as { error?: string; field?: string };
    throw new AppError(res.status === 413 ? 'BundleTooLarge' : 'InvalidRequest', e.error ?? `The upload failed (${res.status}).`, e.field);
  }
  return body as Bundle;
}

async function toBase64(file: Blob): Promise<string> {
  const bytes = new Uint8Array(await file.arrayBuffer());
  let text = '';
  // In slices: String.fromCharCode(...bytes) would overflow the call stack on a large archive.
  for (let i = 0; i < bytes.length; i += 0x8000) text += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(text);
}
