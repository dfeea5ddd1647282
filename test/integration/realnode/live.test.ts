/**
 * Running pods on real-0, reached the way Offhost reaches content: logs stream while the pod
 * runs, exec works (and shows the pod is unprivileged), an HTTP app answers through the
 * apiserver's pod and service proxies, metrics.k8s.io reports real usage.
 */
import https from 'node:https';
import { PassThrough, Writable } from 'node:stream';

import * as k8s from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';

import { parseCpu, parseMemory } from '../../../shared/quantity';
import { eventually, kube } from '../../cluster/kube.js';
import { REAL_NODE_NAME } from '../../cluster/realnode.js';
import { figure, imageMeta, realNodePodSpec, realNodeSkip, useRealNodeNamespace } from './helpers.js';

const skip = realNodeSkip();

async function createRunningPod(namespace: string, name: string, spec: k8s.V1PodSpec, labels: Record<string, string> = {}): Promise<k8s.V1Pod> {
  const { core } = kube();
  await core.createNamespacedPod({ namespace, body: { metadata: { name, labels: { app: name, ...labels } }, spec } });
  return eventually(
    async () => {
      const p = await core.readNamespacedPod({ namespace, name });
      if (p.status?.phase === 'Failed' || p.status?.phase === 'Succeeded') throw new Error(`pod ${name} ended: ${JSON.stringify(p.status)}`);
      return p.status?.phase === 'Running' && p.status.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') ? p : undefined;
    },
    { what: `pod ${name} Running and Ready`, timeoutMs: 90_000 },
  );
}

