// Posit's own Python clients — posit-sdk and rsconnect-python from PyPI, at the versions pinned in
// test/compat/requirements.txt, unchanged — against an Offhost server on SQLite and PostgreSQL:
// every environments function and command, content create/find/update/delete, bundle upload and
// download, deploy and task polling (to "queued": there is no launcher yet), the message each
// prints for a bad key, and `rsconnect deploy fastapi` of a small app directory.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { BACKENDS } from '../integration/backends';
import { fastapiBundle, startHarness, type Harness } from '../integration/connect-helpers';

const here = path.dirname(fileURLToPath(import.meta.url));
const venv = inject('pythonClients');

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

describe.each(BACKENDS)('Posit clients against Offhost on $name', (backend) => {
  let h: Harness;
  let home: string;
  let url: string;

  beforeAll(async () => {
    if (!venv) throw new Error(`no Python clients for this run: ${inject('pythonClientsError')}`);
    h = await startHarness(backend);
    home = fs.mkdtempSync(path.join(os.tmpdir(), 'offhost-compat-home-'));
    url = h.server.url.replace(/\/$/, '');
  });
  afterAll(async () => {
    await h?.close();
    if (home) fs.rmSync(home, { recursive: true, force: true });
  });

  /** Run a client program from the venv (asynchronously: the server answers from this process). */
  function run(program: string, args: string[], opts: { key?: string; env?: Record<string, string>; cwd?: string } = {}): Promise<Run> {
    return new Promise((resolve, reject) => {
      const child = spawn(path.join(venv, 'bin', program), args, {
        cwd: opts.cwd ?? home,
        env: {
          PATH: `${path.join(venv, 'bin')}:${process.env.PATH}`,
          HOME: home,
          XDG_CONFIG_HOME: path.join(home, '.config'),
          CONNECT_SERVER: url,
          CONNECT_API_KEY: opts.key ?? h.keys.admin,
          NO_COLOR: '1',
          ...opts.env,
        },
      });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (d) => (stdout += d));
      child.stderr.on('data', (d) => (stderr += d));
      child.on('error', reject);
      child.on('close', (code) => resolve({ code, stdout, stderr }));
    });
  }

  const rsconnect = (args: string[], opts: { key?: string; env?: Record<string, string>; cwd?: string } = {}) =>
    run('rsconnect', [...args, '-s', url, '-k', opts.key ?? h.keys.admin], opts);

  async function sdk(scenario: string, args: string[] = [], key?: string): Promise<any> {
    const r = await run('python', [path.join(here, 'sdk_scenarios.py'), scenario, ...args], { key });
    if (r.code !== 0) throw new Error(`sdk ${scenario} exited ${r.code}: ${r.stderr}`);
    return JSON.parse(r.stdout.trim().split('\n').pop()!);
  }

  const userGuid = async (key: string) => (await h.req('GET', '/__api__/v1/user', { key })).json.guid as string;

  describe('posit-sdk', () => {
    it('environments: create, list, find, find_by, update (only the keys passed), destroy', async () => {
      const out = await sdk('environments');
      expect(out.version).toMatch(/^2025\./);
      expect(out.created).toMatchObject({ title: 'SDK env', matching: 'exact' });
      expect(out.listed).toContain('ghcr.io/org/sdk:1');
      expect(out.found_title).toBe('SDK env');
      expect(out.find_by_guid).toBe(out.created.guid);
      expect(out.updated).toEqual({
        title: 'SDK env, renamed',
        description: 'made by posit-sdk',
        python: { installations: [{ version: '3.12.4', path: '/opt/python/3.12.4/bin/python3' }] },
      });
      expect(out.after_delete).not.toContain('ghcr.io/org/sdk:1');
      expect(out.find_deleted).toEqual({ error_code: 4, http_status: 404 });
    });

    it('content, bundles, deploy and tasks: every call a script makes', async () => {
      await h.req('POST', '/__api__/v1/environments', {
        body: { cluster_name: 'Kubernetes', name: 'ghcr.io/org/py311:1', title: 'Python 3.11', python: { installations: [{ version: '3.11.9', path: '/usr/bin/python3' }] } },
      });
      const good = path.join(home, 'good.tar.gz');
      const bad = path.join(home, 'bad.tar.gz');
      fs.writeFileSync(good, fastapiBundle());
      fs.writeFileSync(bad, 'not a tarball');
      const out = await sdk('content', [good, bad], h.keys.publisher);
      expect(out.me).toEqual({ username: 'pat', user_role: 'publisher' });
      expect(out.created).toEqual({ name: 'sdk-api', title: 'SDK API', cpu_limit: 1.5, memory_limit: 1073741824, bundle_id: null, app_mode: 'unknown' });
      expect(out.find_name).toHaveLength(1);
      expect(out.find_owner).toEqual(['sdk-api']);
      expect(out.find_by).toBe(out.find_name[0]);
      expect(out.find_one).toBe(out.find_name[0]);
      expect(out.get_owner).toBe('pat');
      expect(out.updated).toEqual({ title: 'SDK API, renamed', cpu_request: 0.5, cpu_limit: 1.5, init_timeout: 120 });
      expect(out.bad_update).toMatchObject({ error_code: 190, http_status: 400, error_message: expect.stringMatching(/cpu_request.*more than "cpu_limit"/) });
      expect(out.bundle).toMatchObject({ content_guid: out.find_name[0], active: false });
      expect(out.bad_bundle).toMatchObject({ http_status: 400, error_message: expect.stringMatching(/not a gzip file/) });
      expect(out.bundles).toHaveLength(2);
      expect(out.download_identical).toBe(true);
      expect(out.download_file_size).toBe(fs.statSync(good).size);
      expect(out.wait_for).toMatch(/TimeoutError: Task .* did not finish/);
      expect(out.task).toMatchObject({ finished: false, error_code: null });
      expect(out.task.output.at(-1)).toMatch(/^Status: queued/);
      expect(out.task.last).toBe(out.task.output.length);
      expect(out.deployed).toEqual({ bundle_id: out.bundle.id, app_mode: 'python-fastapi', image_name: 'ghcr.io/org/py311:1', py_version: '3.11.9' });
      expect(out.active).toBe(out.bundle.id);
      expect(out.jobs).toEqual([
        ['python_restore', 0],
        ['run_fastapi_app', 0],
      ]);
      expect(out.job_find).toBe(true);
      expect(out.redeploy_output[0]).toMatch(new RegExp(`Deploying bundle ${out.bundles[0]} `));
      expect(out.after_bundle_delete).toEqual([out.bundles[0]]);
      expect(out.after_delete).toEqual([]);
    });

    it('me, users (paged) and groups', async () => {
      const out = await sdk('users');
      expect(out).toEqual({
        me: { username: 'alice', user_role: 'administrator' },
        usernames: ['alice', 'olga', 'pat', 'vic'],
        count: 4,
        find_one: 'pat',
        get: 'pat',
        publishers: ['olga', 'pat'],
        groups: [],
      });
    });

    it('a bad key: ClientError with code 30', async () => {
      const out = await sdk('bad_key');
      expect(out).toMatchObject({ error_code: 30, error_message: 'The specified API key is not valid.', http_status: 401 });
    });
  });

  describe('rsconnect-python', () => {
    it('the environment commands: add (explicit nulls in mounts), list, show, edit with permissions, remove', async () => {
      const add = await rsconnect([
        'environment', 'add', 'ghcr.io/org/cli:1', '-T', 'CLI env', '-d', 'from the CLI', '--matching', 'exact',
        '--python', '3.11.9=/opt/python/3.11.9/bin/python3', '--r', '4.3.1=/opt/R/4.3.1/bin/R',
        '--mount', 'type=pvc,pvc_name=data,target=/mnt/data', '--mount', 'type=nfs,nfs_host=nas.example.com,nfs_export_path=/shared,target=/mnt/shared,read_only=true',
      ]);
      expect(add.code, add.stderr).toBe(0);
      const created = JSON.parse(add.stdout);
      expect(created).toMatchObject({ name: 'ghcr.io/org/cli:1', title: 'CLI env', matching: 'exact' });
      expect(created.volume_mounts).toEqual([
        { source: { volume_type: 'pvc', pvc_name: 'data' }, target: { path: '/mnt/data', read_only: false } },
        { source: { volume_type: 'nfs', nfs_host: 'nas.example.com', nfs_export_path: '/shared' }, target: { path: '/mnt/shared', read_only: true } },
      ]);
      const guid = created.guid;
      const list = await rsconnect(['environment', 'list']);
      expect(list.stdout).toMatch(new RegExp(`${guid}\\s+CLI env`));
      const show = await rsconnect(['environment', 'show', guid]);
      expect(JSON.parse(show.stdout).description).toBe('from the CLI');

      const pat = await userGuid(h.keys.publisher);
      const group = '3f9a6c1e-0b7d-4e52-9a3c-2d1f0e8b7a65';
      const edit = await rsconnect(['environment', 'edit', guid, '-T', 'CLI env, edited', '--allow-user', pat, '--allow-group', group]);
      expect(edit.code, edit.stderr).toBe(0);
      const after = (await h.req('GET', `/__api__/v1/environments/${guid}`)).json;
      expect(after).toMatchObject({ title: 'CLI env, edited', description: 'from the CLI', matching: 'exact' });
      expect(after.volume_mounts).toHaveLength(2);
      const perms = (await h.req('GET', `/__api__/v1/environments/${guid}/permissions`)).json;
      expect(perms.map((p: { user_guid: string | null; group_guid: string | null }) => p.user_guid ?? p.group_guid).sort()).toEqual([pat, group].sort());
      // --allow-user names the complete list: the group goes
      await rsconnect(['environment', 'edit', guid, '--allow-user', pat]);
      expect((await h.req('GET', `/__api__/v1/environments/${guid}/permissions`)).json.map((p: { user_guid: string }) => p.user_guid)).toEqual([pat]);
      await rsconnect(['environment', 'edit', guid, '--clear-permissions']);
      expect((await h.req('GET', `/__api__/v1/environments/${guid}/permissions`)).json).toEqual([]);

      const remove = await rsconnect(['environment', 'remove', guid]);
      expect(remove.code, remove.stderr).toBe(0);
      expect((await h.req('GET', `/__api__/v1/environments/${guid}`)).status).toBe(404);
    });

    it('details: the version and the Python versions derived from the environments', async () => {
      const r = await rsconnect(['details']);
      expect(r.code, r.stderr).toBe(0);
      expect(r.stdout + r.stderr).toMatch(/Posit Connect version: 2025\.09\.0/);
      expect(r.stdout + r.stderr).toMatch(/Installed versions of Python:\s+3\.11\.9/);
    });

    it('a bad key: the message rsconnect prints', async () => {
      const details = await rsconnect(['details'], { key: 'ohk_this-is-not-a-key' });
      expect(details.stdout + details.stderr).toMatch(/reported an error \(calling \/__api__\/server_settings\): The specified API key is not valid\./);
      const add = await run('rsconnect', ['add', '-s', url, '-k', 'ohk_this-is-not-a-key', '-n', 'bad']);
      expect(add.code).not.toBe(0);
      expect(add.stdout + add.stderr).toMatch(/The specified API key is not valid\./);
    });

    it('deploy fastapi <dir>: creates the content, uploads the bundle, follows the task to "queued"; content search, describe, download-bundle', async () => {
      const app = path.join(home, 'hello-api');
      fs.cpSync(path.join(here, 'fastapi-app'), app, { recursive: true });
      // The launcher does not exist yet, so the task stays queued: a short task timeout ends the wait.
      const deploy = await rsconnect(['deploy', 'fastapi', app], { key: h.keys.publisher, env: { CONNECT_TASK_TIMEOUT: '3' } });
      const text = deploy.stdout + deploy.stderr;
      expect(text).toMatch(/Deploying bundle \.\.\./);
      expect(text).toMatch(/Deploying \(draft\) bundle \d+ \(python-fastapi\) of "hello-api"/);
      expect(text).toMatch(/Environment: Python 3\.11 \(ghcr\.io\/org\/py311:1\)/);
      expect(text).toMatch(/Queued build job \S+ \(python_restore\)/);
      expect(text).toMatch(/Status: queued/);
      expect(text).toMatch(/The task timed out after 3 seconds/);
      const [content] = (await h.req('GET', '/__api__/v1/content?name=hello-api')).json;
      expect(content).toMatchObject({ title: 'hello-api', bundle_id: null }); // a draft until verified, then activated
      const bundles = (await h.req('GET', `/__api__/v1/content/${content.guid}/bundles`)).json;
      expect(bundles).toHaveLength(1);
      const jobs = (await h.req('GET', `/__api__/v1/content/${content.guid}/jobs`)).json;
      expect(jobs.map((j: { kind: string; state: string }) => [j.kind, j.state])).toEqual([['build', 'queued']]);

      // --no-verify activates at once: the run job is queued after the build, the content records the deploy
      // (also: -E sets environment variables, --title renames, --image names the image in the manifest)
      const direct = await rsconnect(['deploy', 'fastapi', '--no-verify', '-E', 'API_URL=https://example.com', '--title', 'Hello API', '--image', 'ghcr.io/org/py311:1', app], {
        key: h.keys.publisher,
        env: { CONNECT_TASK_TIMEOUT: '3' },
      });
      expect(direct.stdout + direct.stderr).toMatch(/The manifest \(environment\.image\) asks for image ghcr\.io\/org\/py311:1/);
      expect(direct.stdout + direct.stderr).toMatch(/Queued run job \S+ \(run_fastapi_app\), to start after the build succeeds/);
      const deployed = (await h.req('GET', `/__api__/v1/content/${content.guid}`)).json;
      expect(deployed).toMatchObject({ title: 'Hello API', app_mode: 'python-fastapi', image_name: 'ghcr.io/org/py311:1', py_version: '3.11.9', bundle_id: expect.any(String) });
      expect((await h.req('GET', `/__api__/v1/content/${content.guid}/environment`)).json).toEqual(['API_URL']);

      const search = await rsconnect(['content', 'search'], { key: h.keys.publisher });
      expect(JSON.parse(search.stdout).map((c: { name: string }) => c.name)).toContain('hello-api');
      const describe = await rsconnect(['content', 'describe', '-g', content.guid], { key: h.keys.publisher });
      expect(JSON.parse(describe.stdout)[0]).toMatchObject({ guid: content.guid, app_mode: 'python-fastapi' });
      const out = path.join(home, 'downloaded.tar.gz');
      const dl = await rsconnect(['content', 'download-bundle', '-g', content.guid, '-o', out], { key: h.keys.publisher });
      expect(dl.code, dl.stderr).toBe(0);
      expect(fs.statSync(out).size).toBe((await h.req('GET', `/__api__/v1/content/${content.guid}/bundles/${deployed.bundle_id}`)).json.size);
    });
  });
});
