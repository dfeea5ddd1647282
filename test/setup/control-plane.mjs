// A step of `npm test`: build the test Kubernetes control plane, or reuse the cached build
// (`npm run cluster:build` = test/cluster/build.sh, which caches under ~/.cache/offhost/cluster and
// builds nothing when the pinned versions are already there). It needs Go; without it, one line.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const MIN_GO = [1, 26];
const log = (line) => process.stderr.write(`[npm test] ${line}\n`);

if (process.env.OFFHOST_TEST_KUBECONFIG) {
  log(`control plane: using the cluster of OFFHOST_TEST_KUBECONFIG; nothing to build`);
  process.exit(0);
}

// Go's usual install location is not on a non-login shell's PATH.
const env = { ...process.env };
const found = (env.PATH ?? '').split(path.delimiter).some((d) => d && fs.existsSync(path.join(d, 'go')));
if (!found && fs.existsSync('/usr/local/go/bin/go')) env.PATH = `${env.PATH}${path.delimiter}/usr/local/go/bin`;

const version = spawnSync('go', ['env', 'GOVERSION'], { env, encoding: 'utf8' });
const m = /^go(\d+)\.(\d+)/.exec(version.stdout ?? '');
if (version.error || version.status !== 0 || !m) {
  console.error(`npm test needs Go ≥ ${MIN_GO.join('.')} to build the test Kubernetes control plane, and there is no \`go\` on PATH (nor in /usr/local/go/bin): install it from https://go.dev/dl/, or set OFFHOST_TEST_KUBECONFIG to an existing cluster.`);
  process.exit(1);
}
if (Number(m[1]) < MIN_GO[0] || (Number(m[1]) === MIN_GO[0] && Number(m[2]) < MIN_GO[1])) {
  console.error(`npm test needs Go ≥ ${MIN_GO.join('.')} to build the test Kubernetes control plane, and \`go\` is ${version.stdout.trim()}: install a newer one from https://go.dev/dl/.`);
  process.exit(1);
}

const t = Date.now();
const build = spawnSync('npm', ['run', '--silent', 'cluster:build'], { cwd: root, env, stdio: 'inherit' });
if (build.status !== 0) {
  console.error(`npm test: building the test control plane failed (npm run cluster:build exited with ${build.status ?? build.signal}); its log is above.`);
  process.exit(1);
}
log(`control plane: built or reused in ${((Date.now() - t) / 1000).toFixed(1)} s (${version.stdout.trim()})`);