/** GET through the apiserver with the admin credentials; returns status and body. */
async function apiGet(kc: k8s.KubeConfig, path: string): Promise<{ status: number; body: string }> {
  const server = new URL(kc.getCurrentCluster()!.server);
  const opts: https.RequestOptions = { host: server.hostname, port: server.port, path, method: 'GET' };
  await kc.applyToHTTPSOptions(opts);
  return new Promise((resolve, reject) => {
    const req = https.request(opts, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

describe.skipIf(!!skip)('live pods on the real node', () => {
  const ns = useRealNodeNamespace('rn-live');

  it('streams logs while the pod runs (client-node Log, follow)', async () => {
    const { kc, core } = kube();
    const pod = await createRunningPod(
      ns.name,
      'ticker',
      realNodePodSpec([{ name: 'main', image: imageMeta('python').ref, command: ['python3', '-u', '-c', 'import time\nfor i in range(600):\n  print("tick", i)\n  time.sleep(0.3)'] }]),
    );
    expect(pod.spec?.nodeName).toBe(REAL_NODE_NAME);
    let text = '';
    const sink = new Writable({
      write(chunk: Buffer, _enc, cb) {
        text += chunk.toString();
        cb();
      },
    });
    const abort = await new k8s.Log(kc).log(ns.name, 'ticker', 'main', sink, { follow: true });
    try {
      const t0 = Date.now();
      await eventually(async () => /tick 3\n/.test(text), { what: 'tick 3 in the streamed log', timeoutMs: 30_000, intervalMs: 50 });
      const seenAt = text.length;
      // Later lines keep arriving on the same stream, while the pod is still running.
      await eventually(async () => text.length > seenAt && /tick (\d+)\n$/.test(text), { what: 'more streamed lines', timeoutMs: 10_000, intervalMs: 50 });
      expect((await core.readNamespacedPod({ namespace: ns.name, name: 'ticker' })).status?.phase).toBe('Running');
      expect(text).toMatch(/^tick 0\ntick 1\ntick 2\ntick 3\n/);
      figure('log stream: first 4 lines', `${((Date.now() - t0) / 1000).toFixed(1)}s after opening the stream`);
    } finally {
      abort.abort();
    }
  });

  it('exec runs a command in the container, which is unprivileged (uid 1000, no capabilities, no_new_privs, seccomp)', async () => {
    const { kc } = kube();
    await createRunningPod(ns.name, 'shell', realNodePodSpec([{ name: 'main', image: imageMeta('python').ref, command: ['sleep', '600'] }]));
    const out = new PassThrough();
    const err = new PassThrough();
    let stdout = '';
    let stderr = '';
    out.on('data', (d: Buffer) => (stdout += d.toString()));
    err.on('data', (d: Buffer) => (stderr += d.toString()));
    const status = await new Promise<k8s.V1Status>((resolve, reject) => {
      new k8s.Exec(kc)
        .exec(ns.name, 'shell', 'main', ['sh', '-c', 'echo uid=$(id -u); grep -E "^(CapEff|NoNewPrivs|Seccomp):" /proc/self/status; echo oops >&2'], out, err, null, false, resolve)
        .catch(reject);
    });
    expect(status.status, JSON.stringify(status)).toBe('Success');
    await eventually(async () => stdout.includes('Seccomp:'), { what: 'exec output' });
    expect(stdout).toContain('uid=1000');
    expect(stdout).toMatch(/CapEff:\s+0000000000000000/);
    expect(stdout).toMatch(/NoNewPrivs:\s+1/);
    expect(stdout).toMatch(/Seccomp:\s+2/); // 2 = filter mode: RuntimeDefault is applied
    expect(stderr).toContain('oops');
  });

  it('a FastAPI app (uvicorn) answers through the apiserver pod proxy and service proxy', async () => {
    const { kc, core } = kube();
    const app = [
      'import sys',
      'from fastapi import FastAPI',
      'app = FastAPI()',
      '@app.get("/hello")',
      'def hello(name: str = "world"):',
      '    return {"hello": name, "python": sys.version.split()[0]}',
      '',
    ].join('\n');
    await createRunningPod(
      ns.name,
      'api',
      realNodePodSpec([
        {
          name: 'main',
          image: imageMeta('python').ref,
          command: ['sh', '-c', `cat > /tmp/app.py <<'EOF'\n${app}EOF\ncd /tmp && exec python3 -m uvicorn app:app --host 0.0.0.0 --port 8000`],
          ports: [{ containerPort: 8000, name: 'http' }],
          readinessProbe: { httpGet: { path: '/hello', port: 8000 }, periodSeconds: 1 },
        },
      ]),
    );
    const viaPod = await apiGet(kc, `/api/v1/namespaces/${ns.name}/pods/api:8000/proxy/hello?name=pod-proxy`);
    expect(viaPod.status, viaPod.body).toBe(200);
    expect(JSON.parse(viaPod.body)).toEqual({ hello: 'pod-proxy', python: imageMeta('python').runtimes.python!.version });

    await core.createNamespacedService({
      namespace: ns.name,
      body: { metadata: { name: 'api' }, spec: { selector: { app: 'api' }, ports: [{ name: 'http', port: 80, targetPort: 8000 }] } },
    });
    const viaService = await eventually(
      async () => {
        const r = await apiGet(kc, `/api/v1/namespaces/${ns.name}/services/api:http/proxy/hello?name=service-proxy`);
        return r.status === 200 ? r : undefined;
      },
      { what: 'the service proxy to answer (endpoints published)', timeoutMs: 30_000 },
    );
    expect(JSON.parse(viaService.body)).toMatchObject({ hello: 'service-proxy' });
  });

  it('metrics.k8s.io reports the real CPU and memory of a busy pod (≥ 0.4 core)', { timeout: 150_000 }, async () => {
    const { metrics } = kube();
    await createRunningPod(
      ns.name,
      'busy',
      realNodePodSpec([
        {
          name: 'main',
          image: imageMeta('python').ref,
          command: ['python3', '-c', 'x = bytearray(32 * 1024 * 1024)\nfor i in range(len(x) // 4096): x[i * 4096] = 1\nwhile True: pass'],
          resources: { requests: { cpu: '1', memory: '64Mi' }, limits: { cpu: '1', memory: '256Mi' } },
        },
      ]),
    );
    const t0 = Date.now();
    const usage = await eventually(
      async () => {
        const list = await metrics.getPodMetrics(ns.name);
        const c = list.items.find((p) => p.metadata.name === 'busy')?.containers.find((x) => x.name === 'main');
        return c && parseCpu(c.usage.cpu) >= 400 ? c.usage : undefined;
      },
      { what: 'metrics for the busy pod with ≥ 0.4 core', timeoutMs: 120_000, intervalMs: 1000 },
    );
    expect(parseCpu(usage.cpu)).toBeGreaterThanOrEqual(400); // millicores
    expect(parseMemory(usage.memory)).toBeGreaterThan(32 * 1024 * 1024); // the 32 MiB it touched
    figure('busy pod in metrics.k8s.io', `${usage.cpu} CPU, ${usage.memory} after ${((Date.now() - t0) / 1000).toFixed(0)}s`);
  });
});
