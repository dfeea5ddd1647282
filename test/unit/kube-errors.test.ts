// main/kube/errors.ts: how a failed apiserver call reads in a log line or a message.
import * as k8s from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import { describeError, statusOf } from '../../main/kube/errors';

describe('describeError', () => {
  it("an API call's failure: the status and the apiserver's own words", () => {
    const body = JSON.stringify({ kind: 'Status', message: 'jobs.batch is forbidden: User "system:serviceaccount:o:offhost" cannot create resource "jobs" in API group "batch" in the namespace "o"', code: 403 });
    const e = new k8s.ApiException(403, 'Forbidden', body, {});
    expect(describeError(e)).toBe('HTTP 403: jobs.batch is forbidden: User "system:serviceaccount:o:offhost" cannot create resource "jobs" in API group "batch" in the namespace "o"');
    expect(statusOf(e)).toBe(403);
  });

  it("a watch or log stream refused (client-node gives only the status): the code, and where the missing permission is named", () => {
    const refused = Object.assign(new Error('Forbidden'), { statusCode: 403 });
    expect(describeError(refused)).toBe('HTTP 403 Forbidden: this account may not do it (Settings → Test connection names the missing permission)');
    expect(describeError(Object.assign(new Error('Unauthorized'), { statusCode: 401 }))).toBe('HTTP 401 Unauthorized: the cluster did not accept the credentials');
    expect(describeError(Object.assign(new Error('Gone'), { statusCode: 410 }))).toBe('HTTP 410 Gone');
  });

  it('anything else: its message', () => {
    expect(describeError(new Error('connect ECONNREFUSED 127.0.0.1:6443'))).toBe('connect ECONNREFUSED 127.0.0.1:6443');
    expect(describeError('text')).toBe('text');
  });
});
