/**
 * The helm that `npm run cluster:build` compiles (test/cluster/versions.env HELM_VERSION), and the
 * chart in build/helm/offhost rendered with it: `helm lint`, `helm template`, the objects parsed.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { parseAllDocuments } from 'yaml';
import { binDir } from './config.js';

export const CHART_DIR = path.resolve(__dirname, '../../build/helm/offhost');

export function helmBinary(): string {
  const helm = path.join(binDir(), 'helm');
  if (!fs.existsSync(helm)) throw new Error(`${helm} is missing: run "npm run cluster:build" (it compiles helm with the control plane)`);
  return helm;
}

/** Runs helm with a private home (no repositories, no cache from the machine). */
export function helm(args: string[], o: { allowFail?: boolean } = {}): { code: number; stdout: string; stderr: string } {
  const home = path.join(path.dirname(binDir()), 'helm-home');
  fs.mkdirSync(home, { recursive: true });
  const r = spawnSync(helmBinary(), args, {
    encoding: 'utf8',
    env: { PATH: process.env.PATH, HOME: home, HELM_CACHE_HOME: path.join(home, 'cache'), HELM_CONFIG_HOME: path.join(home, 'config'), HELM_DATA_HOME: path.join(home, 'data') },
    timeout: 60_000,
  });
  const out = { code: r.status ?? -1, stdout: r.stdout ?? '', stderr: r.stderr ?? String(r.error ?? '') };
  if (out.code !== 0 && !o.allowFail) throw new Error(`helm ${args.join(' ')} exited ${out.code}:\n${out.stderr}`);
  return out;
}

export interface K8sObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string>; annotations?: Record<string, string> };
  [k: string]: unknown;
}

/** `helm template` of the chart with --set values; the objects it renders. */
export function renderChart(o: { release?: string; namespace: string; set?: Record<string, string | number | boolean> }): K8sObject[] {
  const args = ['template', o.release ?? 'offhost', CHART_DIR, '--namespace', o.namespace];
  for (const [k, v] of Object.entries(o.set ?? {})) args.push('--set', `${k}=${v}`);
  const { stdout } = helm(args);
  return parseAllDocuments(stdout)
    .map((d) => d.toJS() as K8sObject | null)
    .filter((d): d is K8sObject => d !== null);
}

/** The failure message of a render that must fail. */
export function renderError(o: { namespace: string; set?: Record<string, string | number | boolean> }): string {
  const args = ['template', 'offhost', CHART_DIR, '--namespace', o.namespace];
  for (const [k, v] of Object.entries(o.set ?? {})) args.push('--set', `${k}=${v}`);
  const r = helm(args, { allowFail: true });
  if (r.code === 0) throw new Error('helm template succeeded, expected a failure');
  return r.stderr;
}

export function helmVersion(): string {
  return execFileSync(helmBinary(), ['version', '--short'], { encoding: 'utf8' }).trim();
}
