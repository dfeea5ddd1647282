/**
 * Certificates for the test control plane, made with the openssl CLI (Debian's openssl 3).
 * A fresh set is made by every `cluster:up`; nothing here is meant to be secret beyond a test run.
 *
 *   ca                 signs every client and serving certificate below
 *   apiserver          serving cert of kube-apiserver (127.0.0.1, localhost, kubernetes.default…)
 *   components         serving cert of controller-manager, scheduler, kwok and metrics-server
 *   admin              client, O=system:masters — the kubeconfig handed to tests
 *   controller-manager client, CN=system:kube-controller-manager (its RBAC identity)
 *   scheduler          client, CN=system:kube-scheduler (its RBAC identity)
 *   kwok, metrics-server  clients, O=system:masters (test infrastructure)
 *   apiserver-kubelet  client: the apiserver towards kubelets (the real node)
 *   front-proxy-ca / front-proxy-client  the aggregation layer (metrics.k8s.io)
 *   sa.key / sa.pub    service-account token signing key pair (RSA)
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';

export const SERVICE_CLUSTER_IP_RANGE = '10.96.0.0/16';
const KUBERNETES_SERVICE_IP = '10.96.0.1';
const DAYS = '3650';

export interface Pki {
  dir: string;
  caCert: string;
  caKey: string;
  frontProxyCaCert: string;
  frontProxyClientCert: string;
  frontProxyClientKey: string;
  apiserverCert: string;
  apiserverKey: string;
  componentsCert: string;
  componentsKey: string;
  saKey: string;
  saPub: string;
  clients: Record<ClientName, { cert: string; key: string }>;
}

export const CLIENTS = {
  admin: { cn: 'offhost-admin', org: 'system:masters' },
  'controller-manager': { cn: 'system:kube-controller-manager' },
  scheduler: { cn: 'system:kube-scheduler' },
  kwok: { cn: 'offhost-kwok', org: 'system:masters' },
  'metrics-server': { cn: 'offhost-metrics-server', org: 'system:masters' },
  // The apiserver's identity towards kubelets (logs, exec, port-forward, proxy): the real node's
  // kubelet authorizes it through the apiserver (webhook), like any other system:masters client.
  'apiserver-kubelet': { cn: 'kube-apiserver-kubelet-client', org: 'system:masters' },
} as const satisfies Record<string, { cn: string; org?: string }>;
export type ClientName = keyof typeof CLIENTS;

function openssl(args: string[]): void {
  try {
    execFileSync('openssl', args, { stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (err) {
    const e = err as { stderr?: Buffer; message: string };
    throw new Error(`openssl ${args[0]} failed: ${e.stderr?.toString() || e.message}`);
  }
}

const EC_KEY = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];

function makeCa(dir: string, name: string, cn: string): { cert: string; key: string } {
  const cert = path.join(dir, `${name}.crt`);
  const key = path.join(dir, `${name}.key`);
  openssl([
    'req', '-x509', ...EC_KEY, '-days', DAYS, '-subj', `/CN=${cn}`,
    '-addext', 'basicConstraints=critical,CA:TRUE',
    '-addext', 'keyUsage=critical,keyCertSign,cRLSign,digitalSignature',
    '-keyout', key, '-out', cert,
  ]);
  return { cert, key };
}

export function makeLeaf(
  dir: string,
  name: string,
  ca: { cert: string; key: string },
  subject: string,
  usage: 'serverAuth' | 'clientAuth',
  sans: string[] = [],
): { cert: string; key: string } {
  const cert = path.join(dir, `${name}.crt`);
  const key = path.join(dir, `${name}.key`);
  const csr = path.join(dir, `${name}.csr`);
  const ext = path.join(dir, `${name}.ext`);
  fs.writeFileSync(
    ext,
    [
      'basicConstraints=critical,CA:FALSE',
      'keyUsage=critical,digitalSignature,keyEncipherment',
      `extendedKeyUsage=${usage}`,
      ...(sans.length ? [`subjectAltName=${sans.join(',')}`] : []),
    ].join('\n') + '\n',
  );
  openssl(['req', '-new', ...EC_KEY, '-subj', subject, '-keyout', key, '-out', csr]);
  const serial = '0x' + randomBytes(16).toString('hex');
  openssl([
    'x509', '-req', '-in', csr, '-CA', ca.cert, '-CAkey', ca.key, '-set_serial', serial,
    '-days', DAYS, '-extfile', ext, '-out', cert,
  ]);
  fs.rmSync(csr);
  fs.rmSync(ext);
  return { cert, key };
}

/** Makes a fresh PKI in `dir` (emptied first). */
export function createPki(dir: string): Pki {
  fs.rmSync(dir, { recursive: true, force: true });
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  const ca = makeCa(dir, 'ca', 'offhost-test-ca');
  const frontProxyCa = makeCa(dir, 'front-proxy-ca', 'offhost-test-front-proxy-ca');
  const frontProxyClient = makeLeaf(dir, 'front-proxy-client', frontProxyCa, '/CN=front-proxy-client', 'clientAuth');
  const apiserver = makeLeaf(dir, 'apiserver', ca, '/CN=kube-apiserver', 'serverAuth', [
    'DNS:localhost', 'DNS:kubernetes', 'DNS:kubernetes.default', 'DNS:kubernetes.default.svc',
    'DNS:kubernetes.default.svc.cluster.local', 'IP:127.0.0.1', `IP:${KUBERNETES_SERVICE_IP}`,
  ]);
  const components = makeLeaf(dir, 'components', ca, '/CN=offhost-test-components', 'serverAuth', [
    'DNS:localhost', 'IP:127.0.0.1',
    // The aggregator checks metrics-server's certificate against the Service's DNS name.
    'DNS:metrics-server.kube-system.svc',
  ]);
  const clients = Object.fromEntries(
    Object.entries(CLIENTS).map(([name, c]) => {
      const subject = 'org' in c ? `/O=${c.org}/CN=${c.cn}` : `/CN=${c.cn}`;
      return [name, makeLeaf(dir, `client-${name}`, ca, subject, 'clientAuth')];
    }),
  ) as Pki['clients'];
  const saKey = path.join(dir, 'sa.key');
  const saPub = path.join(dir, 'sa.pub');
  openssl(['genpkey', '-algorithm', 'RSA', '-pkeyopt', 'rsa_keygen_bits:2048', '-out', saKey]);
  openssl(['pkey', '-in', saKey, '-pubout', '-out', saPub]);
  for (const f of fs.readdirSync(dir)) if (f.endsWith('.key')) fs.chmodSync(path.join(dir, f), 0o600);
  return {
    dir,
    caCert: ca.cert,
    caKey: ca.key,
    frontProxyCaCert: frontProxyCa.cert,
    frontProxyClientCert: frontProxyClient.cert,
    frontProxyClientKey: frontProxyClient.key,
    apiserverCert: apiserver.cert,
    apiserverKey: apiserver.key,
    componentsCert: components.cert,
    componentsKey: components.key,
    saKey,
    saPub,
    clients,
  };
}

/** A kubeconfig with the certificates embedded, so it can be copied anywhere. */
export function kubeconfigYaml(opts: {
  server: string;
  caCert: string;
  clientCert: string;
  clientKey: string;
  name?: string;
}): string {
  const name = opts.name ?? 'offhost-test';
  const b64 = (f: string) => fs.readFileSync(f).toString('base64');
  // JSON is valid YAML; kubectl, client-go and @kubernetes/client-node all read it.
  return (
    JSON.stringify(
      {
        apiVersion: 'v1',
        kind: 'Config',
        clusters: [{ name, cluster: { server: opts.server, 'certificate-authority-data': b64(opts.caCert) } }],
        users: [
          {
            name,
            user: { 'client-certificate-data': b64(opts.clientCert), 'client-key-data': b64(opts.clientKey) },
          },
        ],
        contexts: [{ name, context: { cluster: name, user: name } }],
        'current-context': name,
      },
      null,
      2,
    ) + '\n'
  );
}
