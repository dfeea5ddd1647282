// The server image's two recipes (build/Containerfile for container engines, build/server-image.sh
// for mmdebstrap + umoci) and the Helm chart agree: the user job pods run as, the entry point the
// build makes, the port, the data directory, a Node that fits package.json's engines. No container
// engine runs here; server-image.sh was run on this machine and smoke-tests the image it builds.
import fs from 'node:fs';
import path from 'node:path';
import { parse } from 'yaml';
import { describe, expect, it } from 'vitest';
import { JOB_USER_ID } from '../../main/content/volume';

const root = path.resolve(__dirname, '../..');
const read = (f: string) => fs.readFileSync(path.join(root, f), 'utf8');
const containerfile = read('build/Containerfile');
const script = read('build/server-image.sh');
const values = parse(read('build/helm/offhost/values.yaml'));
const deployment = read('build/helm/offhost/templates/deployment.yaml');

describe('the server image', () => {
  it("runs as the job pods' user, as the chart does", () => {
    expect(containerfile).toMatch(new RegExp(`^USER ${JOB_USER_ID}:${JOB_USER_ID}$`, 'm'));
    expect(script).toContain(`--config.user=${JOB_USER_ID}:${JOB_USER_ID}`);
    expect(values.podSecurityContext).toMatchObject({ runAsUser: JOB_USER_ID, runAsGroup: JOB_USER_ID, fsGroup: JOB_USER_ID, runAsNonRoot: true });
  });

  it('starts the built server (the entry point build/bundle-main.mjs makes) on the port the chart names', () => {
    expect(containerfile).toContain('ENTRYPOINT ["node", "/app/dist/main/server.js"]');
    expect(script).toContain('--config.entrypoint=/usr/bin/node --config.entrypoint=/app/dist/main/server.js');
    expect(read('build/bundle-main.mjs')).toContain("server: 'main/server.ts'");
    expect(containerfile).toMatch(/^EXPOSE 3939$/m);
    expect(script).toContain('--config.exposedports=3939/tcp');
    expect(deployment).toMatch(/containerPort: 3939/);
    expect(deployment).toMatch(/name: OFFHOST_PORT\s+value: "3939"/);
    for (const env of ['OFFHOST_HOST=0.0.0.0', 'OFFHOST_PORT=3939', 'OFFHOST_DATA_DIR=/var/lib/offhost/data']) {
      expect(containerfile).toContain(env.replace(/=.*/, ''));
      expect(script).toContain(`--config.env=${env}`);
    }
  });

  it("uses Node 20, which package.json's engines allow and node_modules' better-sqlite3 build fits (ABI 115)", () => {
    expect(JSON.parse(read('package.json')).engines.node).toBe('>=20.19');
    expect(containerfile.match(/^FROM docker\.io\/library\/node:(\d+)-/gm)).toEqual(['FROM docker.io/library/node:20-', 'FROM docker.io/library/node:20-']);
    // Debian trixie ships nodejs 20.19; the script refuses a node_modules built for another ABI.
    expect(script).toMatch(/^SUITE=trixie$/m);
    expect(script).toContain('[ "$NODE_ABI" = 115 ]');
  });

  it("builds from the sources, not the machine's node_modules or dist (.dockerignore)", () => {
    const ignored = read('.dockerignore').split('\n').filter((l) => l && !l.startsWith('#'));
    expect(ignored).toEqual(expect.arrayContaining(['node_modules', 'dist', '.git', '.env']));
  });

  it('ships no dev tooling and no source maps', () => {
    expect(containerfile).toContain('npm prune --omit=dev');
    expect(containerfile).toContain("find dist -name '*.map' -delete");
    expect(script).toContain('npm ls --omit=dev --all --parseable');
    expect(script).toContain("find \"$APP/dist\" -name '*.map' -delete");
  });
});
