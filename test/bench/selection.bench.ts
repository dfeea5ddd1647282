// How long choosing an environment takes as the list grows, and the validation of one environment.
// Run with `npm run bench`; vitest prints ops/s and the mean per call.
import { bench, describe } from 'vitest';
import { parseEnvironmentSpec, type Environment } from '../../shared/environment';
import { parseManifest } from '../../shared/manifest';
import { parseCpu, parseMemory } from '../../shared/quantity';
import { selectEnvironment } from '../../shared/selection';

function environments(n: number): Environment[] {
  return Array.from({ length: n }, (_, i) => ({
    id: String(i),
    guid: `00000000-0000-4000-8000-${String(i).padStart(12, '0')}`,
    name: `ghcr.io/org/image-${i}:1`,
    title: `Image ${i}`,
    description: '',
    cluster_name: 'Kubernetes',
    environment_type: 'Kubernetes',
    matching: 'any',
    supervisor: null,
    r: { installations: [{ version: `4.${i % 5}.${i % 7}`, path: '/opt/R/bin/R' }] },
    python: { installations: [{ version: `3.${8 + (i % 6)}.${i % 11}`, path: '/opt/py/bin/python3' }, { version: `3.${9 + (i % 5)}.1`, path: '/opt/py2/bin/python3' }] },
    quarto: { installations: [{ version: `1.${3 + (i % 3)}.${i}`, path: '/opt/quarto/bin/quarto' }] },
    tensorflow: { installations: [] },
    nodejs: { installations: [] },
    volume_mounts: [],
    managed_by: null,
    created_time: new Date(Date.UTC(2026, 0, 1) + i * 60_000).toISOString(),
    updated_time: new Date(Date.UTC(2026, 0, 1)).toISOString(),
  }));
}

const manifest = parseManifest({ version: 1, platform: '4.3.2', python: { version: '3.11.4' }, quarto: { version: '1.4.550' } });
const withSpec = parseManifest({ version: 1, platform: '4.3.2', environment: { python: { requires: '>=3.10,<3.13' } } });

describe('selectEnvironment', () => {
  for (const n of [10, 100, 1000, 5000]) {
    const list = environments(n);
    bench(`${n} environments, R + Python + Quarto versions`, () => {
      selectEnvironment(manifest, list);
    });
  }
  const list = environments(1000);
  bench('1000 environments, a Python specifier', () => {
    selectEnvironment(withSpec, list);
  });
});

describe('validation and quantities', () => {
  const input = {
    name: 'ghcr.io/rstudio/content-base:r4.3.1-py3.11.9-jammy',
    title: 'R 4.3 / Python 3.11',
    r: { installations: [{ version: '4.3.1', path: '/opt/R/4.3.1/bin/R' }] },
    python: { installations: [{ version: '3.11.9', path: '/opt/python/3.11.9/bin/python3' }] },
    volume_mounts: [{ source: { volume_type: 'pvc', pvc_name: 'data' }, target: { path: '/mnt/data' } }],
  };
  bench('parseEnvironmentSpec', () => {
    parseEnvironmentSpec(input);
  });
  bench('parseCpu + parseMemory', () => {
    parseCpu('1500m');
    parseMemory('1.5Gi');
  });
});
