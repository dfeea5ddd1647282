// globalSetup of the e2e project: build dist/ once (the harness runs `node dist/main/server.js`, and
// nothing rebuilds it under running tests), and pick the Chromium every test file drives.
import path from 'node:path';
import type { TestProject } from 'vitest/node';
import { ensureBuilt } from '../setup/build';
import { chooseChromium, isExecutableFile, npmChromium } from '../setup/chromium';

export interface ChosenChromium {
  path: string;
  /** Extra environment for the browser process. */
  env: Record<string, string>;
  /** For the log: where it came from. */
  description: string;
}

declare module 'vitest' {
  export interface ProvidedContext {
    chromium: ChosenChromium;
  }
}

const root = path.resolve(__dirname, '../..');

export default async function setup(project: TestProject): Promise<void> {
  const log = (line: string) => process.stderr.write(`[e2e] ${line}\n`);
  log(ensureBuilt(root));
  const choice = chooseChromium(process.env, process.platform, process.arch, isExecutableFile);
  let chosen: ChosenChromium;
  if (choice.source === 'npm') {
    const npm = await npmChromium(root);
    const how = npm.unpackMs ? `unpacked in ${(npm.unpackMs / 1000).toFixed(1)} s` : 'cached';
    chosen = { path: npm.path, env: npm.env, description: `the npm-shipped Chromium (@sparticuz/chromium ${npm.version}, ${how}) at ${npm.path}; no OFFHOST_CHROMIUM, no system Chromium` };
  } else {
    chosen = { path: choice.path, env: {}, description: choice.source === 'system' ? `the system Chromium at ${choice.path}` : `OFFHOST_CHROMIUM=${choice.path}` };
  }
  log(`browser: ${chosen.description}`);
  project.provide('chromium', chosen);
}
