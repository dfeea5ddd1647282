/**
 * A plain-HTTP proxy on 127.0.0.1 in front of the test apiserver that records what each request
 * asks for, in RBAC's words ("list batch/jobs", "get pods/log", "watch limitranges"), with the
 * status it got. A client pointed at it (kubeConfigThrough) keeps its own credentials: the
 * Authorization header goes through unchanged, so the apiserver authorizes the real account.
 */
import http from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import * as k8s from '@kubernetes/client-node';

export interface Recorded {
  method: string;
  path: string;
  /** "verb group/resource[/subresource]" (permissionKey's form), or "nonresource GET /path". */
  permission: string;
  status: number;
}

/** RBAC's verb and resource for a Kubernetes API request (the apiserver's RequestInfo rules, for the paths Offhost uses). */
export function requestPermission(method: string, url: string): string {
  const u = new URL(url, 'http://x');
  const parts = u.pathname.split('/').filter(Boolean);
  let group: string;
  let rest: string[];
  if (parts[0] === 'api' && parts.length >= 2) [group, rest] = ['', parts.slice(2)];
  else if (parts[0] === 'apis' && parts.length >= 3) [group, rest] = [parts[1]!, parts.slice(3)];
  else return `nonresource ${method} ${u.pathname}`;
  if (rest[0] === 'namespaces' && rest.length >= 3) rest = rest.slice(2); // namespaced: drop namespaces/<ns>
  const [resource, name, subresource] = rest;
  const watch = ['1', 'true'].includes(u.searchParams.get('watch') ?? '');
  const verb =
    method === 'GET' ? (watch ? 'watch' : name ? 'get' : 'list')
    : method === 'POST' ? 'create'
    : method === 'PUT' ? 'update'
    : method === 'PATCH' ? 'patch'
    : method === 'DELETE' ? (name ? 'delete' : 'deletecollection')
    : method.toLowerCase();
  return `${verb} ${group ? `${group}/` : ''}${resource}${subresource ? `/${subresource}` : ''}`;
}

export interface RecordingProxy {
  url: string;
  requests: Recorded[];
  close(): Promise<void>;
}

/** Starts the proxy in front of the cluster that `base` (an admin KubeConfig) points at. */
export async function startRecordingProxy(base: k8s.KubeConfig): Promise<RecordingProxy> {
  const cluster = base.getCurrentCluster();
  if (!cluster) throw new Error('the kubeconfig has no current cluster');
  const target = new URL(cluster.server);
  const opts: https.RequestOptions = {};
  await base.applyToHTTPSOptions(opts); // the CA (and the admin's client cert, removed below)
  const requests: Recorded[] = [];
  const server = http.createServer((req, res) => {
    const entry: Recorded = { method: req.method!, path: req.url!, permission: requestPermission(req.method!, req.url!), status: 0 };
    requests.push(entry);
    const headers = { ...req.headers, host: target.host };
    const upstream = https.request(
      { protocol: 'https:', hostname: target.hostname, port: target.port, path: req.url, method: req.method, headers, ca: opts.ca, rejectUnauthorized: true },
      (up) => {
        entry.status = up.statusCode ?? 0;
        res.writeHead(up.statusCode ?? 502, up.headers);
        up.pipe(res);
      },
    );
    upstream.on('error', (e) => {
      entry.status = 502;
      if (!res.headersSent) res.writeHead(502);
      res.end(String(e));
    });
    req.pipe(upstream);
    res.on('close', () => upstream.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** A KubeConfig that sends `token` to the apiserver through the proxy. */
export function kubeConfigThrough(proxy: RecordingProxy, token: string, namespace: string): k8s.KubeConfig {
  const kc = new k8s.KubeConfig();
  kc.loadFromOptions({
    // Plain HTTP on loopback to the proxy (client-node wants skipTLSVerify for an http:// server); the proxy verifies the apiserver.
    clusters: [{ name: 'recorded', server: proxy.url, skipTLSVerify: true }],
    users: [{ name: 'sa', token }],
    contexts: [{ name: 'sa', cluster: 'recorded', user: 'sa', namespace }],
    currentContext: 'sa',
  });
  return kc;
}
