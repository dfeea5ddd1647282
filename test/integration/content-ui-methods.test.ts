// The two content methods the UI contract gained for the Content page: content.create and
// content.uploadBundle (base64, for the desktop app, whose IPC has no HTTP stream). They are called
// through dispatch() as the Electron bridge calls them, on SQLite, with a real core and bundle store.
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { UPLOAD_BUNDLE_MAX_BYTES } from '../../shared/api';
import { dispatch, type CallContext } from '../../main/api/handlers';
import { BACKENDS } from './backends';
import { fastapiBundle, gzip, startHarness, tarOf, type Harness } from './connect-helpers';

const desktop: CallContext = { actor: 'desktop:test', role: 'admin' };

describe('content.create and content.uploadBundle (the desktop path)', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness(BACKENDS.find((b) => b.name === 'sqlite')!);
  });
  afterAll(async () => h?.close());
  const call = (method: string, input: unknown, ctx: CallContext = desktop) => dispatch(h.core.handlers, method, input, ctx) as Promise<any>;
  const storedFiles = () => {
    const dir = path.join(h.dir, 'bundles');
    return fs.existsSync(dir) ? fs.readdirSync(dir, { recursive: true }).filter((f) => String(f).endsWith('.tar.gz')).length : 0;
  };

  it('creates content (name required) and takes a base64 bundle that can then be deployed', async () => {
    await expect(call('content.create', { title: 'No name' })).rejects.toMatchObject({ code: 'InvalidContentName', field: 'name' });
    const c = await call('content.create', { name: 'desk-item', title: 'Desk item' });
    expect(c).toMatchObject({ name: 'desk-item', title: 'Desk item', bundle_id: null });
    const b = await call('content.uploadBundle', { guid: c.guid, archive: fastapiBundle().toString('base64') });
    expect(b).toMatchObject({ content_guid: c.guid, app_mode: 'python-fastapi', active: false });
    const detail = await call('content.get', { guid: c.guid });
    expect(detail.bundles.map((x: { id: string }) => x.id)).toEqual([b.id]);
    expect((await call('content.deploy', { guid: c.guid, bundle_id: b.id })).task_id).toEqual(expect.any(String));
  });

  it('refuses what is not base64, a bad bundle (nothing stored) and an archive over the cap', async () => {
    const c = await call('content.create', { name: 'desk-bad' });
    await expect(call('content.uploadBundle', { guid: c.guid, archive: 'not base64!' })).rejects.toMatchObject({ code: 'InvalidRequest', field: 'archive' });
    const before = storedFiles();
    const noManifest = gzip(tarOf([{ path: 'app.py', data: 'print(1)\n' }])).toString('base64');
    await expect(call('content.uploadBundle', { guid: c.guid, archive: noManifest })).rejects.toThrow(/manifest\.json/);
    expect(storedFiles()).toBe(before);
    expect((await call('content.get', { guid: c.guid })).bundles).toEqual([]);
    const tooBig = 'A'.repeat(Math.ceil((UPLOAD_BUNDLE_MAX_BYTES + 1) / 3) * 4);
    await expect(call('content.uploadBundle', { guid: c.guid, archive: tooBig })).rejects.toMatchObject({ code: 'BundleTooLarge', field: 'archive' });
  });

  it('a viewer may do neither', async () => {
    await expect(call('content.create', { name: 'x' }, { actor: 'v', role: 'viewer' })).rejects.toMatchObject({ code: 'Forbidden' });
  });
});
