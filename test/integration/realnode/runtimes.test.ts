/**
 * Content really runs: environment selection picks the Debian-built images (registered as
 * environments with the versions and paths read from the images), and Jobs in them run on real-0.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

import { describe, expect, it } from 'vitest';

import { parseManifest } from '../../../shared/manifest';
import { selectEnvironment } from '../../../shared/selection';
import { kube } from '../../cluster/kube.js';
import { REAL_NODE_NAME } from '../../cluster/realnode.js';
import { figure, job, jobPod, podLogs, podTimeline, realNodePodSpec, realNodeSkip, runtimeEnvironments, useRealNodeNamespace } from './helpers.js';

const skip = realNodeSkip();

describe.skipIf(!!skip)('runtimes on the real node', () => {
  const ns = useRealNodeNamespace('rn-runtimes');

  it('selects the Python image for a Python bundle, and sys.version in it is the version the environment declares', async () => {
    const envs = runtimeEnvironments();
    const declared = envs.python.python.installations[0]!;
    const sel = selectEnvironment(parseManifest({ version: 1, python: { version: declared.version } }), [envs.r, envs.python]);
    if (!sel.ok) throw new Error(sel.message);
    expect(sel.environment.guid).toBe(envs.python.guid);
    const installation = sel.matches[0]!.installation;

    const { batch } = kube();
    const t0 = Date.now();
    await batch.createNamespacedJob({
      namespace: ns.name,
      body: job(
        'py-version',
        realNodePodSpec([
          {
            name: 'main',
            image: sel.environment.name,
            // The web frameworks the image carries for content import too; only sys.version is printed.
            command: [installation.path, '-c', 'import sys, fastapi, flask, uvicorn; print(sys.version)'],
          },
        ]),
      ),
    });
    const pod = await jobPod(ns.name, 'py-version');
    const t = await podTimeline(ns.name, pod.metadata!.name!, t0);
    expect(t.pod.spec?.nodeName).toBe(REAL_NODE_NAME);
    expect(t.pod.status?.phase, JSON.stringify(t.pod.status?.containerStatuses)).toBe('Succeeded');
    const printed = (await podLogs(ns.name, pod.metadata!.name!)).trim();
    // "3.11.2 (main, …) [GCC 12.2.0]": the release before the first space is what the environment declares.
    expect(printed.split(' ')[0]).toBe(declared.version);
    figure('Python Job create → Running / Succeeded', `${t.running?.toFixed(1) ?? '?'}s / ${t.finished?.toFixed(1)}s`);
  });

  it('selects the R image for an R Markdown bundle and renders the .Rmd to HTML in it', { timeout: 240_000 }, async () => {
    const envs = runtimeEnvironments();
    const declared = envs.r.r.installations[0]!;
    const sel = selectEnvironment(
      parseManifest({ version: 1, platform: declared.version, metadata: { appmode: 'rmd-static' } }),
      [envs.python, envs.r],
    );
    if (!sel.ok) throw new Error(sel.message);
    expect(sel.environment.guid).toBe(envs.r.guid);
    const R = sel.matches[0]!.installation.path;

    // The report lands in a host directory mounted into the pod (the node is this machine).
    const out = fs.mkdtempSync(path.join(os.tmpdir(), 'offhost-rmd-'));
    fs.chmodSync(out, 0o777);
    try {
      const rmd = [
        '---',
        'title: "Offhost real node"',
        'output: html_document',
        '---',
        '',
        '```{r}',
        'cat("the sum is", sum(1:10), "\\n")',
        'cat("running", as.character(getRversion()), "\\n")',
        // The app frameworks the image is meant to carry load too.
        'for (p in c("shiny", "plumber", "knitr")) cat(p, as.character(packageVersion(p)), "\\n")',
        '```',
        '',
      ].join('\n');
      const script = `cat > /work/report.Rmd <<'EOF'\n${rmd}EOF\n${R} --vanilla --quiet -e 'rmarkdown::render("/work/report.Rmd", output_file = "report.html", quiet = TRUE)'`;
      const { batch } = kube();
      const t0 = Date.now();
      await batch.createNamespacedJob({
        namespace: ns.name,
        body: job(
          'rmd-render',
          realNodePodSpec([{ name: 'main', image: sel.environment.name, command: ['sh', '-c', script], volumeMounts: [{ name: 'work', mountPath: '/work' }] }], {
            volumes: [{ name: 'work', hostPath: { path: out, type: 'Directory' } }],
          }),
        ),
      });
      const pod = await jobPod(ns.name, 'rmd-render');
      const t = await podTimeline(ns.name, pod.metadata!.name!, t0, 200_000);
      const logs = await podLogs(ns.name, pod.metadata!.name!);
      expect(t.pod.status?.phase, logs).toBe('Succeeded');
      const html = fs.readFileSync(path.join(out, 'report.html'), 'utf8');
      expect(html).toMatch(/<html/i);
      expect(html).toContain('Offhost real node');
      expect(html).toContain('the sum is 55');
      expect(html).toContain(`running ${declared.version}`);
      for (const pkg of ['shiny', 'plumber', 'knitr']) expect(html).toMatch(new RegExp(`${pkg} \\d+\\.\\d+`));
      figure('R Markdown Job create → Running / Succeeded', `${t.running?.toFixed(1) ?? '?'}s / ${t.finished?.toFixed(1)}s`);
    } finally {
      fs.rmSync(out, { recursive: true, force: true });
    }
  });
});

// Not root here: one visible line in the report says why and how to run these.
if (skip) {
  describe('runtimes on the real node', () => {
    it.skip(`skipped: ${skip}`, () => {});
  });
}
