// The store and the environments service against real SQLite and a real PostgreSQL: one suite, both backends.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { pino } from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ApiKeys } from '../../main/auth/api-keys';
import { loadConfig } from '../../main/config';
import { createCore } from '../../main/core';
import { startEnvironmentsFile, watchEnvironmentsFile } from '../../main/environments/file-sync';
import { EnvironmentService, managedGuid } from '../../main/environments/service';
import { EventBus } from '../../main/events';
import { silentLogger } from '../../main/log';
import { auditRepo } from '../../main/store/audit-repo';
import { openStore, type Store } from '../../main/store/db';
import { settingsRepo } from '../../main/store/settings-repo';
import type { ApiEvents } from '../../shared/api';
import { LIMITS, parseEnvironmentSpec, parseEnvironmentUpdate, type EnvironmentSpecInput } from '../../shared/environment';
import { AppError, type ErrorCode } from '../../shared/errors';
import { BACKENDS, freshStore } from './backends';

const spec = (over: Partial<EnvironmentSpecInput> = {}) =>
  parseEnvironmentSpec({
    name: 'ghcr.io/org/r-py:1',
    title: 'R and Python',
    description: 'for tests',
    r: { installations: [{ version: '4.3.1', path: '/opt/R/4.3.1/bin/R' }] },
    python: { installations: [{ version: '3.11.9', path: '/opt/python/3.11.9/bin/python3' }] },
    volume_mounts: [{ source: { volume_type: 'pvc', pvc_name: 'data' }, target: { path: '/mnt/data', read_only: true } }],
    ...over,
  });

async function rejection(p: Promise<unknown>): Promise<AppError> {
  try {
    await p;
  } catch (e) {
    if (e instanceof AppError) return e;
    throw e;
  }
  throw new Error('expected the call to fail');
}

/** A logger whose lines (parsed) land in `lines`, to check what a sync said. */
function capturingLogger() {
  const lines: { level: number; msg: string; [k: string]: unknown }[] = [];
  const log = pino({ level: 'debug' }, { write: (line: string) => void lines.push(JSON.parse(line)) });
  return { log, lines };
}

/** `n` environments as YAML; `title` varies the content. */
function yamlOf(n: number, title = (i: number) => `Image ${i}`): string {
  let text = '';
  for (let i = 0; i < n; i++)
    text += `- name: ghcr.io/org/image-${i}:1\n  title: ${title(i)}\n  python: { installations: [{ version: 3.11.${i % 9}, path: /opt/python/bin/python3 }] }\n`;
  return text;
}

async function eventually(check: () => Promise<boolean>, timeoutMs = 5000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (Date.now() < end) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error('condition not met in time');
}

