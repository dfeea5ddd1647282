/**
 * The content volume in copied (desktop) mode on the real node: bundles reach the claim through
 * the store pod (tar over exec), once per hash; outputs come back, safely; the store pod is made
 * again when it is gone. The namespace enforces Pod Security "restricted".
 */
import { createHash, randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import zlib from 'node:zlib';

import { Header } from 'tar';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { CopiedContentVolume, STORE_POD_NAME } from '../../../main/content/volume-copied';
import { JOB_USER_ID, volumeLayout } from '../../../main/content/volume';
import type { KubeConnection } from '../../../main/kube/config';
import { silentLogger } from '../../../main/log';
import { eventually, kube } from '../../cluster/kube.js';
import { REAL_NODE_NAME, REAL_NODE_TAINT } from '../../cluster/realnode.js';
import { enforceRestricted, figure, imageMeta, realNodeSkip, useContentClaim, useRealNodeNamespace } from './helpers.js';

const skip = realNodeSkip();

function tarGz(members: { path: string; data: Buffer | string }[]): Buffer {
  const blocks: Buffer[] = [];
  for (const m of members) {
    const data = Buffer.from(m.data);
    const h = new Header({ path: m.path, type: 'File', size: data.length, mode: 0o644, mtime: new Date(0), uid: 0, gid: 0, uname: '', gname: '' });
    const block = Buffer.alloc(512);
    h.encode(block, 0);
    blocks.push(block, data, Buffer.alloc((512 - (data.length % 512)) % 512));
  }
  blocks.push(Buffer.alloc(1024));
  return zlib.gzipSync(Buffer.concat(blocks), { level: 1 });
}

export const realNodePlacement = {
  nodeSelector: { 'kubernetes.io/hostname': REAL_NODE_NAME },
  tolerations: [{ key: REAL_NODE_TAINT.key, operator: 'Equal' as const, value: REAL_NODE_TAINT.value, effect: REAL_NODE_TAINT.effect }],
};

describe.skipIf(!!skip)('content volume, copied mode (store pod + tar over exec)', () => {
  const ns = useRealNodeNamespace('rn-copied');
  const claim = useContentClaim(ns);
  let volume: CopiedContentVolume;
  let work: string;
  let archive: string;
  let sha: string;
  let payload: Buffer;

  beforeAll(async () => {
    await enforceRestricted(ns.name);
    const { kc } = kube();
    const conn: KubeConnection = { kc, context: kc.getCurrentContext(), namespace: ns.name, server: kc.getCurrentCluster()!.server };
    volume = new CopiedContentVolume({ connect: () => conn, claimName: claim.name, image: imageMeta('python').ref, placement: realNodePlacement, log: silentLogger });
    work = fs.mkdtempSync(path.join(os.tmpdir(), 'rn-copied-'));
    payload = randomBytes(8 * 1024 * 1024); // incompressible: the bytes really travel
    const buf = tarGz([
      { path: 'manifest.json', data: JSON.stringify({ version: 1, metadata: { appmode: 'static', primary_html: 'index.html' } }) },
      { path: 'index.html', data: '<h1>copied</h1>' },
      { path: 'data/blob.bin', data: payload },
    ]);
    archive = path.join(work, 'bundle.tar.gz');
    fs.writeFileSync(archive, buf);
    sha = createHash('sha256').update(buf).digest('hex');
  });
  afterAll(() => fs.rmSync(work, { recursive: true, force: true }));

  it('copies a bundle onto the claim once: the second ensureBundle is a no-op (both timed)', async () => {
    const lines: string[] = [];
    const t0 = Date.now();
    await volume.ensureBundle(sha, archive, (l) => lines.push(l));
    const first = Date.now() - t0;
    const dir = path.join(claim.hostDir, volumeLayout.bundle(sha));
    expect(fs.readFileSync(path.join(dir, 'index.html'), 'utf8')).toBe('<h1>copied</h1>');
    expect(fs.readFileSync(path.join(dir, 'data/blob.bin')).equals(payload)).toBe(true);
    expect(fs.existsSync(path.join(dir, '.complete'))).toBe(true);
    expect(fs.statSync(dir).uid).toBe(JOB_USER_ID); // written by the store pod, as the job user
    expect(fs.readdirSync(path.join(claim.hostDir, 'bundles', '.incoming'))).toEqual([]); // no temporary left
    expect(lines[0]).toMatch(/^Copying bundle [0-9a-f]{12} \(8(\.\d)? MiB\) to the content volume \(claim offhost-content\) through the store pod offhost-content-store/);
    expect(lines.at(-1)).toMatch(/^Bundle [0-9a-f]{12} copied: 8(\.\d)? MiB in \d+\.\d s\.$/);

    const again: string[] = [];
    const t1 = Date.now();
    await volume.ensureBundle(sha, archive, (l) => again.push(l));
    const second = Date.now() - t1;
    expect(again).toEqual([`Bundle ${sha.slice(0, 12)} is already on the content volume.`]);
    expect(second).toBeLessThan(first);
    figure('copied mode: 8 MiB bundle through the store pod, first ensureBundle (includes making the store pod)', `${first} ms`);
    figure('copied mode: second ensureBundle of the same hash (one exec, no copy)', `${second} ms`);

    // a third time with the pod warm, a new hash: the copy alone
    const other = tarGz([{ path: 'manifest.json', data: '{}' }, { path: 'blob', data: randomBytes(8 * 1024 * 1024) }]);
    const otherFile = path.join(work, 'other.tar.gz');
    fs.writeFileSync(otherFile, other);
    const t2 = Date.now();
    await volume.ensureBundle(createHash('sha256').update(other).digest('hex'), otherFile);
    figure('copied mode: 8 MiB bundle, store pod already running', `${Date.now() - t2} ms (${((8 / (Date.now() - t2)) * 1000).toFixed(1)} MiB/s)`);
  });

  it('a directory without .complete (an interrupted copy, or one the kubelet made for a mount) is replaced by a clean copy', async () => {
    const buf = tarGz([{ path: 'manifest.json', data: '{}' }, { path: 'app.py', data: 'print(1)\n' }]);
    const file = path.join(work, 'partial.tar.gz');
    fs.writeFileSync(file, buf);
    const h = createHash('sha256').update(buf).digest('hex');
    const dir = path.join(claim.hostDir, volumeLayout.bundle(h));
    fs.mkdirSync(dir, { recursive: true });
    fs.writeFileSync(path.join(dir, 'half-written'), 'x');
    fs.chownSync(dir, JOB_USER_ID, JOB_USER_ID);
    fs.chownSync(path.join(dir, 'half-written'), JOB_USER_ID, JOB_USER_ID);
    await volume.ensureBundle(h, file);
    expect(fs.readdirSync(dir).sort()).toEqual(['.complete', 'app.py', 'manifest.json']);
  });

  it('two concurrent ensureBundle calls for one hash copy it once', async () => {
    const buf = tarGz([{ path: 'manifest.json', data: '{}' }, { path: 'x', data: randomBytes(1024 * 1024) }]);
    const file = path.join(work, 'twice.tar.gz');
    fs.writeFileSync(file, buf);
    const h = createHash('sha256').update(buf).digest('hex');
    const a: string[] = [];
    const b: string[] = [];
    await Promise.all([volume.ensureBundle(h, file, (l) => a.push(l)), volume.ensureBundle(h, file, (l) => b.push(l))]);
    expect(a.filter((l) => /copied:/.test(l))).toHaveLength(1);
    expect(b).toEqual([]); // the second caller shared the first one's copy
  });

  it('fetchOutput brings a job output back; a link out of it is not followed or created', async () => {
    // As the launcher does before a render job: the output directory is made for the job user.
    await volume.ensureWritable([volumeLayout.output(41)]);
    const out = path.join(claim.hostDir, volumeLayout.output(41));
    fs.mkdirSync(path.join(out, 'report_files'), { recursive: true });
    fs.writeFileSync(path.join(out, 'report.html'), '<h1>rendered</h1>');
    fs.writeFileSync(path.join(out, 'report_files', 'style.css'), 'h1{}');
    fs.symlinkSync('/etc', path.join(out, 'escape'));
    const dest = path.join(work, 'out-41');
    await volume.fetchOutput(41, dest);
    expect(fs.readFileSync(path.join(dest, 'report.html'), 'utf8')).toBe('<h1>rendered</h1>');
    expect(fs.readFileSync(path.join(dest, 'report_files', 'style.css'), 'utf8')).toBe('h1{}');
    expect(fs.existsSync(path.join(dest, 'escape'))).toBe(false);

    await expect(volume.fetchOutput(42, path.join(work, 'out-42'))).rejects.toThrow(/no output directory jobs\/42\/output on the content volume/);
  });

  it('ensureWritable makes directories the job user owns; paths outside the volume are refused', async () => {
    await volume.ensureWritable([volumeLayout.output(77), volumeLayout.library('5d1e7a3c-0b8f-4c7e-9f6a-1b2c3d4e5f60', 'py-3.11-abc')]);
    const st = fs.statSync(path.join(claim.hostDir, volumeLayout.output(77)));
    expect(st.isDirectory()).toBe(true);
    expect(st.uid).toBe(JOB_USER_ID);
    await expect(volume.ensureWritable(['../etc'])).rejects.toThrow(/not a path inside the content volume/);
    await expect(volume.ensureWritable(['/etc'])).rejects.toThrow(/not a path inside the content volume/);
  });

  it('the store pod is made again when it is gone', async () => {
    const { core } = kube();
    await core.deleteNamespacedPod({ namespace: ns.name, name: STORE_POD_NAME, gracePeriodSeconds: 0 });
    await eventually(async () => core.readNamespacedPod({ namespace: ns.name, name: STORE_POD_NAME }).then(() => false, () => true), { what: 'the store pod gone', timeoutMs: 30_000 });
    const t0 = Date.now();
    const lines: string[] = [];
    await volume.ensureBundle(sha, archive, (l) => lines.push(l));
    expect(lines).toEqual([`Bundle ${sha.slice(0, 12)} is already on the content volume.`]);
    const pod = await core.readNamespacedPod({ namespace: ns.name, name: STORE_POD_NAME });
    expect(pod.spec?.nodeName).toBe(REAL_NODE_NAME);
    expect(pod.spec?.securityContext).toMatchObject({ runAsNonRoot: true, runAsUser: JOB_USER_ID });
    figure('copied mode: store pod made again after deletion, then one exec', `${Date.now() - t0} ms`);
  });
});
