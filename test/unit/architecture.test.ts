// The one-way layering of DESIGN.md §2 (checker in ./layering.ts), on the real tree and on
// planted violations, so a checker that reports nothing cannot pass.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

import { checkLayering, LAYERS, layerOf, type Violation } from './layering';

const root = path.resolve(__dirname, '../..');

describe('layering (DESIGN.md §2)', () => {
  const { files, violations } = checkLayering(root);

  it('finds the source tree', () => {
    expect(files.length).toBeGreaterThan(20);
    for (const l of LAYERS) expect(files.some((f) => layerOf(root, f) === l)).toBe(true);
  });

  it('every import stays within the layers it may use', () => {
    expect(violations.filter((v) => v.kind === 'import').map((v) => v.message)).toEqual([]);
  });

  it('shared/ touches no browser or Node globals', () => {
    expect(violations.filter((v) => v.kind === 'global').map((v) => v.message)).toEqual([]);
  });
});

describe('the layering checker', () => {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'offhost-layering-'));
  afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

  /** Writes a tree of files under a fresh directory and runs the checker on it. */
  function check(tree: Record<string, string>): Violation[] {
    const dir = fs.mkdtempSync(path.join(tmp, 'tree-'));
    for (const [rel, text] of Object.entries(tree)) {
      fs.mkdirSync(path.dirname(path.join(dir, rel)), { recursive: true });
      fs.writeFileSync(path.join(dir, rel), text);
    }
    return checkLayering(dir).violations;
  }

  // Allowed everywhere it appears; the planted files below add one violation each to it.
  const clean: Record<string, string> = {
    'shared/util.ts': [
      "import type { Thing } from './types';",
      'export const twice = (t: Thing) => t.n * 2;',
      '// process.env and window.location in a comment are not uses',
      "export const label = 'process window document Buffer require';",
      'export function parse(document: string) { return document.length; }', // a parameter, not the DOM global
      'export const shape = { process: 1, window: 2 };',
      'export interface Job { process: string; module(): void }',
      'export const read = (o: { process: number }) => o.process;',
    ].join('\n'),
    'shared/types.ts': 'export interface Thing { n: number }',
    'main/core.ts': "import fs from 'node:fs';\nimport { twice } from '../shared/util';\nexport const x = [fs, twice, process.env.HOME, Buffer.from('a')];",
    'renderer/src/app.tsx': "import { useState } from 'react';\nimport { twice } from '../../shared/util';\nexport const App = () => <div>{String(useState(twice({ n: 1 })))}</div>;",
    'preload/index.ts': "import { contextBridge } from 'electron';\nimport type { Thing } from '../shared/types';\nexport type T = Thing;\ncontextBridge.exposeInMainWorld('x', {});",
  };

  it('passes a clean tree', () => {
    expect(check(clean)).toEqual([]);
  });

  it.each([
    ['shared importing node:fs', 'shared/a.ts', "import fs from 'node:fs';\nexport const f = fs;", 'node:fs'],
    ['shared importing a bare Node module', 'shared/a.ts', "\nimport path from 'path';\nexport const p = path;", 'path'],
    ['shared importing main/', 'shared/sub/a.ts', "import { x } from '../../main/core';\nexport const y = x;", '../../main/core'],
    ['shared re-exporting main/', 'shared/a.ts', "export { x } from '../main/core';", '../main/core'],
    ['shared loading a module with import()', 'shared/a.ts', "export const m = () => import('node:os');", 'node:os'],
    ['renderer importing main/', 'renderer/src/page.tsx', "import { x } from '../../main/core';\nexport const P = () => <p>{String(x)}</p>;", '../../main/core'],
    ['renderer importing electron', 'renderer/src/page.ts', "import { ipcRenderer } from 'electron';\nexport const r = ipcRenderer;", 'electron'],
    ['main importing renderer/', 'main/ui.ts', "import { App } from '../renderer/src/app';\nexport const a = App;", '../renderer/src/app'],
    ['main importing react', 'main/ui.ts', "import React from 'react';\nexport const r = React;", 'react'],
    ['preload importing main/', 'preload/extra.ts', "import { x } from '../main/core';\nexport const y = x;", '../main/core'],
    ['a layer importing outside the layers', 'main/t.ts', "import { y } from '../test/helpers';\nexport const z = y;", '../test/helpers'],
    ['shared calling require()', 'shared/a.ts', "export const fs = require('fs');", 'fs'],
  ])('reports %s, with file and import', (_what, file, text, spec) => {
    const found = check({ ...clean, [file]: text });
    const line = text.split('\n').findIndex((l) => l.includes(`'${spec}'`)) + 1;
    expect(found).toContainEqual(expect.objectContaining({ kind: 'import', file, import: spec, line }));
    expect(found.every((v) => v.file === file)).toBe(true);
    expect(found.find((v) => v.kind === 'import')!.message).toContain(`${file}:${line} imports ${spec}`);
  });

  it.each([
    ['process', 'export const home = process.env.HOME;'],
    ['window', 'export const w = () => window.location.href;'],
    ['document', "export const t = () => document.title;"],
    ['Buffer', "export const b = Buffer.from('x').length;"],
    ['Buffer', 'export type Bytes = Buffer;'],
    ['require', "export const r = typeof require === 'function';"],
    ['localStorage', "export const s = () => localStorage.getItem('k');"],
    ['__dirname', 'export const d = __dirname;'],
    ['process', 'export const o = { process };'],
  ])('reports shared/ using the host global %s (%s)', (name, text) => {
    const found = check({ ...clean, 'shared/host.ts': `// planted\n${text}` });
    expect(found).toContainEqual(expect.objectContaining({ kind: 'global', file: 'shared/host.ts', global: name, line: 2 }));
    expect(found.every((v) => v.file === 'shared/host.ts')).toBe(true);
  });

  it('allows main/ and preload/ to use Node globals', () => {
    expect(check({ ...clean, 'main/env.ts': 'export const h = process.env.HOME;', 'preload/env.ts': 'export const p = process.platform;' })).toEqual([]);
  });
});