describe.each(BACKENDS)('$name store', (backend) => {
  let store: Store & { config: import('../../main/config').DatabaseConfig };
  let events: EventBus;
  let seen: ApiEvents['environments.changed'][];
  let service: EnvironmentService;

  beforeEach(async () => {
    store = await freshStore(backend);
    events = new EventBus();
    seen = [];
    events.on('environments.changed', (e) => seen.push(e));
    service = new EnvironmentService({ store, events });
  });
  afterEach(async () => {
    await store.close();
  });

  const expectCode = async (p: Promise<unknown>, code: ErrorCode, field?: string) => {
    const e = await rejection(p);
    expect(e.code).toBe(code);
    if (field !== undefined) expect(e.field).toBe(field);
    return e;
  };
  const count = async () => (await service.list()).length;
  const audit = () => auditRepo.list(store.db);

  it('migrates once; reopening the same database migrates nothing and keeps the data', async () => {
    await service.create(spec(), 'test');
    const again = await openStore(store.config);
    expect((await new EnvironmentService({ store: again, events }).list()).map((e) => e.name)).toEqual(['ghcr.io/org/r-py:1']);
    await again.close();
  });

  it('creates an environment and returns it with the API field names', async () => {
    const env = await service.create(spec(), 'api-key:ci (#1)');
    expect(env).toMatchObject({
      name: 'ghcr.io/org/r-py:1',
      title: 'R and Python',
      description: 'for tests',
      cluster_name: 'Kubernetes',
      environment_type: 'Kubernetes',
      matching: 'any',
      supervisor: null,
      managed_by: null,
      r: { installations: [{ version: '4.3.1', path: '/opt/R/4.3.1/bin/R' }] },
      quarto: { installations: [] },
      volume_mounts: [{ source: { volume_type: 'pvc', pvc_name: 'data' }, target: { path: '/mnt/data', read_only: true } }],
    });
    expect(env.guid).toMatch(/^[0-9a-f-]{36}$/);
    expect(env.id).toMatch(/^\d+$/);
    expect(Date.parse(env.created_time)).not.toBeNaN();
    expect(await service.get(env.guid)).toEqual(env);
    const [entry] = await audit();
    expect(entry).toMatchObject({ actor: 'api-key:ci (#1)', action: 'environment.create', targetId: env.guid, before: null, after: env });
    expect(seen).toEqual([{ action: 'created', guids: [env.guid] }]);
  });

  it('refuses a second environment with the same image, and saves nothing', async () => {
    await service.create(spec(), 't');
    await expectCode(service.create(spec({ title: 'Other' }), 't'), 'DuplicateEnvironmentName', 'name');
    expect(await count()).toBe(1);
    expect(await audit()).toHaveLength(1);
  });

  // One store is one connection on SQLite (writes are serialised), and on PostgreSQL the pool may
  // run one transaction after the other: here the loser is usually caught by the name check, not
  // the unique index. The real race, on the index, is the PostgreSQL-only test below.
  it('two creates of the same image at once through one store: one wins, the other gets DuplicateEnvironmentName', async () => {
    const results = await Promise.allSettled([service.create(spec({ title: 'One' }), 't'), service.create(spec({ title: 'Two' }), 't')]);
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
    const failed = results.find((r) => r.status === 'rejected') as PromiseRejectedResult;
    expect((failed.reason as AppError).code).toBe('DuplicateEnvironmentName');
    expect(await count()).toBe(1);
  });

  it.runIf(backend.name === 'postgres')(
    'two stores (separate connections) that both pass the name check race on the unique index: exactly one wins, the other gets 409',
    async () => {
      const other = await openStore(store.config);
      // A third connection holds a SHARE lock on the table: reads (the name check) pass it, inserts
      // wait for it. Once both creates wait at their INSERT, both have passed the check; releasing
      // the lock lets them race on the unique index.
      const url = (store.config as { url: string }).url;
      const gate = new pg.Client({ connectionString: url });
      // Watched from a connection outside any transaction: inside one, pg_stat_activity is a snapshot.
      const watcher = new pg.Client({ connectionString: url });
      await gate.connect();
      await watcher.connect();
      try {
        await gate.query('BEGIN');
        await gate.query('LOCK TABLE environments IN SHARE MODE');
        const services = [service, new EnvironmentService({ store: other, events })];
        const racing = services.map((svc, i) => svc.create(spec({ title: `Racer ${i}` }), `racer-${i}`));
        const settled = Promise.allSettled(racing);
        const waitingAtInsert = async () =>
          Number(
            (
              await watcher.query(
                "SELECT count(*) AS n FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock' AND query ILIKE 'insert into \"environments\"%'",
              )
            ).rows[0].n,
          );
        await eventually(async () => (await waitingAtInsert()) === 2);
        await gate.query('COMMIT');
        const results = await settled;
        expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
        const failed = results.find((r) => r.status === 'rejected') as PromiseRejectedResult;
        expect(failed.reason).toBeInstanceOf(AppError);
        expect([(failed.reason as AppError).code, (failed.reason as AppError).status]).toEqual(['DuplicateEnvironmentName', 409]);
        expect(await count()).toBe(1);
        // The loser's transaction rolled back entirely: one audit entry, the winner's.
        expect((await audit()).map((a) => a.action)).toEqual(['environment.create']);
      } finally {
        await gate.end();
        await watcher.end();
        await other.close();
      }
    },
  );

  it('replaces every editable field on update and records before and after', async () => {
    const env = await service.create(spec({ supervisor: '/bin/wrap', matching: 'exact' }), 't');
    const updated = await service.update(env.guid, parseEnvironmentUpdate({ title: 'Renamed', python: { installations: [{ version: '3.12.4', path: '/py' }] } }), 'u');
    expect(updated).toMatchObject({ guid: env.guid, name: env.name, title: 'Renamed', description: '', matching: 'any', supervisor: null, r: { installations: [] }, volume_mounts: [] });
    expect(updated.python.installations).toEqual([{ version: '3.12.4', path: '/py' }]);
    expect(updated.created_time).toBe(env.created_time);
    expect(updated.updated_time >= env.updated_time).toBe(true);
    const [last] = await audit();
    expect(last).toMatchObject({ action: 'environment.update', actor: 'u', before: env, after: updated });
    expect(seen.at(-1)).toEqual({ action: 'updated', guids: [env.guid] });
  });

  it('accepts the same name on update but refuses a new one', async () => {
    const env = await service.create(spec(), 't');
    await service.update(env.guid, parseEnvironmentUpdate({ title: 'Same image', name: env.name, cluster_name: 'Kubernetes' }), 't');
    await expectCode(service.update(env.guid, parseEnvironmentUpdate({ title: 'x', name: 'ghcr.io/other:2' }), 't'), 'ImmutableField', 'name');
    expect((await service.get(env.guid)).title).toBe('Same image');
  });

  it('an update that changes nothing writes nothing', async () => {
    const env = await service.create(spec(), 't');
    const { name: _n, cluster_name: _c, ...same } = spec();
    const again = await service.update(env.guid, parseEnvironmentUpdate(same), 't');
    expect(again).toEqual(env);
    expect(await audit()).toHaveLength(1);
    expect(seen).toHaveLength(1);
  });

  it('says NotFound for unknown guids', async () => {
    const guid = '3f9a6c1e-0b7d-4e52-9a3c-2d1f0e8b7a65';
    await expectCode(service.get(guid), 'NotFound', 'guid');
    await expectCode(service.update(guid, parseEnvironmentUpdate({ title: 'x' }), 't'), 'NotFound');
    await expectCode(service.remove(guid, 't'), 'NotFound');
  });

  it('deletes, keeping the definition in the audit log', async () => {
    const env = await service.create(spec(), 't');
    await service.remove(env.guid, 'd');
    expect(await count()).toBe(0);
    const [last] = await audit();
    expect(last).toMatchObject({ action: 'environment.delete', actor: 'd', before: env, after: null });
    expect(seen.at(-1)).toEqual({ action: 'deleted', guids: [env.guid] });
  });

  describe('the declarative file', () => {
    const source = '/etc/offhost/environments.yaml';

    it('creates managed environments that the API cannot change or delete', async () => {
      const r = await service.syncManaged(source, [spec()]);
      expect(r.created).toHaveLength(1);
      const env = await service.get(r.created[0]!);
      expect(env.managed_by).toBe(source);
      await expectCode(service.update(env.guid, parseEnvironmentUpdate({ title: 'x' }), 't'), 'EnvironmentIsConfigManaged');
      await expectCode(service.remove(env.guid, 't'), 'EnvironmentIsConfigManaged');
      expect((await service.get(env.guid)).title).toBe('R and Python');
    });

    it('updates what changed, leaves the rest, and removes what the file no longer lists', async () => {
      const first = await service.syncManaged(source, [spec(), spec({ name: 'ghcr.io/org/quarto:1', title: 'Quarto' })]);
      const second = await service.syncManaged(source, [spec({ title: 'R and Python v2' })]);
      expect(second.updated).toEqual([first.created[0]]);
      expect(second.removed).toEqual([first.created[1]]);
      expect((await service.list()).map((e) => e.title)).toEqual(['R and Python v2']);
      const third = await service.syncManaged(source, [spec({ title: 'R and Python v2' })]);
      expect(third).toEqual({ created: [], updated: [], unchanged: [first.created[0]], removed: [] });
    });

    it('takes over a hand-made environment with the same image, and leaves other hand-made ones alone', async () => {
      const hand = await service.create(spec(), 't');
      const other = await service.create(spec({ name: 'ghcr.io/org/other:1', title: 'Other' }), 't');
      await service.syncManaged(source, [spec({ title: 'From file' })]);
      expect(await service.get(hand.guid)).toMatchObject({ title: 'From file', managed_by: source });
      expect((await service.get(other.guid)).managed_by).toBeNull();
      await service.syncManaged(source, []);
      expect((await service.list()).map((e) => e.guid)).toEqual([other.guid]);
    });

    it('gives an image the same guid whenever the file (re)creates it, derived from the image name', async () => {
      const first = await service.syncManaged(source, [spec()]);
      expect(first.created).toEqual([managedGuid('ghcr.io/org/r-py:1')]);
      // A version-5 UUID: Python's uuid.uuid5(UUID('7c0f3e52-5d1a-4b8e-9f6a-2e4d8c1b0a93'), 'ghcr.io/org/r-py:1').
      expect(first.created[0]).toBe('40067a39-48e6-51d4-b4a3-e5343ff26db7');
      const removed = await service.syncManaged(source, []);
      expect(removed.removed).toEqual(first.created);
      expect(await count()).toBe(0);
      const again = await service.syncManaged(source, [spec(), spec({ name: 'ghcr.io/org/quarto:1', title: 'Quarto' })]);
      expect(again.created).toEqual([first.created[0], managedGuid('ghcr.io/org/quarto:1')]);
      // The guids do not depend on the database either: a fresh one gets the same.
      const other = await freshStore(backend);
      try {
        const r = await new EnvironmentService({ store: other, events: new EventBus() }).syncManaged(source, [spec()]);
        expect(r.created).toEqual(first.created);
      } finally {
        await other.close();
      }
    });

    it('an empty file (blank, comments only) changes nothing and says why; an explicit [] removes what it managed', async () => {
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'offhost-envfile-'));
      const file = path.join(dir, 'environments.yaml');
      fs.writeFileSync(file, '- name: ghcr.io/org/a:1\n  title: A\n- name: ghcr.io/org/b:1\n  title: B\n');
      const { log, lines } = capturingLogger();
      const watch = await watchEnvironmentsFile(file, service, log, 20);
      try {
        const guids = (await service.list()).map((e) => e.guid);
        expect(guids).toHaveLength(2);
        for (const text of ['', '   \n\n', '# being rewritten\n']) {
          lines.length = 0;
          fs.writeFileSync(file, text);
          await watch.syncNow();
          expect((await service.list()).map((e) => e.guid)).toEqual(guids);
          expect(lines.some((l) => l.level === 40 && /environments file is empty.*keeping the previous environments/.test(l.msg))).toBe(true);
        }
        // Rewritten with the same content: nothing to do, the same guids.
        fs.writeFileSync(file, '- name: ghcr.io/org/a:1\n  title: A\n- name: ghcr.io/org/b:1\n  title: B\n');
        await watch.syncNow();
        expect((await service.list()).map((e) => e.guid)).toEqual(guids);
        fs.writeFileSync(file, '[]\n');
        await watch.syncNow();
        expect(await count()).toBe(0);
        // And back: the same guids as before.
        fs.writeFileSync(file, '- name: ghcr.io/org/b:1\n  title: B\n- name: ghcr.io/org/a:1\n  title: A\n');
        await watch.syncNow();
        expect((await service.list()).map((e) => e.guid)).toEqual(guids);
      } finally {
        watch.close();
        fs.rmSync(dir, { recursive: true, force: true });
      }
    });

    it('a file over the size or count limits changes nothing; a large valid one is applied (parsed in a worker)', async () => {
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'offhost-envfile-'));
      const file = path.join(dir, 'environments.yaml');
      fs.writeFileSync(file, yamlOf(LIMITS.environmentsPerFile));
      const { log, lines } = capturingLogger();
      const watch = await watchEnvironmentsFile(file, service, log, 20);
      try {
        expect(await count()).toBe(LIMITS.environmentsPerFile);
        fs.writeFileSync(file, yamlOf(LIMITS.environmentsPerFile + 1));
        await watch.syncNow();
        expect(lines.at(-1)).toMatchObject({ level: 50, code: 'LimitExceeded', field: '[1000]' });
        const oversized = `# ${'x'.repeat(LIMITS.yamlBytes)}\n- name: ghcr.io/org/a:1\n  title: A\n`;
        fs.writeFileSync(file, oversized);
        await watch.syncNow();
        expect(lines.at(-1)).toMatchObject({ level: 50, bytes: oversized.length, limit: LIMITS.yamlBytes });
        expect(await count()).toBe(LIMITS.environmentsPerFile);
      } finally {
        watch.close();
        fs.rmSync(dir, { recursive: true, force: true });
      }
    });

    it('at start, environments of a file that is no longer configured are released (audited), so the API may change them again', async () => {
      const old = await service.syncManaged('/etc/offhost/old.yaml', [spec(), spec({ name: 'ghcr.io/org/quarto:1', title: 'Quarto' })]);
      const [a, b] = old.created;
      // Pointed elsewhere: the new file takes over what it lists, the rest is released.
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'offhost-envfile-'));
      const file = path.join(dir, 'environments.yaml');
      fs.writeFileSync(file, '- name: ghcr.io/org/r-py:1\n  title: From the new file\n');
      const sync = await startEnvironmentsFile(file, service, silentLogger);
      sync?.close();
      fs.rmSync(dir, { recursive: true, force: true });
      expect(await service.get(a!)).toMatchObject({ title: 'From the new file', managed_by: file });
      expect((await service.get(b!)).managed_by).toBeNull();
      const [release] = (await audit()).filter((e) => e.action === 'environment.release');
      expect(release).toMatchObject({ targetId: b, before: { managed_by: '/etc/offhost/old.yaml' }, after: { managed_by: null } });
      expect(release!.actor).toMatch(/^system:environments-file-changed \(\/etc\/offhost\/old\.yaml is no longer OFFHOST_ENVIRONMENTS_FILE, which is now .*environments\.yaml\)$/);
      // No 409 any more.
      await service.update(b!, parseEnvironmentUpdate({ title: 'Edited by hand' }), 't');
      await service.remove(b!, 't');
    });

    it('createCore without OFFHOST_ENVIRONMENTS_FILE releases every managed environment', async () => {
      const { created } = await service.syncManaged('/etc/offhost/gone.yaml', [spec()]);
      const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'offhost-core-'));
      const core = await createCore(loadConfig({}, { dataDir, database: store.config, environmentsFile: null }), silentLogger, 'server');
      try {
        expect((await service.get(created[0]!)).managed_by).toBeNull();
        const [entry] = (await audit()).filter((e) => e.action === 'environment.release');
        expect(entry!.actor).toBe('system:environments-file-changed (/etc/offhost/gone.yaml is no longer OFFHOST_ENVIRONMENTS_FILE, which is unset)');
        await core.environments.update(created[0]!, parseEnvironmentUpdate({ title: 'Mine now' }), 't');
      } finally {
        await core.close();
        fs.rmSync(dataDir, { recursive: true, force: true });
      }
    });

    it('is watched: edits are applied, and a broken file changes nothing', async () => {
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'offhost-envfile-'));
      const file = path.join(dir, 'environments.yaml');
      fs.writeFileSync(file, '- name: ghcr.io/org/a:1\n  title: A\n');
      const watch = await watchEnvironmentsFile(file, service, silentLogger, 20);
      try {
        expect((await service.list()).map((e) => [e.title, e.managed_by])).toEqual([['A', file]]);
        // Replace by rename, the way editors and ConfigMaps do.
        fs.writeFileSync(`${file}.tmp`, '- name: ghcr.io/org/a:1\n  title: A2\n- name: ghcr.io/org/b:1\n  title: B\n');
        fs.renameSync(`${file}.tmp`, file);
        await eventually(async () => (await service.list()).map((e) => e.title).join() === 'A2,B');
        fs.writeFileSync(file, '- name: ghcr.io/org/a:1\n  title: ""\n');
        await watch.syncNow();
        fs.writeFileSync(file, '- name: [unclosed\n');
        await watch.syncNow();
        expect((await service.list()).map((e) => e.title)).toEqual(['A2', 'B']);
      } finally {
        watch.close();
        fs.rmSync(dir, { recursive: true, force: true });
      }
    });
  });

  describe('YAML import and export', () => {
    it('round-trips every environment', async () => {
      await service.create(spec({ supervisor: '/bin/wrap', matching: 'exact' }), 't');
      await service.create(
        spec({ name: 'ghcr.io/org/nfs:1', title: 'NFS', volume_mounts: [{ source: { volume_type: 'nfs', nfs_host: 'nfs.local', nfs_export_path: '/x' }, target: { path: '/mnt/x' } }] }),
        't',
      );
      const yaml = await service.exportYaml();
      expect(yaml).toContain('name: ghcr.io/org/r-py:1');
      const other = await freshStore(backend);
      try {
        const otherService = new EnvironmentService({ store: other, events: new EventBus() });
        const r = await otherService.importYaml(yaml, 'import');
        expect(r.created).toHaveLength(2);
        const strip = (list: Awaited<ReturnType<typeof service.list>>) => list.map(({ id: _i, guid: _g, created_time: _c, updated_time: _u, ...rest }) => rest);
        expect(strip(await otherService.list())).toEqual(strip(await service.list()));
      } finally {
        await other.close();
      }
    });

    it('creates, replaces and skips by image name', async () => {
      const existing = await service.create(spec(), 't');
      const same = await service.create(spec({ name: 'ghcr.io/org/same:1', title: 'Same' }), 't');
      const r = await service.importYaml(
        [
          '- name: ghcr.io/org/r-py:1',
          '  title: Replaced',
          '- name: ghcr.io/org/same:1',
          '  title: Same',
          '  description: for tests',
          '  r: { installations: [{ version: 4.3.1, path: /opt/R/4.3.1/bin/R }] }',
          '  python: { installations: [{ version: 3.11.9, path: /opt/python/3.11.9/bin/python3 }] }',
          '  volume_mounts: [{ source: { volume_type: pvc, pvc_name: data }, target: { path: /mnt/data, read_only: true } }]',
          '- name: ghcr.io/org/new:1',
          '  title: New',
        ].join('\n'),
        'i',
      );
      expect(r.updated).toEqual([existing.guid]);
      expect(r.unchanged).toEqual([same.guid]);
      expect(r.created).toHaveLength(1);
      expect((await service.get(existing.guid)).title).toBe('Replaced');
    });

    it('applies nothing when one entry is invalid, and names it', async () => {
      await service.create(spec(), 't');
      const e = await expectCode(
        service.importYaml('- name: ghcr.io/org/r-py:1\n  title: Changed\n- name: ghcr.io/org/b:1\n  title: B\n  python: { installations: [{ version: "3", path: /p }] }\n', 'i'),
        'InvalidInstallationVersion',
        '[1].python.installations[0].version',
      );
      expect(e.message).toMatch(/"3" is not a version/);
      expect((await service.list()).map((x) => x.title)).toEqual(['R and Python']);
    });

    it('applies nothing when an entry is file-managed', async () => {
      await service.syncManaged('/f.yaml', [spec()]);
      await expectCode(service.importYaml('- name: ghcr.io/org/new:1\n  title: New\n- name: ghcr.io/org/r-py:1\n  title: X\n', 'i'), 'EnvironmentIsConfigManaged', '[1].name');
      expect(await count()).toBe(1);
    });

    it('reports YAML syntax errors with their line', async () => {
      const e = await expectCode(service.importYaml('- name: a\n  title: [oops\n', 'i'), 'InvalidYaml');
      expect(e.message).toMatch(/line \d+/);
    });

    it(`imports ${LIMITS.environmentsPerFile} environments (created, then half replaced), each audited`, async () => {
      const auditCount = async () => Number((await store.db.selectFrom('audit_log').select((eb) => eb.fn.countAll().as('n')).executeTakeFirstOrThrow()).n);
      const first = await service.importYaml(yamlOf(LIMITS.environmentsPerFile), 'i');
      expect(first.created).toHaveLength(LIMITS.environmentsPerFile);
      expect(new Set(first.created).size).toBe(LIMITS.environmentsPerFile);
      expect(await count()).toBe(LIMITS.environmentsPerFile);
      expect(await auditCount()).toBe(LIMITS.environmentsPerFile);
      const env7 = await service.get(first.created[7]!);
      expect(env7).toMatchObject({ name: 'ghcr.io/org/image-7:1', title: 'Image 7', python: { installations: [{ version: '3.11.7', path: '/opt/python/bin/python3' }] } });
      const second = await service.importYaml(yamlOf(LIMITS.environmentsPerFile, (i) => (i % 2 ? `Changed ${i}` : `Image ${i}`)), 'i');
      expect([second.created.length, second.updated.length, second.unchanged.length]).toEqual([0, 500, 500]);
      expect(second.updated[0]).toBe(first.created[1]);
      expect((await service.get(first.created[7]!)).title).toBe('Changed 7');
      expect(await auditCount()).toBe(LIMITS.environmentsPerFile + 500);
      const [last] = await audit();
      expect(last).toMatchObject({ action: 'environment.update', before: { title: 'Image 999' }, after: { title: 'Changed 999' } });
    });

    it(`refuses more than ${LIMITS.environmentsPerFile} environments in one import, applying nothing`, async () => {
      await expectCode(service.importYaml(yamlOf(LIMITS.environmentsPerFile + 1), 'i'), 'LimitExceeded', `[${LIMITS.environmentsPerFile}]`);
      expect(await count()).toBe(0);
    });

    it('an alias bomb or an unknown tag is InvalidYaml (400)', async () => {
      let bomb = 'a: &a [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n';
      for (let i = 1; i < 9; i++) bomb += `${String.fromCharCode(97 + i)}: &${String.fromCharCode(97 + i)} [${Array(9).fill(`*${String.fromCharCode(96 + i)}`).join(', ')}]\n`;
      expect((await expectCode(service.importYaml(bomb, 'i'), 'InvalidYaml')).status).toBe(400);
      await expectCode(service.importYaml('- name: !!js/function "function () { return 1 }"\n  title: X\n', 'i'), 'InvalidYaml');
    });

    it('rejects an image listed twice', async () => {
      await expectCode(service.importYaml('- { name: a, title: A }\n- { name: a, title: B }\n', 'i'), 'DuplicateEnvironmentName', '[1].name');
    });
  });

  it('API keys are stored hashed, verified, and revoked', async () => {
    const keys = new ApiKeys(store.db);
    const { key, info } = await keys.create('ci', 'publisher', 'test');
    expect(key).toMatch(/^ohk_[A-Za-z0-9_-]{43}$/);
    const row = await store.db.selectFrom('api_keys').selectAll().executeTakeFirstOrThrow();
    expect(row.key_hash).not.toContain(key.slice(4));
    expect(row.key_hash).toMatch(/^[0-9a-f]{64}$/);
    expect(await keys.verify(key)).toMatchObject({ id: info.id, role: 'publisher', name: 'ci' });
    // Verifying writes nothing; the last use is written in a batch by flush().
    expect((await keys.list())[0]!.lastUsedTime).toBeNull();
    await keys.flush();
    expect((await keys.list())[0]!.lastUsedTime).not.toBeNull();
    expect(await keys.verify(`${key}x`)).toBeUndefined();
    expect(await keys.verify('not-a-key')).toBeUndefined();
    expect(await keys.revoke(info.id)).toBe(true);
    expect(await keys.verify(key)).toBeUndefined();
  });

  it('settings keep the first value written', async () => {
    expect(await settingsRepo.getOrInit(store.db, 'k', 'one')).toBe('one');
    expect(await settingsRepo.getOrInit(store.db, 'k', 'two')).toBe('one');
  });
});
