// /content/{guid}/ without a cluster, on both store backends: static sites are served from their
// bundle (paths cannot leave it), access follows access_type / locked / owner, drafts are the
// owner's, documents without output and apps without a cluster answer 503 in words (rsconnect's
// verify counts only 5xx as failure), content_url points here.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parsePublicUrl } from '../../main/config';
import { BACKENDS } from './backends';
import { fastapiBundle, followTask, gzip, startHarness, tarOf, type Harness } from './connect-helpers';

const C = '/__api__/v1/content';

function staticSite(title: string): Buffer {
  return gzip(
    tarOf([
      { path: 'manifest.json', data: JSON.stringify({ version: 1, metadata: { appmode: 'static', primary_html: 'home.html', entrypoint: 'home.html' }, files: {} }) },
      { path: 'home.html', data: `<h1>${title}</h1><script>inline()</script>` },
      { path: 'sub/page.html', data: '<p>page</p>' },
      { path: 'sub/index.html', data: '<p>sub index</p>' },
      { path: 'assets/app.js', data: 'console.log(1)' },
      { path: 'assets/style.css', data: 'h1{}' },
    ]),
  );
}

describe.each(BACKENDS)('content serving ($name)', (backend) => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness(backend, { publicUrl: parsePublicUrl('https://offhost.example.com/') });
  });
  afterAll(async () => h?.close());

  async function newContent(name: string, key = h.keys.publisher, extra: Record<string, unknown> = {}) {
    const r = await h.req('POST', C, { key, body: { name, ...extra } });
    expect(r.status, r.text).toBe(200);
    return r.json as { guid: string; content_url: string };
  }
  async function deploy(guid: string, bundle: Buffer, activate = true, key = h.keys.publisher) {
    const b = (await h.req('POST', `${C}/${guid}/bundles`, { key, raw: bundle })).json;
    const task = (await h.req('POST', `${C}/${guid}/deploy`, { key, body: { bundle_id: b.id, activate } })).json.task_id;
    await followTask(h, task, /Status: queued|Static HTML/, key);
    return b.id as string;
  }

  it('content_url is <OFFHOST_PUBLIC_URL>content/{guid}/', async () => {
    const c = await newContent('where');
    expect(c.content_url).toBe(`https://offhost.example.com/content/${c.guid}/`);
    expect((await h.req('GET', `${C}/${c.guid}`)).json.content_url).toBe(`https://offhost.example.com/content/${c.guid}/`);
  });

  it('a static site: its primary page at the root, its files, directories with their index; nothing outside it', async () => {
    const c = await newContent('site');
    await deploy(c.guid, staticSite('Hello'));
    const k = { key: h.keys.publisher };
    const noSlash = await h.req('GET', `/content/${c.guid}`, k);
    expect(noSlash.status).toBe(301);
    expect(noSlash.headers.get('location')).toBe(`/content/${c.guid}/`);

    const root = await h.req('GET', `/content/${c.guid}/`, k);
    expect(root.status).toBe(200);
    expect(root.text).toBe('<h1>Hello</h1><script>inline()</script>');
    expect(root.headers.get('content-type')).toBe('text/html; charset=utf-8');
    // not the UI's strict policy (which forbids inline scripts): content may only be framed by us
    expect(root.headers.get('content-security-policy')).toBe("frame-ancestors 'self'");
    expect(root.headers.get('x-frame-options')).toBe('SAMEORIGIN');
    expect(root.headers.get('x-content-type-options')).toBe('nosniff');

    expect((await h.req('GET', `/content/${c.guid}/assets/app.js`, k)).headers.get('content-type')).toBe('text/javascript; charset=utf-8');
    expect((await h.req('GET', `/content/${c.guid}/sub/page.html`, k)).text).toBe('<p>page</p>');
    const dir = await h.req('GET', `/content/${c.guid}/sub`, k);
    expect(dir.status).toBe(301);
    expect(dir.headers.get('location')).toBe(`/content/${c.guid}/sub/`);
    expect((await h.req('GET', `/content/${c.guid}/sub/`, k)).text).toBe('<p>sub index</p>');

    const etag = root.headers.get('etag')!;
    expect((await h.req('GET', `/content/${c.guid}/`, { ...k, headers: { 'If-None-Match': etag } })).status).toBe(304);
    const head = await h.req('HEAD', `/content/${c.guid}/assets/style.css`, k);
    expect(head.status).toBe(200);
    expect(head.headers.get('content-length')).toBe('4');
    expect(head.text).toBe('');

    for (const p of ['..%2f..%2f..%2fetc%2fpasswd', '%2e%2e/%2e%2e/etc/passwd', 'sub/..%2f..%2f..%2fbundles', '.complete', 'nothing.html', 'sub%00.html', '%zz'])
      expect((await h.req('GET', `/content/${c.guid}/${p}`, k)).status, p).toBeGreaterThanOrEqual(400);
    expect((await h.req('POST', `/content/${c.guid}/home.html`, { ...k, raw: Buffer.from('x') })).status).toBe(400);
  });

  it('access: acl → owner and admins; logged_in → any credentials; all → anyone; locked → owner and admins; unknown → 404', async () => {
    const c = await newContent('private-site');
    await deploy(c.guid, staticSite('Private'));
    const url = `/content/${c.guid}/`;
    const status = async (key: string | null) => (await h.req('GET', url, { key })).status;
    // acl (the default): the owner and admins only
    const anon = await h.req('GET', url, { key: null });
    expect(anon.status).toBe(401);
    expect(anon.json).toMatchObject({ code: 24, error: expect.stringMatching(/needs credentials/) });
    const browser = await h.req('GET', url, { key: null, headers: { Accept: 'text/html,application/xhtml+xml' } });
    expect(browser.status).toBe(401);
    expect(browser.text).toMatch(/Sign in to see this content/);
    expect(await status(h.keys.publisher)).toBe(200);
    expect(await status(h.keys.admin)).toBe(200);
    const other = await h.req('GET', url, { key: h.keys.other });
    expect(other.status).toBe(403);
    expect(other.json.error).toMatch(/shared with its owner only; olga is not/);
    expect(await status(h.keys.viewer)).toBe(403);
    expect((await h.req('GET', url, { key: 'ohk_not-a-real-key-at-all-0000000000000000' })).status).toBe(401);

    expect((await h.req('PATCH', `${C}/${c.guid}`, { key: h.keys.publisher, body: { access_type: 'logged_in' } })).status).toBe(200);
    expect(await status(h.keys.viewer)).toBe(200);
    expect(await status(h.keys.other)).toBe(200);
    expect(await status(null)).toBe(401);

    expect((await h.req('PATCH', `${C}/${c.guid}`, { key: h.keys.publisher, body: { access_type: 'all' } })).status).toBe(200);
    const pub = await h.req('GET', url, { key: null });
    expect(pub.status).toBe(200);
    expect(pub.text).toContain('Private');

    expect((await h.req('PATCH', `${C}/${c.guid}`, { key: h.keys.publisher, body: { locked: true, locked_message: 'Under maintenance.' } })).status).toBe(200);
    const locked = await h.req('GET', url, { key: h.keys.viewer });
    expect(locked.status).toBe(403);
    expect(locked.json.error).toBe('Under maintenance.');
    expect(await status(null)).toBe(401);
    expect(await status(h.keys.publisher)).toBe(200);

    expect((await h.req('GET', '/content/3f9a6c1e-0b7d-4e52-9a3c-2d1f0e8b7a65/', { key: h.keys.publisher })).status).toBe(404);
    expect((await h.req('GET', '/content/not-a-guid/', { key: h.keys.publisher })).status).toBe(400);
  });

  it("a draft is served at /content/{guid}/_bundle{id}/ to its owner, and the active bundle stays at the root", async () => {
    const c = await newContent('drafty', h.keys.publisher, { access_type: 'all' });
    await deploy(c.guid, staticSite('One'));
    const draft = await deploy(c.guid, staticSite('Two'), false);
    expect((await h.req('GET', `/content/${c.guid}/`, { key: null })).text).toContain('One');
    expect((await h.req('GET', `/content/${c.guid}/_bundle${draft}/`, { key: h.keys.publisher })).text).toContain('Two');
    expect((await h.req('GET', `/content/${c.guid}/_bundle${draft}`, { key: h.keys.publisher })).status).toBe(301);
    // drafts are not public even when the content is
    expect((await h.req('GET', `/content/${c.guid}/_bundle${draft}/`, { key: null })).status).toBe(401);
    expect((await h.req('GET', `/content/${c.guid}/_bundle${draft}/`, { key: h.keys.viewer })).status).toBe(403);
    expect((await h.req('GET', `/content/${c.guid}/_bundle999/`, { key: h.keys.publisher })).status).toBe(404);
  });

  it('not deployed → 404; an app with no cluster → 503 in words (rsconnect verify fails); a document with nothing rendered → 503', async () => {
    const none = await newContent('undeployed');
    const r = await h.req('GET', `/content/${none.guid}/`, { key: h.keys.publisher });
    expect(r.status).toBe(404);
    expect(r.json.error).toMatch(/has not been deployed yet/);

    await h.req('POST', '/__api__/v1/environments', { body: { cluster_name: 'Kubernetes', name: 'ghcr.io/org/py311:1', title: 'Python 3.11', python: { installations: [{ version: '3.11.7', path: '/usr/bin/python3' }] } } });
    const app = await newContent('api');
    const id = await deploy(app.guid, fastapiBundle());
    for (const p of [`/content/${app.guid}/`, `/content/${app.guid}/_bundle${id}/`]) {
      const a = await h.req('GET', p, { key: h.keys.publisher });
      expect(a.status, p).toBe(503);
      expect(a.json).toMatchObject({ code: 1, error: expect.stringMatching(/no cluster is configured/), payload: null });
      expect(a.headers.get('retry-after')).toBe('5');
    }
  });
});
