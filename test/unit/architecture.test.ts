// The one-way layering of DESIGN.md §2, checked on every import in the tree:
// shared/ is pure; renderer/ and main/ never import each other; preload/ only bridges.
import fs from 'node:fs';
import path from 'node:path';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';

const root = path.resolve(__dirname, '../..');
const LAYERS = ['shared', 'main', 'renderer', 'preload'] as const;
type Layer = (typeof LAYERS)[number];

function sourceFiles(dir: string): string[] {
  return fs.readdirSync(path.join(root, dir), { withFileTypes: true, recursive: true }).flatMap((d) =>
    d.isFile() && /\.(ts|tsx)$/.test(d.name) ? [path.join(d.parentPath, d.name)] : [],
  );
}

function importsOf(file: string): string[] {
  return ts.preProcessFile(fs.readFileSync(file, 'utf8'), true, true).importedFiles.map((f) => f.fileName);
}

function layerOf(file: string): Layer | undefined {
  const top = path.relative(root, file).split(path.sep)[0];
  return LAYERS.find((l) => l === top);
}

/** For each layer: which other layers it may import, and which bare modules it must not. */
const RULES: Record<Layer, { layers: Layer[]; forbidden: RegExp }> = {
  shared: { layers: ['shared'], forbidden: /^(node:|electron$|react|fs$|path$|os$|crypto$|child_process$|better-sqlite3|pg$|kysely|fastify|@kubernetes)/ },
  renderer: { layers: ['renderer', 'shared'], forbidden: /^(node:|electron$|fs$|path$|os$|child_process$|better-sqlite3|pg$|kysely|fastify|@kubernetes)/ },
  preload: { layers: ['preload', 'shared'], forbidden: /^(node:|fs$|path$|child_process$|better-sqlite3|pg$|kysely|fastify|@kubernetes)/ },
  main: { layers: ['main', 'shared'], forbidden: /^(react|react-dom|recharts)/ },
};

describe('layering (DESIGN.md §2)', () => {
  const files = LAYERS.flatMap((l) => sourceFiles(l));

  it('finds the source tree', () => {
    expect(files.length).toBeGreaterThan(20);
    for (const l of LAYERS) expect(files.some((f) => layerOf(f) === l)).toBe(true);
  });

  it('every import stays within the layers it may use', () => {
    const violations: string[] = [];
    for (const file of files) {
      const from = layerOf(file)!;
      for (const spec of importsOf(file)) {
        const rel = path.relative(root, file);
        if (spec.startsWith('.')) {
          const to = layerOf(path.resolve(path.dirname(file), spec));
          if (!to || !RULES[from].layers.includes(to)) violations.push(`${rel} imports ${spec} (${from} -> ${to ?? 'outside the layers'})`);
        } else if (RULES[from].forbidden.test(spec)) {
          violations.push(`${rel} imports ${spec}, which ${from}/ must not use`);
        }
      }
    }
    expect(violations).toEqual([]);
  });

  it('shared/ touches no browser or Node globals', () => {
    const code = (f: string) => fs.readFileSync(f, 'utf8').replace(/\/\*[\s\S]*?\*\//g, '').replace(/\/\/.*$/gm, '');
    const offenders = sourceFiles('shared').filter((f) => /\b(window|document|localStorage|process|require|Buffer|__dirname)\b[.(]/.test(code(f)));
    expect(offenders.map((f) => path.relative(root, f))).toEqual([]);
  });

  it('the check itself catches a violation', () => {
    const probe = path.join(root, 'renderer', '__probe__.ts');
    const spec = '../main/core';
    expect(RULES.renderer.layers.includes(layerOf(path.resolve(path.dirname(probe), spec))!)).toBe(false);
    expect(RULES.shared.forbidden.test('node:fs')).toBe(true);
  });
});
