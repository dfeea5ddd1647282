/**
 * The real node's cache keys (build.sh --print-bin-dir / --print-node-json, no build): changing a
 * node piece never changes the control plane's key, and each image's tag follows its package list.
 * Runs without root, on a copy of test/cluster.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

import { afterEach, describe, expect, it } from 'vitest';

import { CLUSTER_DIR } from '../../cluster/config.js';

interface NodeJson {
  binDir: string;
  images: Record<'pause' | 'python' | 'r', { ref: string; tar: string }>;
}

let copy = '';
afterEach(() => fs.rmSync(copy, { recursive: true, force: true }));

function keys(dir: string): { bin: string; node: NodeJson } {
  const env = { ...process.env, OFFHOST_CLUSTER_CACHE: '/nonexistent/cache' };
  const run = (arg: string) => execFileSync('bash', [path.join(dir, 'build.sh'), arg], { encoding: 'utf8', env }).trim();
  return { bin: run('--print-bin-dir'), node: JSON.parse(run('--print-node-json')) as NodeJson };
}

function edit(file: string, from: string | RegExp, to: string): void {
  const text = fs.readFileSync(file, 'utf8');
  const next = text.replace(from, to);
  expect(next, `${file} should contain ${from}`).not.toBe(text);
  fs.writeFileSync(file, next);
}

describe('real node build keys', () => {
  it('bumping containerd or the kubelet wrapper changes only the node key, never the control plane key', () => {
    copy = fs.mkdtempSync(path.join(os.tmpdir(), 'offhost-keys-'));
    fs.cpSync(CLUSTER_DIR, copy, { recursive: true });
    const before = keys(copy);
    expect(before.bin).toMatch(/^\/nonexistent\/cache\/k8s-v1\.36\.3-[0-9a-f]{12}\/bin$/);
    expect(before.node.binDir).toMatch(/^\/nonexistent\/cache\/node-v1\.36\.3-[0-9a-f]{12}\/bin$/);

    edit(path.join(copy, 'versions.env'), /^CONTAINERD_VERSION=.*$/m, 'CONTAINERD_VERSION=v2.4.3');
    const afterContainerd = keys(copy);
    expect(afterContainerd.bin).toBe(before.bin);
    expect(afterContainerd.node.binDir).not.toBe(before.node.binDir);

    edit(path.join(copy, 'go', 'kubelet', 'go.sum'), /$/, '\nexample.com/x v1.0.0 h1:AAAA=\n');
    expect(keys(copy).bin).toBe(before.bin);
    expect(keys(copy).node.binDir).not.toBe(afterContainerd.node.binDir);
    // Images do not depend on the binaries.
    expect(keys(copy).node.images).toEqual(before.node.images);
  });

  it("an image's tag follows its package list and nothing else", () => {
    copy = fs.mkdtempSync(path.join(os.tmpdir(), 'offhost-keys-'));
    fs.cpSync(CLUSTER_DIR, copy, { recursive: true });
    const before = keys(copy).node.images;
    expect(before.python.ref).toMatch(/^offhost\.local\/python:[0-9a-f]{16}$/);
    expect(before.python.tar).toBe(`/nonexistent/cache/images/python-${before.python.ref.split(':')[1]}.oci.tar`);

    fs.appendFileSync(path.join(copy, 'images', 'python.packages'), 'python3-numpy\n');
    const after = keys(copy).node.images;
    expect(after.python.ref).not.toBe(before.python.ref);
    expect(after.r).toEqual(before.r);
    expect(after.pause).toEqual(before.pause);
    expect(keys(copy).bin).toBe(keys(CLUSTER_DIR).bin);
  });
});
