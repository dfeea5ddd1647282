// The Connect-compatible content API over real HTTP, on SQLite and PostgreSQL: what clients call
// first, users, content CRUD with Connect's fields and units, bundles as each client uploads them,
// deploys and their tasks, environment permissions.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BACKENDS } from './backends';
import { APP_PY, PYTHON_ENV, REQUIREMENTS, fastapiBundle, followTask, gzip, startHarness, tarOf, type Harness } from './connect-helpers';

const C = '/__api__/v1/content';

describe.each(BACKENDS)('Connect content API on $name', (backend) => {
  let h: Harness;
  let envGuid: string;

  beforeAll(async () => {
    h = await startHarness(backend);
    const env = await h.req('POST', '/__api__/v1/environments', { body: { cluster_name: 'Kubernetes', ...PYTHON_ENV } });
    expect(env.status).toBe(200);
    envGuid = env.json.guid;
  });
  afterAll(async () => h?.close());

  const newContent = async (name: string, key?: string, extra: Record<string, unknown> = {}) => {
    const r = await h.req('POST', C, { key: key ?? h.keys.publisher, body: { name, ...extra } });
    expect(r.status, r.text).toBe(200);
    return r.json;
  };
  const upload = async (guid: string, bytes: Buffer, key?: string) => h.req('POST', `${C}/${guid}/bundles`, { key: key ?? h.keys.publisher, raw: bytes });

  describe('first contact', () => {
    it('server_settings reports a Connect version that turns on draft deploys and the active bundle', async () => {
      const r = await h.req('GET', '/__api__/server_settings');
      expect(r.status).toBe(200);
      expect(r.headers.get('content-type')).toMatch(/^application\/json/);
      expect(r.json.version).toMatch(/^\d{4}\.\d{2}\.\d+$/);
      expect(r.json.version >= '2025.06.0' && r.json.version < '2025.12.0').toBe(true);
    });

    it('v1/user answers for the key\'s user, with its role', async () => {
      const r = await h.req('GET', '/__api__/v1/user', { key: h.keys.publisher });
      expect(r.status).toBe(200);
      expect(r.json).toMatchObject({ username: 'pat', user_role: 'publisher', locked: false, confirmed: true });
      expect(r.json.guid).toMatch(/-/);
      expect(r.json).not.toHaveProperty('id');
    });

    it('a bad key is 401 with code 30 on every path, server_settings included', async () => {
      for (const p of ['/__api__/server_settings', '/__api__/v1/user', C]) {
        const r = await h.req('GET', p, { key: 'ohk_not-a-key' });
        expect(r.status).toBe(401);
        expect(r.json).toEqual({ code: 30, error: 'The specified API key is not valid.', payload: null });
      }
    });

    it('server_settings/python lists the environments\' Python installations; r and quarto too', async () => {
      const py = await h.req('GET', '/__api__/v1/server_settings/python', { key: h.keys.publisher });
      expect(py.json).toEqual({ installations: [{ version: '3.11.9', cluster_name: 'Kubernetes', image_name: PYTHON_ENV.name, publishable: true }], api_enabled: true });
      const r = await h.req('GET', '/__api__/v1/server_settings/r', { key: h.keys.publisher });
      expect(r.json.installations.map((i: { version: string }) => i.version)).toEqual(['4.3.1']);
      expect((await h.req('GET', '/__api__/v1/server_settings/quarto', { key: h.keys.publisher })).json).toEqual({ installations: [] });
      expect((await h.req('GET', '/__api__/v1/server_settings/cobol', { key: h.keys.publisher })).status).toBe(404);
      expect((await h.req('GET', '/__api__/v1/server_settings/toString', { key: h.keys.publisher })).status).toBe(404);
    });
  });

  describe('users', () => {
    it('v1/users pages as posit-sdk expects ({results, current_page, total}), with prefix and role filters; v1/users/{guid}; no groups', async () => {
      const all = await h.req('GET', '/__api__/v1/users?page_number=1&page_size=500', { key: h.keys.viewer });
      expect(Object.keys(all.json).sort()).toEqual(['current_page', 'results', 'total']);
      expect(all.json.results.map((u: { username: string }) => u.username)).toEqual(['alice', 'olga', 'pat', 'vic']);
      expect(all.json.results[0].user_role).toBe('administrator');
      const page2 = await h.req('GET', '/__api__/v1/users?page_number=2&page_size=3');
      expect(page2.json).toMatchObject({ current_page: 2, total: 4 });
      expect(page2.json.results.map((u: { username: string }) => u.username)).toEqual(['vic']);
      expect((await h.req('GET', '/__api__/v1/users?prefix=P')).json.results.map((u: { username: string }) => u.username)).toEqual(['pat']);
      expect((await h.req('GET', '/__api__/v1/users?user_role=viewer|administrator')).json.total).toBe(2);
      const pat = all.json.results[2];
      expect((await h.req('GET', `/__api__/v1/users/${pat.guid}`)).json).toEqual(pat);
      expect((await h.req('GET', '/__api__/v1/groups?page_number=1&page_size=500')).json).toEqual({ results: [], current_page: 1, total: 0 });
    });
  });

  describe('content', () => {
    it('create answers every Connect field with its unit; settings start null', async () => {
      const c = await newContent('sales-report', undefined, { title: 'Sales', cpu_limit: 1.5, memory_limit: 2 * 1024 ** 3 });
      expect(c.guid).toMatch(/^[0-9a-f-]{36}$/);
      expect(c).toMatchObject({
        id: expect.any(String),
        name: 'sales-report',
        title: 'Sales',
        access_type: 'acl',
        bundle_id: null,
        app_mode: 'unknown',
        cpu_limit: 1.5,
        cpu_request: null,
        memory_limit: 2147483648,
        init_timeout: null,
        default_environment_guid: null,
        image_name: null,
        py_version: null,
        last_deployed_time: null,
        app_role: 'owner',
      });
      expect(c.content_url).toBe(`${h.server.url}content/${c.guid}/`);
      const user = (await h.req('GET', '/__api__/v1/user', { key: h.keys.publisher })).json;
      expect(c.owner_guid).toBe(user.guid);
    });

    it('names are unique per owner; ?name= filters (rsconnect probes names until one is free)', async () => {
      await newContent('dash');
      const dup = await h.req('POST', C, { key: h.keys.publisher, body: { name: 'dash' } });
      expect(dup.status).toBe(409);
      expect(dup.json).toMatchObject({ code: expect.any(Number), error: expect.stringMatching(/already content named "dash"/) });
      await newContent('dash', h.keys.other); // another owner may use the name
      const found = await h.req('GET', `${C}?name=dash`, { key: h.keys.publisher });
      expect(found.json).toHaveLength(2);
      expect((await h.req('GET', `${C}?name=dash1`)).json).toEqual([]);
      const olga = (await h.req('GET', '/__api__/v1/user', { key: h.keys.other })).json;
      const mine = await h.req('GET', `${C}?name=dash&owner_guid=${olga.guid}&include=owner,tags,vanity_url`);
      expect(mine.json).toHaveLength(1);
      expect(mine.json[0].owner).toMatchObject({ guid: olga.guid, username: 'olga' });
      expect(mine.json[0].tags).toEqual([]);
      expect(mine.json[0].vanity_url).toBeNull();
    });

    it('two creates of one name at the same moment: one wins, the other is 409', async () => {
      const rs = await Promise.all([1, 2, 3].map(() => h.req('POST', C, { key: h.keys.publisher, body: { name: 'racy' } })));
      expect(rs.map((r) => r.status).sort()).toEqual([200, 409, 409]);
      expect((await h.req('GET', `${C}?name=racy`)).json).toHaveLength(1);
    });

    it('PATCH changes only the named fields and returns the whole item', async () => {
      const c = await newContent('patchme', undefined, { cpu_request: 0.25 });
      const r = await h.req('PATCH', `${C}/${c.guid}`, { key: h.keys.publisher, body: { title: 'Patched', memory_request: 536870912, init_timeout: 300 } });
      expect(r.status).toBe(200);
      expect(r.json).toMatchObject({ guid: c.guid, name: 'patchme', title: 'Patched', cpu_request: 0.25, memory_request: 536870912, init_timeout: 300 });
      // explicit null resets to the server default
      expect((await h.req('PATCH', `${C}/${c.guid}`, { key: h.keys.publisher, body: { cpu_request: null } })).json.cpu_request).toBeNull();
    });

    it.each([
      [{ cpu_request: 2, cpu_limit: 1 }, 400, 190, 'cpu_request', /more than "cpu_limit"/],
      [{ memory_request: 2048, memory_limit: 1024 }, 400, 185, 'memory_request', /more than "memory_limit"/],
      [{ cpu_limit: 0 }, 400, 188, 'cpu_limit', /more than 0 cores/],
      [{ cpu_request: 0.0001 }, 400, 186, 'cpu_request', /millicores/],
      [{ memory_limit: -1 }, 400, 183, 'memory_limit', /between 0 and/],
      [{ memory_limit: '2Gi' }, 400, 183, 'memory_limit', /whole number bytes|whole number/],
      [{ init_timeout: 2592001 }, 400, 151, 'init_timeout', /seconds/],
      [{ min_processes: 5, max_processes: 2 }, 400, 114, 'min_processes', /more than "max_processes"/],
      [{ load_factor: 1.5 }, 400, 150, 'load_factor', /0.0 to 1.0/],
      [{ service_account_name: 'Not_A_Name' }, 400, 176, 'service_account_name', /Kubernetes name/],
      [{ default_image_name: 'has space' }, 400, 193, 'default_image_name', /without spaces/],
      [{ app_mode: 'python-api' }, 400, 53, 'app_mode', /manifest/],
      [{ bundle_id: '3' }, 400, 53, 'bundle_id', /deploy/],
      [{ colour: 'blue' }, 400, 121, 'colour', /Unknown field/],
    ])('PATCH %j is refused: %i, code %i, field %s', async (body, status, code, field, message) => {
      const c = await newContent(`bad-${Object.keys(body).join('-')}-${code}-${String(Object.values(body)[0]).replace(/[^a-z0-9]/gi, '')}`.slice(0, 64));
      const r = await h.req('PATCH', `${C}/${c.guid}`, { key: h.keys.publisher, body });
      expect(r.status, r.text).toBe(status);
      expect(r.json).toMatchObject({ code, field, payload: null });
      expect(r.json.error).toMatch(message);
      // nothing changed
      expect((await h.req('GET', `${C}/${c.guid}`)).json).toMatchObject({ cpu_request: null, memory_limit: null, app_mode: 'unknown' });
    });

    it('only the owner or an admin changes content; viewers cannot create', async () => {
      const c = await newContent('guarded');
      expect((await h.req('PATCH', `${C}/${c.guid}`, { key: h.keys.other, body: { title: 'x' } })).status).toBe(403);
      expect((await h.req('PATCH', `${C}/${c.guid}`, { key: h.keys.admin, body: { title: 'by admin' } })).json.title).toBe('by admin');
      expect((await h.req('POST', C, { key: h.keys.viewer, body: { name: 'nope' } })).status).toBe(403);
      expect((await h.req('GET', `${C}/${c.guid}`, { key: h.keys.viewer })).status).toBe(200);
      expect((await h.req('DELETE', `${C}/${c.guid}`, { key: h.keys.other })).status).toBe(403);
    });

    it('DELETE removes the item, its bundles and their files', async () => {
      const c = await newContent('doomed');
      expect((await upload(c.guid, fastapiBundle({ locale: 'C' }))).status).toBe(200);
      const files = h.core.content.bundles.listFiles().length;
      const r = await h.req('DELETE', `${C}/${c.guid}`, { key: h.keys.publisher });
      expect(r.status).toBe(204);
      expect((await h.req('GET', `${C}/${c.guid}`)).status).toBe(404);
      expect(h.core.content.bundles.listFiles()).toHaveLength(files - 1);
    });

    it('environment variables: names listed, values never returned; null removes; PUT replaces', async () => {
      const c = await newContent('vars');
      const set = await h.req('PATCH', `${C}/${c.guid}/environment`, { key: h.keys.publisher, body: [{ name: 'API_URL', value: 'https://x' }, { name: 'TOKEN', value: 's3cret' }] });
      expect(set.json).toEqual(['API_URL', 'TOKEN']);
      expect((await h.req('PATCH', `${C}/${c.guid}/environment`, { key: h.keys.publisher, body: [{ name: 'TOKEN', value: null }] })).json).toEqual(['API_URL']);
      expect((await h.req('PUT', `${C}/${c.guid}/environment`, { key: h.keys.publisher, body: [] })).json).toEqual([]);
      expect((await h.req('PATCH', `${C}/${c.guid}/environment`, { key: h.keys.publisher, body: [{ name: '1BAD', value: 'x' }] })).status).toBe(400);
    });
  });

  describe('bundles', () => {
    it('accepts the three upload shapes: chunked without Content-Type, raw with Content-Length, multipart with metadata', async () => {
      const c = await newContent('uploads');
      const bytes = fastapiBundle();
      // rsconnect-python: Transfer-Encoding chunked, no Content-Type
      const chunked = await upload(
        c.guid,
        new ReadableStream({
          start(ctl) {
            for (let i = 0; i < bytes.length; i += 100) ctl.enqueue(bytes.subarray(i, i + 100));
            ctl.close();
          },
        }) as unknown as Buffer,
      );
      expect(chunked.status, chunked.text).toBe(200);
      expect(chunked.json).toMatchObject({ id: expect.stringMatching(/^\d+$/), content_guid: c.guid, size: bytes.length, active: false, py_version: '3.11.7', app_mode: 'python-fastapi' });
      // posit-sdk: raw bytes with Content-Length
      const raw = await upload(c.guid, bytes);
      expect(raw.status).toBe(200);
      // rsconnect with git metadata: multipart/form-data
      const form = new FormData();
      form.set('archive', new Blob([new Uint8Array(bytes)], { type: 'application/x-tar' }), 'bundle.tar.gz');
      form.set('metadata', JSON.stringify({ source: 'git', source_repo: 'https://example.com/r.git', source_branch: 'main', source_commit: 'abc123' }));
      const multi = await h.req('POST', `${C}/${c.guid}/bundles`, { key: h.keys.publisher, raw: form });
      expect(multi.status, multi.text).toBe(200);
      expect(multi.json.metadata).toMatchObject({ source: 'git', source_branch: 'main', source_commit: 'abc123' });
      // the same archive three times is stored once
      expect(new Set([chunked.json.sha256, raw.json.sha256, multi.json.sha256]).size).toBe(1);
      expect(h.core.content.bundles.listFiles().filter((f) => f.includes(raw.json.sha256))).toHaveLength(1);
      // list is newest first; get; download gives the same bytes
      const list = await h.req('GET', `${C}/${c.guid}/bundles`, { key: h.keys.publisher });
      expect(list.json.map((b: { id: string }) => b.id)).toEqual([multi.json.id, raw.json.id, chunked.json.id]);
      expect((await h.req('GET', `${C}/${c.guid}/bundles/${raw.json.id}`, { key: h.keys.publisher })).json.id).toBe(raw.json.id);
      const dl = await h.req('GET', `${C}/${c.guid}/bundles/${raw.json.id}/download`, { key: h.keys.publisher });
      expect(dl.status).toBe(200);
      expect(dl.bytes.equals(bytes)).toBe(true);
      // delete one copy: the shared file stays for the others
      expect((await h.req('DELETE', `${C}/${c.guid}/bundles/${multi.json.id}`, { key: h.keys.publisher })).status).toBe(204);
      expect(h.core.content.bundles.listFiles().filter((f) => f.includes(raw.json.sha256))).toHaveLength(1);
      expect((await h.req('GET', `${C}/${c.guid}/bundles/${multi.json.id}`, { key: h.keys.publisher })).status).toBe(404);
    });

    const manifestWith = (m: unknown) => JSON.stringify(m);
    const good = (over: Record<string, unknown>) => ({ version: 1, metadata: { appmode: 'python-fastapi', entrypoint: 'main' }, ...over });
    const CASES: [string, Buffer, RegExp, string | undefined][] = [
      ['not gzip', Buffer.from('PK\x03\x04 this is a zip'), /not a gzip file/, undefined],
      ['gzip but not tar', gzip(Buffer.from('just text, no tar headers here'.repeat(30))), /not a valid tar archive/, undefined],
      ['empty', Buffer.alloc(0), /empty/, undefined],
      ['no manifest.json', gzip(tarOf([{ path: 'main.py', data: APP_PY }])), /no manifest\.json/, 'manifest.json'],
      ['manifest not JSON', gzip(tarOf([{ path: 'manifest.json', data: '{"version": 1,' }, { path: 'main.py', data: APP_PY }])), /not valid JSON/, 'manifest.json'],
      ['no app mode', gzip(tarOf([{ path: 'manifest.json', data: manifestWith({ version: 1, metadata: {} }) }, { path: 'main.py', data: APP_PY }])), /no metadata\.appmode/, 'metadata.appmode'],
      ['an Object.prototype name as app mode', gzip(tarOf([{ path: 'manifest.json', data: manifestWith(good({ metadata: { appmode: 'toString' } })) }])), /"toString".*not an app mode/, 'metadata.appmode'],
      ['unknown app mode', gzip(tarOf([{ path: 'manifest.json', data: manifestWith(good({ metadata: { appmode: 'python-cobol' } })) }])), /python-cobol.*not an app mode/, 'metadata.appmode'],
      ['entrypoint absent', gzip(tarOf([{ path: 'manifest.json', data: manifestWith(good({ metadata: { appmode: 'python-fastapi', entrypoint: 'app:app' } })) }, { path: 'main.py', data: APP_PY }])), /module app, but app\.py is not in the bundle/, 'metadata.entrypoint'],
      ['primary document absent', gzip(tarOf([{ path: 'manifest.json', data: manifestWith({ version: 1, metadata: { appmode: 'static', primary_html: 'index.html' } }) }, { path: 'other.html', data: '<p>' }])), /primary_html names "index\.html"/, 'metadata.primary_html'],
      ['requirements file absent', gzip(tarOf([{ path: 'manifest.json', data: manifestWith(good({ python: { version: '3.11.7', package_manager: { name: 'pip', package_file: 'requirements.txt' } } })) }, { path: 'main.py', data: APP_PY }])), /package_file names "requirements\.txt"/, 'python.package_manager.package_file'],
      ['absolute path', gzip(tarOf([{ path: 'manifest.json', data: manifestWith(good({})) }, { path: 'main.py', data: APP_PY }, { path: '/etc/cron.d/x', data: 'x' }])), /absolute path/, undefined],
      ['.. in a name', gzip(tarOf([{ path: 'manifest.json', data: manifestWith(good({})) }, { path: 'main.py', data: APP_PY }, { path: 'a/../../x', data: 'x' }])), /"\.\." in its path/, undefined],
      ['link leaving the bundle', gzip(tarOf([{ path: 'manifest.json', data: manifestWith(good({})) }, { path: 'main.py', data: APP_PY }, { path: 'data/x', type: 'SymbolicLink', linkpath: '../../etc/passwd' }])), /link to "\.\.\/\.\.\/etc\/passwd", which is outside/, undefined],
      ['absolute link', gzip(tarOf([{ path: 'manifest.json', data: manifestWith(good({})) }, { path: 'main.py', data: APP_PY }, { path: 'x', type: 'SymbolicLink', linkpath: '/etc/passwd' }])), /outside the bundle/, undefined],
      ['device file', gzip(tarOf([{ path: 'manifest.json', data: manifestWith(good({})) }, { path: 'main.py', data: APP_PY }, { path: 'null', type: 'CharacterDevice' }])), /device file/, undefined],
      ['FIFO', gzip(tarOf([{ path: 'manifest.json', data: manifestWith(good({})) }, { path: 'main.py', data: APP_PY }, { path: 'pipe', type: 'FIFO' }])), /named pipe/, undefined],
      ['checksum mismatch', gzip(tarOf([{ path: 'manifest.json', data: manifestWith(good({ files: { 'main.py': { checksum: '0123456789abcdef0123456789abcdef' } } })) }, { path: 'main.py', data: APP_PY }])), /checksum of "main\.py" does not match/, 'files["main.py"]'],
      ['listed file missing', gzip(tarOf([{ path: 'manifest.json', data: manifestWith(good({ files: { 'util.py': { checksum: 'abc' } } })) }, { path: 'main.py', data: APP_PY }])), /lists "util\.py".*not in the bundle/, 'files["util.py"]'],
    ];

    it.each(CASES)('refuses %s with a clear error and stores nothing', async (_name, bytes, message, field) => {
      const c = await newContent(`v-${_name.replace(/[^a-z]+/g, '-')}`.slice(0, 60));
      const rowsBefore = await h.core.store.db.selectFrom('bundles').select('id').execute();
      const filesBefore = h.core.content.bundles.listFiles();
      const r = await upload(c.guid, bytes);
      expect(r.status, r.text).toBe(400);
      expect(r.json.error).toMatch(message);
      expect(r.json.code).toEqual(expect.any(Number));
      if (field) expect(r.json.field).toBe(field);
      expect(await h.core.store.db.selectFrom('bundles').select('id').execute()).toEqual(rowsBefore);
      expect(h.core.content.bundles.listFiles()).toEqual(filesBefore);
    });

    it('accepts what real clients write: rsconnect\'s filtered requirements checksum, Publisher\'s and R rsconnect\'s optional and empty fields, links inside', async () => {
      const c = await newContent('real-manifests');
      const reqs = 'fastapi\nrsconnect-python==1.32.0\nuvicorn\n';
      const filtered = 'fastapi\nuvicorn\n';
      const { createHash } = await import('node:crypto');
      const md5 = (s: string) => createHash('md5').update(s).digest('hex');
      const rsconnectStyle = gzip(
        tarOf([
          { path: 'manifest.json', data: JSON.stringify(good({ python: { version: '3.11.7', package_manager: { name: 'pip', version: '23.2.1', package_file: 'requirements.txt' } }, files: { 'requirements.txt': { checksum: md5(filtered) }, 'main.py': { checksum: md5(APP_PY) } } })) },
          { path: 'requirements.txt', data: reqs },
          { path: 'main.py', data: APP_PY },
          { path: 'static/logo.txt', data: 'logo' },
          { path: 'latest', type: 'SymbolicLink', linkpath: 'static/logo.txt' },
        ]),
      );
      expect((await upload(c.guid, rsconnectStyle)).status).toBe(200);
      // Posit Publisher: ./-prefixed names, directory entries, empty optional fields
      const publisher = gzip(
        tarOf([
          { path: './', type: 'Directory' },
          { path: './manifest.json', data: JSON.stringify({ version: 1, locale: '', metadata: { appmode: 'python-fastapi', entrypoint: 'main:app', primary_html: '' }, python: { version: '3.11.7', package_manager: { name: 'pip', package_file: 'requirements.txt' } }, environment: { python: { requires: '>=3.11' } }, files: { 'main.py': { checksum: '' }, 'requirements.txt': {} } }) },
          { path: './main.py', data: APP_PY },
          { path: './requirements.txt', data: REQUIREMENTS },
        ]),
      );
      const pub = await upload(c.guid, publisher);
      expect(pub.status, pub.text).toBe(200);
      // R rsconnect: a Shiny app with platform and packages, no entrypoint
      const rShiny = gzip(tarOf([{ path: 'manifest.json', data: JSON.stringify({ version: 1, platform: '4.3.1', metadata: { appmode: 'shiny', primary_rmd: null, primary_html: null, content_category: null, has_parameters: false }, packages: { shiny: { Source: 'CRAN', Repository: 'https://cran.rstudio.com', description: { Package: 'shiny' } } }, files: { 'app.R': { checksum: md5('library(shiny)\n') } }, users: null }) }, { path: 'app.R', data: 'library(shiny)\n' }]));
      const shiny = await upload(c.guid, rShiny);
      expect(shiny.status, shiny.text).toBe(200);
      expect(shiny.json).toMatchObject({ app_mode: 'shiny', r_version: '4.3.1' });
    });

    it('a half-written upload a crash left behind is removed by a later upload once it is a day old', async () => {
      const c = await newContent('prune');
      const incoming = `${h.core.content.bundles.root}/.incoming`;
      const fs = await import('node:fs');
      fs.mkdirSync(incoming, { recursive: true });
      fs.writeFileSync(`${incoming}/old.part`, 'half');
      fs.writeFileSync(`${incoming}/recent.part`, 'half');
      const dayAgo = new Date(Date.now() - 25 * 3600 * 1000);
      fs.utimesSync(`${incoming}/old.part`, dayAgo, dayAgo);
      expect((await upload(c.guid, fastapiBundle())).status).toBe(200);
      expect(fs.readdirSync(incoming)).toEqual(['recent.part']);
      fs.rmSync(`${incoming}/recent.part`);
    });

    it('refuses an archive over the upload limit, and one that expands past its limit, storing nothing', async () => {
      const small = await startHarness(backend, { bundleLimits: { maxBytes: 64 * 1024, maxExpandedBytes: 1024 * 1024 } } as never);
      try {
        const c = (await small.req('POST', C, { key: small.keys.publisher, body: { name: 'limits' } })).json;
        const { randomBytes } = await import('node:crypto');
        const big = fastapiBundle({}, [{ path: 'noise.bin', data: randomBytes(200 * 1024) }]);
        const over = await small.req('POST', `${C}/${c.guid}/bundles`, { key: small.keys.publisher, raw: big });
        expect(over.status).toBe(413);
        expect(over.json.error).toMatch(/larger than 64 KiB/);
        // a zip bomb: 8 MiB of zeros compresses to a few KiB
        const bomb = fastapiBundle({}, [{ path: 'zeros.bin', data: Buffer.alloc(8 * 1024 * 1024) }]);
        expect(bomb.length).toBeLessThan(64 * 1024);
        const boom = await small.req('POST', `${C}/${c.guid}/bundles`, { key: small.keys.publisher, raw: bomb });
        expect(boom.status).toBe(413);
        expect(boom.json.error).toMatch(/expands to more than 1 MiB/);
        expect(await small.core.store.db.selectFrom('bundles').select('id').execute()).toEqual([]);
        expect(small.core.content.bundles.listFiles()).toEqual([]);
      } finally {
        await small.close();
      }
    });
  });

  describe('deploy and tasks', () => {
    it('deploy answers a task at once; the task chooses the environment, records it, queues the jobs and stops at "queued"', async () => {
      const c = await newContent('api');
      const b = (await upload(c.guid, fastapiBundle())).json;
      const d = await h.req('POST', `${C}/${c.guid}/deploy`, { key: h.keys.publisher, body: { bundle_id: b.id } });
      expect(d.status).toBe(202);
      expect(d.json).toEqual({ task_id: expect.stringMatching(/^[A-Za-z0-9]+$/) });
      const { lines, task } = await followTask(h, d.json.task_id, /Status: queued/, h.keys.publisher);
      expect(task.finished).toBe(false);
      expect(lines.join('\n')).toMatch(/Environment: Python 3\.11 \(ghcr\.io\/rstudio\/content-base:r4\.3\.1-py3\.11\.9\)/);
      expect(lines.join('\n')).toMatch(/Queued build job .* \(python_restore\)[\s\S]*Queued run job .* \(run_fastapi_app\), to start after the build/);
      const after = (await h.req('GET', `${C}/${c.guid}`)).json;
      expect(after).toMatchObject({ bundle_id: b.id, app_mode: 'python-fastapi', image_name: PYTHON_ENV.name, environment_guid: envGuid, py_version: '3.11.9', r_version: null, cluster_name: 'Kubernetes' });
      expect(after.last_deployed_time).toEqual(expect.any(String));
      const jobs = (await h.req('GET', `${C}/${c.guid}/jobs`, { key: h.keys.publisher })).json;
      expect(jobs.map((j: { tag: string; state: string; status: number }) => [j.tag, j.state, j.status])).toEqual([
        ['run_fastapi_app', 'queued', 0],
        ['python_restore', 'queued', 0],
      ]);
      const one = await h.req('GET', `${C}/${c.guid}/jobs/${jobs[0].key}`, { key: h.keys.publisher });
      expect(one.json).toMatchObject({ key: jobs[0].key, image: PYTHON_ENV.name, bundle_id: b.id });
      expect((await h.req('GET', `${C}/${c.guid}/bundles`, { key: h.keys.publisher })).json[0].active).toBe(true);
    });

    it('tasks: output from `first`, `last` the next first; `wait` long-polls when nothing is new', async () => {
      const c = await newContent('polling');
      const b = (await upload(c.guid, fastapiBundle())).json;
      const id = (await h.req('POST', `${C}/${c.guid}/deploy`, { key: h.keys.publisher, body: { bundle_id: b.id } })).json.task_id;
      const { task } = await followTask(h, id, /Status: queued/, h.keys.publisher);
      const all = (await h.req('GET', `/__api__/v1/tasks/${id}`, { key: h.keys.publisher })).json;
      expect(all).toMatchObject({ id, finished: false, code: 0, error: '', result: null });
      expect(all.last).toBe(all.output.length);
      const tail = (await h.req('GET', `/__api__/v1/tasks/${id}?first=2`, { key: h.keys.publisher })).json;
      expect(tail.output).toEqual(all.output.slice(2));
      expect(tail.last).toBe(all.last);
      const started = Date.now();
      const waited = (await h.req('GET', `/__api__/v1/tasks/${id}?first=${task.last}&wait=1`, { key: h.keys.publisher })).json;
      const ms = Date.now() - started;
      expect(waited.output).toEqual([]);
      expect(ms).toBeGreaterThanOrEqual(900);
      expect(ms).toBeLessThan(3000);
      expect((await h.req('GET', '/__api__/v1/tasks/nosuchtask', { key: h.keys.publisher })).status).toBe(404);
      expect((await h.req('GET', `/__api__/v1/tasks/${id}?wait=soon`, { key: h.keys.publisher })).status).toBe(400);
    });

    it('the content address of content with no bundle answers 404 in words, also for unknown content (serving: content-serving.test.ts)', async () => {
      const c = await newContent('served');
      for (const p of [`/content/${c.guid}/`, `/content/${c.guid}/_bundle1/`]) {
        const r = await h.req('GET', p, { key: h.keys.publisher });
        expect(r.status).toBe(404);
        expect(r.json).toMatchObject({ code: 4, error: expect.stringMatching(/has not been deployed yet|has no bundle 1/), payload: null });
      }
      expect((await h.req('GET', '/content/3f9a6c1e-0b7d-4e52-9a3c-2d1f0e8b7a65/', { key: h.keys.publisher })).status).toBe(404);
    });

    it('static HTML runs nowhere: the deploy is recorded and the task finishes at once, with no jobs', async () => {
      const c = await newContent('static-site');
      const site = gzip(tarOf([{ path: 'index.html', data: '<h1>hi</h1>' }, { path: 'manifest.json', data: JSON.stringify({ version: 1, metadata: { appmode: 'static', primary_html: 'index.html', entrypoint: 'index.html' }, files: {} }) }]));
      const b = (await upload(c.guid, site)).json;
      const id = (await h.req('POST', `${C}/${c.guid}/deploy`, { key: h.keys.publisher, body: { bundle_id: b.id } })).json.task_id;
      const { task } = await followTask(h, id, /^$/, h.keys.publisher);
      expect(task).toMatchObject({ finished: true, code: 0, error: '' });
      expect(task.output.at(-1)).toMatch(/Static HTML needs no environment and no process; bundle \d+ is now the active one/);
      expect((await h.req('GET', `${C}/${c.guid}`)).json).toMatchObject({ bundle_id: b.id, app_mode: 'static', image_name: null, environment_guid: null });
      expect((await h.req('GET', `${C}/${c.guid}/jobs`, { key: h.keys.publisher })).json).toEqual([]);
    });

    it('a deploy a stopped server left before queueing its jobs is finished at the next start; queued ones stay open', async () => {
      const c = await newContent('interrupted');
      const b = (await upload(c.guid, fastapiBundle())).json;
      const queued = (await h.req('POST', `${C}/${c.guid}/deploy`, { key: h.keys.publisher, body: { bundle_id: b.id } })).json.task_id;
      await followTask(h, queued, /Status: queued/, h.keys.publisher);
      // a task as a crash leaves it: created, never continued
      const { tasksRepo } = await import('../../main/store/tasks-repo');
      const old = new Date(Date.now() - 5 * 60_000).toISOString();
      await h.core.store.db.updateTable('tasks').set({ created_time: old }).where('id', '=', queued).execute();
      await tasksRepo.insert(h.core.store.db, { id: 'crashedTask01', kind: 'deploy', content_id: Number(c.id), bundle_id: Number(b.id), activate: true, actor: 't', output: ['Deploying bundle'] }, old);
      const recovered = await h.core.content.recoverInterrupted();
      expect(recovered).toContain('crashedTask01');
      expect(recovered).not.toContain(queued);
      const t = (await h.req('GET', '/__api__/v1/tasks/crashedTask01', { key: h.keys.publisher })).json;
      expect(t).toMatchObject({ finished: true, code: 1, error: 'Interrupted by a server restart; deploy again.' });
      expect((await h.req('GET', `/__api__/v1/tasks/${queued}`, { key: h.keys.publisher })).json.finished).toBe(false);
    });

    it('a bundle no environment can run: the task finishes with code 1 and the selector\'s words', async () => {
      const c = await newContent('py27');
      const b = (await upload(c.guid, fastapiBundle({ python: { version: '2.7.18' } }))).json;
      const id = (await h.req('POST', `${C}/${c.guid}/deploy`, { key: h.keys.publisher, body: { bundle_id: b.id } })).json.task_id;
      const { task } = await followTask(h, id, /^$/, h.keys.publisher);
      expect(task).toMatchObject({ finished: true, code: 1 });
      expect(task.error).toMatch(/No environment can run this content: it needs Python 2\.7/);
      expect((await h.req('GET', `${C}/${c.guid}`)).json.bundle_id).toBeNull();
    });

    it('redeploys keep history; deploying an older bundle rolls back; a draft is built but not activated', async () => {
      const c = await newContent('history');
      const b1 = (await upload(c.guid, fastapiBundle({ locale: 'one' }))).json;
      const b2 = (await upload(c.guid, fastapiBundle({ locale: 'two' }))).json;
      const deploy = async (body: unknown) => {
        const id = (await h.req('POST', `${C}/${c.guid}/deploy`, { key: h.keys.publisher, body })).json.task_id;
        return followTask(h, id, /Status: queued/, h.keys.publisher);
      };
      await deploy({ bundle_id: b1.id });
      const second = await deploy({ bundle_id: null }); // null: the newest (posit-sdk's content.deploy())
      expect(second.lines.join('\n')).toMatch(new RegExp(`bundle ${b2.id}`));
      expect(second.lines.join('\n')).toMatch(/Cancelled 2 queued jobs of an earlier deploy/);
      expect((await h.req('GET', `${C}/${c.guid}`)).json.bundle_id).toBe(b2.id);
      const back = await deploy({ bundle_id: b1.id });
      expect(back.lines[0]).toMatch(new RegExp(`rolling back from bundle ${b2.id}`));
      expect((await h.req('GET', `${C}/${c.guid}`)).json.bundle_id).toBe(b1.id);
      const draft = await deploy({ bundle_id: b2.id, activate: false });
      expect(draft.lines.join('\n')).toMatch(/Draft: the bundle is built but not activated/);
      expect((await h.req('GET', `${C}/${c.guid}`)).json.bundle_id).toBe(b1.id);
      expect((await h.req('DELETE', `${C}/${c.guid}/bundles/${b1.id}`, { key: h.keys.publisher })).status).toBe(409);
      const history = await h.core.content.history(c.guid, { actor: 't', role: 'admin' });
      expect(history.map((t) => [t.kind, t.bundle_id, t.activate])).toEqual([
        ['deploy', Number(b2.id), false],
        ['deploy', Number(b1.id), true],
        ['deploy', Number(b2.id), true],
        ['deploy', Number(b1.id), true],
      ]);
      const jobs = (await h.req('GET', `${C}/${c.guid}/jobs`, { key: h.keys.publisher })).json;
      expect(jobs.filter((j: { state: string }) => j.state === 'queued').map((j: { kind: string }) => j.kind)).toEqual(['build']);
    });

    it('changing the default environment of deployed content schedules a rebuild there', async () => {
      const other = await h.req('POST', '/__api__/v1/environments', {
        body: { cluster_name: 'Kubernetes', name: 'ghcr.io/org/py311:2', title: 'Other Python', matching: 'exact', python: { installations: [{ version: '3.11.4', path: '/usr/bin/python3' }] } },
      });
      const c = await newContent('moves');
      const b = (await upload(c.guid, fastapiBundle())).json;
      const id = (await h.req('POST', `${C}/${c.guid}/deploy`, { key: h.keys.publisher, body: { bundle_id: b.id } })).json.task_id;
      await followTask(h, id, /Status: queued/, h.keys.publisher);
      const patched = await h.req('PATCH', `${C}/${c.guid}`, { key: h.keys.publisher, body: { default_environment_guid: other.json.guid } });
      expect(patched.status).toBe(200);
      const rebuild = (await h.core.content.history(c.guid, { actor: 't', role: 'admin' }))[0]!;
      expect(rebuild.kind).toBe('rebuild');
      await followTask(h, rebuild.id, /Status: queued/, h.keys.publisher);
      expect((await h.req('GET', `${C}/${c.guid}`)).json).toMatchObject({ environment_guid: other.json.guid, image_name: 'ghcr.io/org/py311:2', py_version: '3.11.4' });
    });
  });

  describe('the UI contract', () => {
    const call = async (method: string, input: unknown, key?: string) => h.req('POST', `/api/call/${method}`, { key, body: input ?? {} });

    it('content.list, content.get (bundles, deploy history, jobs, manifest), content.update, content.deploy', async () => {
      const c = await newContent('ui-item');
      const b = (await upload(c.guid, fastapiBundle())).json;
      const dep = await call('content.deploy', { guid: c.guid, bundle_id: b.id }, h.keys.publisher);
      expect(dep.status, dep.text).toBe(200);
      await followTask(h, dep.json.result.task_id, /Status: queued/, h.keys.publisher);
      expect((await call('content.list', undefined, h.keys.viewer)).json.result.map((x: { name: string }) => x.name)).toContain('ui-item');
      const detail = (await call('content.get', { guid: c.guid }, h.keys.publisher)).json.result;
      expect(detail.content).toMatchObject({ guid: c.guid, bundle_id: b.id, content_url: `/content/${c.guid}/` });
      expect(detail.bundles.map((x: { id: string; active: boolean }) => [x.id, x.active])).toEqual([[b.id, true]]);
      expect(detail.deploys).toEqual([expect.objectContaining({ task_id: dep.json.result.task_id, kind: 'deploy', bundle_id: b.id, finished: false, last_line: expect.stringMatching(/^Status: queued/) })]);
      expect(detail.jobs.map((j: { kind: string }) => j.kind)).toEqual(['run', 'build']);
      expect(detail.manifest.metadata).toEqual({ appmode: 'python-fastapi', entrypoint: 'main' });
      expect(detail.can_edit).toBe(true);
      expect((await call('content.get', { guid: c.guid }, h.keys.other)).json.result.can_edit).toBe(false);
      const upd = await call('content.update', { guid: c.guid, changes: { cpu_request: 2, cpu_limit: 1 } }, h.keys.publisher);
      expect(upd.status).toBe(400);
      expect(upd.json.error).toMatchObject({ code: 'CpuRequestAboveLimit', field: 'cpu_request' });
      expect((await call('content.update', { guid: c.guid, changes: { title: 'From the UI' } }, h.keys.publisher)).json.result.title).toBe('From the UI');
      expect((await call('content.deploy', { guid: c.guid, bundle_id: 'x' }, h.keys.publisher)).json.error).toMatchObject({ code: 'InvalidId', field: 'bundle_id' });
    });
  });

  describe('environment permissions', () => {
    it('add, list, refuse duplicates, remove; a publisher not listed neither sees nor gets the environment', async () => {
      const env = (await h.req('POST', '/__api__/v1/environments', { body: { cluster_name: 'Kubernetes', name: 'ghcr.io/org/restricted:1', title: 'Restricted', matching: 'exact', python: { installations: [{ version: '3.11.9', path: '/usr/bin/python3' }] } } })).json;
      const pat = (await h.req('GET', '/__api__/v1/user', { key: h.keys.publisher })).json;
      const add = await h.req('POST', `/__api__/v1/environments/${env.guid}/permissions`, { body: { user_guid: pat.guid } });
      expect(add.status).toBe(200);
      expect(add.json).toEqual({ id: expect.any(String), guid: expect.stringMatching(/-/), environment_guid: env.guid, user_guid: pat.guid, group_guid: null });
      expect((await h.req('POST', `/__api__/v1/environments/${env.guid}/permissions`, { body: { user_guid: pat.guid } })).json).toMatchObject({ code: 247 });
      expect((await h.req('POST', `/__api__/v1/environments/${env.guid}/permissions`, { body: { user_guid: pat.guid, group_guid: pat.guid } })).json).toMatchObject({ code: 246 });
      expect((await h.req('GET', `/__api__/v1/environments/${env.guid}/permissions`)).json).toHaveLength(1);
      expect((await h.req('GET', `/__api__/v1/environments/${env.guid}/permissions`, { key: h.keys.publisher })).status).toBe(403);
      // olga is not listed: she cannot see it or deploy to it
      expect((await h.req('GET', `/__api__/v1/environments/${env.guid}`, { key: h.keys.other })).status).toBe(404);
      expect((await h.req('GET', '/__api__/v1/environments', { key: h.keys.other })).json.map((e: { guid: string }) => e.guid)).not.toContain(env.guid);
      expect((await h.req('GET', `/__api__/v1/environments/${env.guid}`, { key: h.keys.publisher })).status).toBe(200);
      const c = await newContent('restricted', h.keys.other, { default_environment_guid: env.guid });
      const b = (await upload(c.guid, fastapiBundle(), h.keys.other)).json;
      const id = (await h.req('POST', `${C}/${c.guid}/deploy`, { key: h.keys.other, body: { bundle_id: b.id } })).json.task_id;
      const { task } = await followTask(h, id, /^$/, h.keys.other);
      expect(task).toMatchObject({ finished: true, code: 1 });
      expect(task.error).toMatch(/names "Restricted" \(ghcr\.io\/org\/restricted:1\), but olga, who owns this content, may not use it: its permissions list other users or groups/);
      const del = await h.req('DELETE', `/__api__/v1/environments/${env.guid}/permissions/${add.json.guid}`);
      expect(del.status).toBe(204);
      expect((await h.req('GET', `/__api__/v1/environments/${env.guid}`, { key: h.keys.other })).status).toBe(200);
    });

    it('PUT with only some fields (posit-sdk update) leaves the others as they were', async () => {
      const env = (await h.req('POST', '/__api__/v1/environments', { body: { cluster_name: 'Kubernetes', name: 'ghcr.io/org/partial:1', title: 'Partial', description: 'keep me', python: { installations: [{ version: '3.12.1', path: '/usr/bin/python3' }] } } })).json;
      const r = await h.req('PUT', `/__api__/v1/environments/${env.guid}`, { body: { title: 'Renamed' } });
      expect(r.status).toBe(200);
      expect(r.json).toMatchObject({ title: 'Renamed', description: 'keep me', python: { installations: [{ version: '3.12.1', path: '/usr/bin/python3' }] } });
      // an explicit null resets, as rsconnect's `environment edit` copies nulls back
      expect((await h.req('PUT', `/__api__/v1/environments/${env.guid}`, { body: { description: null } })).json.description).toBe('');
    });
  });
});
