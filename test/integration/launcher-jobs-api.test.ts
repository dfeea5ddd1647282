// Connect's jobs API beyond listing, without a cluster (a normal state): cancelling a queued job
// (KillJobOrder; 409 with Connect's code 163 once it has ended), its log (empty LogEntries, then
// what the store kept), and who may do it. The cluster half is test/integration/cluster/launcher.test.ts.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { api } from '../../shared/api';
import { jobsRepo } from '../../main/store/jobs-repo';
import { usersRepo } from '../../main/users/users';
import { BACKENDS } from './backends';
import { PYTHON_ENV, fastapiBundle, followTask, startHarness, type Harness } from './connect-helpers';

const C = '/__api__/v1/content';

describe.each(BACKENDS)('jobs API on $name', (backend) => {
  let h: Harness;
  let guid = '';
  let keys: string[] = [];
  beforeAll(async () => {
    h = await startHarness(backend);
    expect((await h.req('POST', '/__api__/v1/environments', { body: { cluster_name: 'Kubernetes', ...PYTHON_ENV } })).status).toBe(200);
    const c = (await h.req('POST', C, { key: h.keys.publisher, body: { name: 'api-jobs' } })).json;
    guid = c.guid;
    const b = (await h.req('POST', `${C}/${guid}/bundles`, { key: h.keys.publisher, raw: fastapiBundle() })).json;
    const d = await h.req('POST', `${C}/${guid}/deploy`, { key: h.keys.publisher, body: { bundle_id: b.id } });
    await followTask(h, d.json.task_id, /Status: queued/, h.keys.publisher);
    keys = (await h.req('GET', `${C}/${guid}/jobs`, { key: h.keys.publisher })).json.map((j: { key: string }) => j.key);
    expect(keys).toHaveLength(2);
  });
  afterAll(async () => {
    await h?.close();
  });

  it('DELETE cancels a queued job and answers Connect’s kill order; again → 409, code 163', async () => {
    const [run] = keys;
    expect((await h.req('DELETE', `${C}/${guid}/jobs/${run}`, { key: h.keys.other })).status).toBe(403);
    const r = await h.req('DELETE', `${C}/${guid}/jobs/${run}`, { key: h.keys.publisher });
    expect(r.status).toBe(200);
    expect(r.json).toMatchObject({ app_guid: guid, content_guid: guid, job_key: run, result: 'Order to kill job registered' });
    const job = (await h.req('GET', `${C}/${guid}/jobs/${run}`, { key: h.keys.publisher })).json;
    expect(job).toMatchObject({ key: run, state: 'cancelled', status: 1, reason: 'Cancelled' });
    expect(job.end_time).toEqual(expect.any(String));
    const again = await h.req('DELETE', `${C}/${guid}/jobs/${run}`, { key: h.keys.publisher });
    expect(again.status).toBe(409);
    expect(again.json).toMatchObject({ code: 163 });
    expect(again.json.error).toMatch(/already ended \(cancelled\)/);
    expect((await h.req('DELETE', `${C}/${guid}/jobs/nope`, { key: h.keys.publisher })).status).toBe(404);
  });

  it('the UI contract: jobs.list / jobs.get / jobs.log, inputs checked by field, ownership by the content service', async () => {
    const owner = { actor: 'test', role: 'publisher' as const, user: await usersRepo.byUsername(h.core.store.db, 'pat') };
    const list = await h.core.handlers['jobs.list']({ guid }, owner);
    expect(list.map((j) => j.key).sort()).toEqual([...keys].sort());
    expect(list[0]).toMatchObject({ kind: expect.any(String), state: expect.any(String), k8s_name: null, node_name: null });
    const one = await h.core.handlers['jobs.get']({ guid, key: keys[1]! }, owner);
    expect(one.key).toBe(keys[1]);
    // No cluster: no Events, said as an empty list (the job page shows "None yet").
    expect(await h.core.handlers['jobs.events']({ guid, key: keys[1]! }, owner)).toEqual([]);
    expect(() => api['jobs.events'].parse({ guid, key: '../x' })).toThrow(/key must be a job key/);
    expect(() => api['jobs.log'].parse({ guid, key: keys[1], maxLines: 0 })).toThrow(/maxLines must be a whole number from 1/);
    expect(() => api['jobs.get'].parse({ guid, key: '../x' })).toThrow(/key must be a job key/);
    expect(() => api['jobs.cancel'].parse({ guid, key: 'a', extra: 1 })).toThrow(/extra/);
  });

  it('cluster.test without a cluster says what to set; only admins may ask', async () => {
    const r = await h.core.handlers['cluster.test'](undefined as never, { actor: 'test', role: 'admin' });
    expect(r).toEqual({ ok: false, configured: false, message: expect.stringMatching(/^No cluster is configured\. Set OFFHOST_KUBECONFIG .* OFFHOST_NAMESPACE/) });
    expect(api['cluster.test'].role).toBe('admin');
    expect(h.core.launcher).toBeUndefined();
  });

  it('the log: empty entries until one is kept, then the last maxLogLines lines as LogEntries', async () => {
    const [, build] = keys;
    const empty = await h.req('GET', `${C}/${guid}/jobs/${build}/log`, { key: h.keys.publisher });
    expect(empty.status).toBe(200);
    expect(empty.json).toEqual({ entries: [] });
    const row = (await h.core.store.db.selectFrom('jobs').select('id').where('key', '=', build!).executeTakeFirstOrThrow()).id;
    await jobsRepo.saveLog(h.core.store.db, row, 'one\ntwo\nthree\n', false);
    const got = await h.req('GET', `${C}/${guid}/jobs/${build}/log?maxLogLines=2`, { key: h.keys.publisher });
    expect(got.json.entries.map((e: { data: string; source: string }) => [e.source, e.data])).toEqual([
      ['stdout', 'two'],
      ['stdout', 'three'],
    ]);
    expect((await h.req('GET', `${C}/${guid}/jobs/${build}/log?maxLogLines=x`, { key: h.keys.publisher })).status).toBe(400);
    // tail: without a pod to follow, the kept log as LogEntry lines, then the end.
    const tail = await h.req('GET', `${C}/${guid}/jobs/${build}/tail`, { key: h.keys.publisher });
    expect(tail.status).toBe(200);
    expect(tail.headers.get('content-type')).toMatch(/^application\/x-ndjson/);
    expect(tail.text.trim().split('\n').map((l) => JSON.parse(l).data)).toEqual(['one', 'two', 'three']);
    expect((await h.req('GET', `${C}/${guid}/jobs/${build}/tail`, { key: h.keys.other })).status).toBe(403);
  });
});
