// The admin's package sources on real SQLite and PostgreSQL, through the contract: publishers
// read, admins write (checked, audited, shared by every instance through the settings table);
// mounted mode's content volume on a real directory: a bundle extracted once, atomically, and the
// directories jobs write given to the job user.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { create as tarCreate } from 'tar';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createHandlers, dispatch } from '../../main/api/handlers';
import { loadConfig } from '../../main/config';
import { EnvironmentService } from '../../main/environments/service';
import { EventBus } from '../../main/events';
import { PackageSourcesService } from '../../main/content/package-sources';
import { MountedContentVolume } from '../../main/content/volume-mounted';
import { QuotaService } from '../../main/quotas/service';
import { auditRepo } from '../../main/store/audit-repo';
import type { Store } from '../../main/store/db';
import { AppError } from '../../shared/errors';
import { DEFAULT_PACKAGE_SOURCES } from '../../shared/package-sources';
import { BACKENDS, freshStore } from './backends';

async function rejection(p: Promise<unknown>): Promise<AppError> {
  try {
    await p;
  } catch (e) {
    if (e instanceof AppError) return e;
    throw e;
  }
  throw new Error('expected the call to fail');
}

describe.each(BACKENDS)('package sources on $name', (backend) => {
  let store: Store;
  beforeEach(async () => {
    store = await freshStore(backend);
  });
  afterEach(async () => {
    await store.close();
  });

  it('publishers read, admins write; bad URLs are refused by field; each save is audited', async () => {
    const events = new EventBus();
    const core = { config: loadConfig({}), store, environments: new EnvironmentService({ store, events }), quotas: new QuotaService({ store, events }), packageSources: new PackageSourcesService(store) };
    const handlers = createHandlers(core, 'server');
    const publisher = { actor: 'api-key:pub (#1)', role: 'publisher' as const };
    const admin = { actor: 'api-key:admin (#2)', role: 'admin' as const };
    expect(await dispatch(handlers, 'settings.packageSources.get', undefined, publisher)).toEqual(DEFAULT_PACKAGE_SOURCES);
    expect((await rejection(dispatch(handlers, 'settings.packageSources.update', { python_no_index: false }, publisher))).code).toBe('Forbidden');
    expect((await rejection(dispatch(handlers, 'settings.packageSources.get', undefined, { actor: 'v', role: 'viewer' }))).code).toBe('Forbidden');
    const bad = await rejection(dispatch(handlers, 'settings.packageSources.update', { python_find_links: ['file:///ok', 'https://user:secret@pypi.example.com/simple'] }, admin));
    expect(bad).toMatchObject({ code: 'InvalidPackageSources', field: 'python_find_links[1]', status: 400 });
    expect(bad.message).toContain('must not carry a user name or password');
    const sources = { python_index_url: 'https://pypi.example.com/simple', python_find_links: ['file:///packages/wheels'], python_no_index: false, r_repositories: [{ name: 'CRAN', url: 'https://cran.example.com' }] };
    expect(await dispatch(handlers, 'settings.packageSources.update', sources, admin)).toEqual(sources);
    // Another instance on the same database sees them.
    expect(await new PackageSourcesService(store).get()).toEqual(sources);
    const trail = await auditRepo.list(store.db, { targetType: 'settings' });
    expect(trail[0]).toMatchObject({ actor: admin.actor, action: 'settings.package_sources', before: DEFAULT_PACKAGE_SOURCES, after: sources });
  });
});

describe('mounted content volume on a directory', () => {
  let root: string;
  let archive: string;
  beforeEach(async () => {
    root = fs.mkdtempSync(path.join(os.tmpdir(), 'offhost-volume-'));
    const src = fs.mkdtempSync(path.join(os.tmpdir(), 'offhost-src-'));
    fs.writeFileSync(path.join(src, 'manifest.json'), '{"version":1,"metadata":{"appmode":"static"}}');
    fs.mkdirSync(path.join(src, 'site'));
    fs.writeFileSync(path.join(src, 'site', 'index.html'), '<p>hi</p>');
    archive = `${src}.tar.gz`;
    await tarCreate({ gzip: true, file: archive, cwd: src, portable: true }, ['manifest.json', 'site']);
    fs.rmSync(src, { recursive: true, force: true });
  });
  afterEach(() => {
    fs.rmSync(root, { recursive: true, force: true });
    fs.rmSync(archive, { force: true });
  });

  it('extracts a bundle once, into place by rename; a second call says it is there', async () => {
    const v = new MountedContentVolume(root, 'offhost-content');
    await v.start();
    const sha = 'b'.repeat(64);
    const lines: string[] = [];
    await Promise.all([v.ensureBundle(sha, archive, (l) => lines.push(l)), v.ensureBundle(sha, archive, (l) => lines.push(l))]);
    expect(fs.readFileSync(path.join(root, 'bundles', sha, 'site', 'index.html'), 'utf8')).toBe('<p>hi</p>');
    expect(lines.some((l) => /^Bundle b{12} extracted: 2 files/.test(l))).toBe(true);
    // No temporary directory is left beside it.
    expect(fs.readdirSync(path.join(root, 'bundles'))).toEqual([sha]);
    const again: string[] = [];
    await v.ensureBundle(sha, archive, (l) => again.push(l));
    expect(again).toEqual([`Bundle ${'b'.repeat(12)} is already on the content volume.`]);
  });

  it('makes the directories jobs write, for the job user, and refuses paths outside the volume', async () => {
    const v = new MountedContentVolume(root, 'offhost-content');
    await v.start();
    await v.ensureWritable(['libraries/0f4b8e2c-5c1e-4f7a-9d0b-3a2e1c4d5e6f/lib-1', 'jobs/7/output']);
    for (const d of ['libraries/0f4b8e2c-5c1e-4f7a-9d0b-3a2e1c4d5e6f/lib-1', 'jobs/7/output']) {
      const st = fs.statSync(path.join(root, d));
      expect(st.isDirectory()).toBe(true);
      if (process.getuid?.() === 0) expect(st.uid).toBe(999);
      else expect(st.mode & 0o777).toBe(0o777);
    }
    await expect(v.ensureWritable(['../escape'])).rejects.toThrow(/not a path inside the content volume/);
  });

  it('copies a job output back, skipping links a job could aim anywhere', async () => {
    const v = new MountedContentVolume(root, 'offhost-content');
    await v.start();
    const out = path.join(root, 'jobs', '3', 'output');
    fs.mkdirSync(path.join(out, 'lib'), { recursive: true });
    fs.writeFileSync(path.join(out, 'index.html'), 'report');
    fs.writeFileSync(path.join(out, 'lib', 'a.js'), 'js');
    fs.symlinkSync('/etc/passwd', path.join(out, 'passwd'));
    const dest = fs.mkdtempSync(path.join(os.tmpdir(), 'offhost-dest-'));
    try {
      await v.fetchOutput(3, dest);
      expect(fs.readFileSync(path.join(dest, 'index.html'), 'utf8')).toBe('report');
      expect(fs.readFileSync(path.join(dest, 'lib', 'a.js'), 'utf8')).toBe('js');
      expect(fs.existsSync(path.join(dest, 'passwd'))).toBe(false);
      await expect(v.fetchOutput(4, dest)).rejects.toThrow(/left no output/);
    } finally {
      fs.rmSync(dest, { recursive: true, force: true });
    }
  });

  it('start refuses a path that is not a directory', async () => {
    await expect(new MountedContentVolume(path.join(root, 'missing'), 'c').start()).rejects.toThrow(/OFFHOST_CONTENT_VOLUME .* is not a directory/);
  });
});
