// The quotas wired into the content service through the core, on SQLite and PostgreSQL: content
// settings outside the bounds are refused (one error per field, nothing stored), the impact
// preview sees the real content list, and content left outside by lowered bounds stays editable.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { loadConfig } from '../../main/config';
import { createCore, type Core } from '../../main/core';
import { silentLogger } from '../../main/log';
import { parseContentChanges } from '../../shared/content';
import { AppError } from '../../shared/errors';
import { DEFAULT_QUOTAS, parseQuotas } from '../../shared/quota';
import { BACKENDS, freshStore } from './backends';
import { startHarness, type Harness } from './connect-helpers';

const GiB = 1024 ** 3;
const admin = { actor: 'api-key:admin (#1)', role: 'admin' as const };

async function rejection(p: Promise<unknown>): Promise<AppError> {
  try {
    await p;
  } catch (e) {
    if (e instanceof AppError) return e;
    throw e;
  }
  throw new Error('expected the call to fail');
}

describe.each(BACKENDS)('$name: quotas and content', (backend) => {
  let core: Core;
  let cleanup: () => Promise<void>;

  beforeEach(async () => {
    const store = await freshStore(backend);
    const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'offhost-quotas-content-'));
    core = await createCore(loadConfig({}, { dataDir, database: store.config, environmentsFile: null, kube: null }), silentLogger, 'server');
    cleanup = async () => {
      await core.close();
      await store.close();
      fs.rmSync(dataDir, { recursive: true, force: true });
    };
  });
  afterEach(async () => cleanup());

  const create = (body: Record<string, unknown>) => core.content.create(parseContentChanges(body, { requireName: true }), admin);

  it('content settings outside the bounds are refused, every field at once, and nothing is stored', async () => {
    const err = await rejection(create({ name: 'too-big', cpu_limit: 16, memory_request: 32 * GiB, service_account_name: 'root' }));
    expect(err.status).toBe(400);
    expect(err.toBody().details!.map((d) => [d.field, d.code])).toEqual([
      ['cpu_limit', 'CpuLimitOutOfBounds'],
      ['memory_request', 'MemoryRequestOutOfBounds'],
      ['service_account_name', 'ServiceAccountNotAllowed'],
    ]);
    expect(await core.content.list()).toEqual([]);
    const ok = await create({ name: 'fits', cpu_limit: 8, memory_request: 16 * GiB, memory_limit: 16 * GiB });
    expect(ok.settings).toMatchObject({ cpu_limit: 8, memory_request: 16 * GiB });
  });

  it('the impact preview lists the real content; lowered bounds leave it editable, but not with new out-of-bounds values', async () => {
    const big = await create({ name: 'big', memory_limit: 24 * GiB });
    await create({ name: 'small' });
    const lower = parseQuotas({ ...DEFAULT_QUOTAS, memory_request: { min: 64 * 1024 ** 2, default: 512 * 1024 ** 2, max: 8 * GiB }, memory_limit: { min: 128 * 1024 ** 2, default: GiB, max: 16 * GiB } });
    const preview = await core.quotas.preview(lower);
    expect(preview.impact.content_count).toBe(2);
    expect(preview.impact.affected).toEqual([
      expect.objectContaining({ guid: big.guid, name: 'big', clamped: [expect.objectContaining({ field: 'memory_limit', value: 24 * GiB, launch_value: 16 * GiB, bound: 'max' })] }),
    ]);
    await core.quotas.update(lower, preview.version, admin.actor);

    // Still editable otherwise ...
    const renamed = await core.content.update(big.guid, parseContentChanges({ title: 'Big report', cpu_limit: 2 }), admin);
    expect(renamed.title).toBe('Big report');
    // ... but a new value must fit.
    const err = await rejection(core.content.update(big.guid, parseContentChanges({ memory_limit: 20 * GiB }), admin));
    expect(err).toMatchObject({ code: 'MemoryLimitOutOfBounds', field: 'memory_limit' });
    expect((await core.content.get(big.guid)).settings.memory_limit).toBe(24 * GiB);
  });
});

describe.each(BACKENDS)('$name: quotas through the Connect content API', (backend) => {
  let h: Harness;
  beforeEach(async () => {
    h = await startHarness(backend);
  });
  afterEach(async () => h.close());

  it("out-of-bounds settings get Connect's error codes, with the field; PATCH inside the bounds works", async () => {
    const created = await h.req('POST', '/__api__/v1/content', { body: { name: 'report' } });
    expect(created.status).toBe(200);
    const guid = created.json.guid as string;

    const tooBig = await h.req('PATCH', `/__api__/v1/content/${guid}`, { body: { memory_limit: 64 * GiB } });
    expect(tooBig.status).toBe(400);
    expect(tooBig.json).toMatchObject({ code: 184, field: 'memory_limit', payload: null });
    expect(tooBig.json.error).toContain('above the maximum memory limit of 34359738368 bytes (32Gi)');

    const overMax = await h.req('PATCH', `/__api__/v1/content/${guid}`, { body: { cpu_request: 6, cpu_limit: 7 } });
    expect(overMax.json).toMatchObject({ code: 187, field: 'cpu_request' });

    const fine = await h.req('PATCH', `/__api__/v1/content/${guid}`, { body: { cpu_request: 2, cpu_limit: 4, memory_limit: 2 * GiB } });
    expect(fine.status).toBe(200);
    expect(fine.json).toMatchObject({ cpu_request: 2, cpu_limit: 4, memory_limit: 2 * GiB });
  });
});
