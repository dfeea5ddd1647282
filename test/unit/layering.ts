// The checker behind architecture.test.ts: the one-way layering of DESIGN.md §2.
// shared/ is pure; renderer/ and main/ never import each other; preload/ only bridges.
// It takes a root directory, so the test can run it on the real tree and on planted violations.
import fs from 'node:fs';
import path from 'node:path';
import ts from 'typescript';

export const LAYERS = ['shared', 'main', 'renderer', 'preload'] as const;
export type Layer = (typeof LAYERS)[number];

/** For each layer: which other layers it may import, and which bare modules it must not. */
export const RULES: Record<Layer, { layers: Layer[]; forbidden: RegExp }> = {
  shared: { layers: ['shared'], forbidden: /^(node:|electron$|react|fs$|path$|os$|crypto$|child_process$|better-sqlite3|pg$|kysely|fastify|@kubernetes)/ },
  renderer: { layers: ['renderer', 'shared'], forbidden: /^(node:|electron$|fs$|path$|os$|child_process$|better-sqlite3|pg$|kysely|fastify|@kubernetes)/ },
  preload: { layers: ['preload', 'shared'], forbidden: /^(node:|fs$|path$|child_process$|better-sqlite3|pg$|kysely|fastify|@kubernetes)/ },
  main: { layers: ['main', 'shared'], forbidden: /^(react|react-dom|recharts)/ },
};

/** Host globals shared/ must not touch: it runs unchanged in the renderer, main and the server. */
export const HOST_GLOBALS = [
  'window', 'document', 'navigator', 'localStorage', 'sessionStorage',
  'process', 'require', 'module', 'Buffer', 'global', '__dirname', '__filename', 'setImmediate',
] as const;

export type Violation =
  | { kind: 'import'; file: string; line: number; import: string; message: string }
  | { kind: 'global'; file: string; line: number; global: string; message: string };

/** Every .ts/.tsx file under root/<layer>, as absolute paths. */
export function sourceFiles(root: string, layer: Layer): string[] {
  const dir = path.join(root, layer);
  if (!fs.existsSync(dir)) return [];
  return fs.readdirSync(dir, { withFileTypes: true, recursive: true }).flatMap((d) =>
    d.isFile() && /\.(ts|tsx)$/.test(d.name) ? [path.join(d.parentPath, d.name)] : [],
  );
}

export function layerOf(root: string, file: string): Layer | undefined {
  const rel = path.relative(root, file);
  if (rel.startsWith('..') || path.isAbsolute(rel)) return undefined;
  return LAYERS.find((l) => l === rel.split(path.sep)[0]);
}

function parse(file: string, text: string): ts.SourceFile {
  return ts.createSourceFile(file, text, ts.ScriptTarget.Latest, true, file.endsWith('.tsx') ? ts.ScriptKind.TSX : ts.ScriptKind.TS);
}

function lineOf(sf: ts.SourceFile, pos: number): number {
  return sf.getLineAndCharacterOfPosition(pos).line + 1;
}

/** Imports, re-exports, require() and import() of a file, with their lines. */
function importsOf(text: string): { spec: string; pos: number }[] {
  return ts.preProcessFile(text, true, true).importedFiles.map((f) => ({ spec: f.fileName, pos: f.pos }));
}

/**
 * References to host globals: identifiers in value or type position. Property names (`a.process`,
 * `{ window: 1 }`) are not references; nor is a name the file declares itself (a parameter called
 * `document` shadows the global, so the file is not using it).
 */
function globalsUsed(sf: ts.SourceFile): { name: string; pos: number }[] {
  const wanted = new Set<string>(HOST_GLOBALS);
  const declared = new Set<string>();
  const refs: ts.Identifier[] = [];
  const visit = (node: ts.Node): void => {
    if (ts.isIdentifier(node) && wanted.has(node.text)) {
      const p = node.parent;
      const isName = (p as { name?: ts.Node }).name === node;
      if (isName && (ts.isVariableDeclaration(p) || ts.isParameter(p) || ts.isFunctionDeclaration(p) || ts.isClassDeclaration(p) || ts.isBindingElement(p) || ts.isImportSpecifier(p) || ts.isImportClause(p) || ts.isNamespaceImport(p))) {
        declared.add(node.text);
      } else if (
        !(ts.isPropertyAccessExpression(p) && p.name === node) &&
        !(ts.isQualifiedName(p) && p.right === node) &&
        !(isName && (ts.isPropertyAssignment(p) || ts.isPropertySignature(p) || ts.isPropertyDeclaration(p) || ts.isMethodDeclaration(p) || ts.isMethodSignature(p) || ts.isEnumMember(p) || ts.isExportSpecifier(p) || ts.isJsxAttribute(p)))
      ) {
        refs.push(node);
      }
    }
    ts.forEachChild(node, visit);
  };
  visit(sf);
  return refs.filter((r) => !declared.has(r.text)).map((r) => ({ name: r.text, pos: r.getStart(sf) }));
}

/** Checks one file's text as if it lived at `file` under `root`. */
export function checkFile(root: string, file: string, text: string): Violation[] {
  const from = layerOf(root, file);
  if (!from) return [];
  const rel = path.relative(root, file).split(path.sep).join('/');
  const sf = parse(file, text);
  const out: Violation[] = [];
  for (const { spec, pos } of importsOf(text)) {
    const line = lineOf(sf, pos);
    if (spec.startsWith('.')) {
      const to = layerOf(root, path.resolve(path.dirname(file), spec));
      if (!to || !RULES[from].layers.includes(to)) {
        out.push({ kind: 'import', file: rel, line, import: spec, message: `${rel}:${line} imports ${spec} (${from} -> ${to ?? 'outside the layers'})` });
      }
    } else if (RULES[from].forbidden.test(spec)) {
      out.push({ kind: 'import', file: rel, line, import: spec, message: `${rel}:${line} imports ${spec}, which ${from}/ must not use` });
    }
  }
  if (from === 'shared') {
    for (const { name, pos } of globalsUsed(sf)) {
      const line = lineOf(sf, pos);
      out.push({ kind: 'global', file: rel, line, global: name, message: `${rel}:${line} uses the host global ${name}, which shared/ must not touch` });
    }
  }
  return out;
}

/** Every violation in the tree under root. */
export function checkLayering(root: string): { files: string[]; violations: Violation[] } {
  const files = LAYERS.flatMap((l) => sourceFiles(root, l));
  const violations = files.flatMap((f) => checkFile(root, f, fs.readFileSync(f, 'utf8')));
  return { files, violations };
}
