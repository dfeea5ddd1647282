// Content's pure rules: the fields a write may carry and their units, the settings' own
// consistency, app modes, job tags, and the member names a bundle may hold.
import { describe, expect, it } from 'vitest';
import { normaliseMemberName } from '../../main/content/bundle-archive';
import { usableEnvironments } from '../../main/content/deploy';
import { DEFAULT_SETTINGS, checkSettingsShape, jobTag, normaliseAppMode, parseContentChanges, parseDeployInput } from '../../shared/content';
import { AppError } from '../../shared/errors';
import type { Environment } from '../../shared/environment';

function error(fn: () => unknown): AppError {
  try {
    fn();
  } catch (e) {
    if (e instanceof AppError) return e;
    throw e;
  }
  throw new Error('expected an AppError');
}

describe('parseContentChanges', () => {
  it('keeps only the fields sent, in Connect\'s units', () => {
    expect(parseContentChanges({ title: 'x', cpu_limit: 1.5, memory_limit: 1073741824, init_timeout: 60 })).toEqual({
      title: 'x',
      cpu_limit: 1.5,
      memory_limit: 1073741824,
      init_timeout: 60,
    });
    expect(parseContentChanges({ cpu_request: null, default_image_name: null })).toEqual({ cpu_request: null, default_image_name: null });
    // null means the default, for every field that has one
    expect(parseContentChanges({ title: null, description: null, access_type: null, locked: null, locked_message: null, run_as_current_user: null })).toEqual({
      title: null,
      description: '',
      access_type: 'acl',
      locked: false,
      locked_message: '',
      run_as_current_user: false,
    });
    // what a client echoes from ?include= is ignored
    expect(parseContentChanges({ title: 't', owner: { guid: 'x' }, tags: [], vanity_url: null })).toEqual({ title: 't' });
  });

  it.each([
    [{ cpu_request: 0 }, 'InvalidCpuRequest', 'cpu_request'],
    [{ cpu_limit: 0.0005 }, 'InvalidCpuLimit', 'cpu_limit'],
    [{ cpu_limit: '1' }, 'InvalidCpuLimit', 'cpu_limit'],
    [{ memory_request: 1.5 }, 'InvalidMemoryRequest', 'memory_request'],
    [{ memory_limit: 2 ** 60 }, 'InvalidMemoryLimit', 'memory_limit'],
    [{ idle_timeout: -1 }, 'InvalidTimeout', 'idle_timeout'],
    [{ max_processes: 0 }, 'InvalidMaxProcesses', 'max_processes'],
    [{ load_factor: -0.1 }, 'InvalidLoadFactor', 'load_factor'],
    [{ name: 'has space' }, 'InvalidContentName', 'name'],
    [{ name: 'x'.repeat(65) }, 'InvalidContentName', 'name'],
    [{ default_environment_guid: 'not-a-guid' }, 'InvalidId', 'default_environment_guid'],
    [{ service_account_name: 'UPPER' }, 'InvalidServiceAccountName', 'service_account_name'],
    [{ access_type: 'everyone' }, 'InvalidRequest', 'access_type'],
    [{ py_version: '3.11.9' }, 'ImmutableField', 'py_version'],
    [{ unknown_field: 1 }, 'InvalidRequest', 'unknown_field'],
    [{ toString: 1 }, 'InvalidRequest', 'toString'],
    [{ constructor: 1 }, 'InvalidRequest', 'constructor'],
  ])('%j is refused with %s on %s', (body, code, field) => {
    const e = error(() => parseContentChanges(body));
    expect(e.code).toBe(code);
    expect(e.field).toBe(field);
  });

  it('a create needs a name', () => {
    expect(error(() => parseContentChanges({ title: 'x' }, { requireName: true })).field).toBe('name');
  });
});

describe('checkSettingsShape', () => {
  it('names every inconsistent pair at once', () => {
    const e = error(() => checkSettingsShape({ ...DEFAULT_SETTINGS, cpu_request: 2, cpu_limit: 1, memory_request: 10, memory_limit: 5, min_processes: 3, max_processes: 1 }));
    expect(e.details?.map((d) => d.field)).toEqual(['cpu_request', 'memory_request', 'min_processes']);
    expect(() => checkSettingsShape({ ...DEFAULT_SETTINGS, cpu_request: 1, cpu_limit: 1, memory_request: 5 })).not.toThrow();
  });
});

describe('app modes and job tags', () => {
  it('knows Connect\'s modes and aliases, and refuses others', () => {
    expect(normaliseAppMode('python-fastapi')).toBe('python-fastapi');
    expect(normaliseAppMode('nodejs-api')).toBe('nodejs');
    expect(normaliseAppMode('python-cobol')).toBeUndefined();
    expect(normaliseAppMode('toString')).toBeUndefined();
  });

  it.each([
    ['build', 'python-fastapi', 'python_restore'],
    ['build', 'shiny', 'packrat_restore'],
    ['run', 'python-fastapi', 'run_fastapi_app'],
    ['run', 'shiny', 'run_app'],
    ['render', 'quarto-static', 'build_site'],
    ['render', 'jupyter-static', 'build_jupyter'],
    ['render', 'rmd-static', 'build_report'],
  ] as const)('%s of %s is %s', (kind, mode, tag) => expect(jobTag(kind, mode)).toBe(tag));
});

describe('bundle member names', () => {
  it.each([
    ['app.py', 'app.py'],
    ['./app.py', 'app.py'],
    ['./src//pkg/./mod.py', 'src/pkg/mod.py'],
  ])('%s -> %s', (raw, name) => expect(normaliseMemberName(raw)).toBe(name));

  it.each(['/etc/passwd', '../x', 'a/../../x', 'a/..', 'C:\\\\x', '\\\\server\\\\x', 'a\0b'])('%s is refused', (raw) => {
    expect(error(() => normaliseMemberName(raw)).code).toBe('InvalidBundle');
  });
});

describe('deploy inputs and environment permissions', () => {
  it('parses the UI\'s deploy input', () => {
    expect(parseDeployInput({ guid: '3F9A6C1E-0B7D-4E52-9A3C-2D1F0E8B7A65', bundle_id: '12' })).toEqual({ guid: '3f9a6c1e-0b7d-4e52-9a3c-2d1f0e8b7a65', bundleId: 12, activate: true });
    expect(parseDeployInput({ guid: '3f9a6c1e-0b7d-4e52-9a3c-2d1f0e8b7a65', bundle_id: null, activate: false }).bundleId).toBeNull();
    expect(error(() => parseDeployInput({ guid: '3f9a6c1e-0b7d-4e52-9a3c-2d1f0e8b7a65', bundle_id: '0' })).field).toBe('bundle_id');
  });

  it('an environment with permissions is usable by the users listed and by admins only', () => {
    const env = (guid: string) => ({ guid }) as Environment;
    const envs = [env('open'), env('closed')];
    const perms = [{ id: '1', guid: 'p', environment_guid: 'closed', user_guid: 'u-pat', group_guid: null }];
    const user = (guid: string, role: 'admin' | 'publisher') => ({ guid, user_role: role }) as never;
    expect(usableEnvironments(envs, perms, user('u-olga', 'publisher')).map((e) => e.guid)).toEqual(['open']);
    expect(usableEnvironments(envs, perms, user('u-pat', 'publisher')).map((e) => e.guid)).toEqual(['open', 'closed']);
    expect(usableEnvironments(envs, perms, user('u-root', 'admin')).map((e) => e.guid)).toEqual(['open', 'closed']);
    expect(usableEnvironments(envs, perms, undefined).map((e) => e.guid)).toEqual(['open']);
  });
});
