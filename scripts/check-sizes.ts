// Part of `npm run lint` (issue 25): no function in `services/*/src` or `libs/*/src` over 80 lines
// and no production file there over 300 lines, unless it states why. A file states its reason with
// a `// size: <reason>` comment before its first statement; a function with one in the comments
// just above it (above its statement, declaration, property or method). Test files (`*.test.ts`)
// are not checked. Uses the TypeScript parser to find every function, method and arrow function.
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { typeScriptFilesBelow } from './lib/source-files.ts';
import ts from 'typescript';

const MAX_FUNCTION_LINES = 80;
const MAX_FILE_LINES = 300;
const REASON = /^\/\/\s*size:\s*\S/;

const root = fileURLToPath(new URL('..', import.meta.url));

/** Every production .ts file below `dir`, node_modules and tests aside. */
function sources(dir: string): string[] {
  return typeScriptFilesBelow(dir).filter(
    (path) => !path.endsWith('.test.ts') && !path.endsWith('.d.ts'),
  );
}

function sourceRoots(): string[] {
  const roots: string[] = [];
  for (const group of ['services', 'libs']) {
    let names: string[];
    try {
      names = readdirSync(join(root, group));
    } catch {
      continue;
    }
    for (const name of names) roots.push(join(root, group, name, 'src'));
  }
  return roots;
}

/** Whether any `//` comment leading `node` states a size reason. */
function hasReason(text: string, node: ts.Node): boolean {
  const ranges = ts.getLeadingCommentRanges(text, node.getFullStart()) ?? [];
  return ranges.some((range) => REASON.test(text.slice(range.pos, range.end)));
}

/** The nodes whose leading comments may carry a function's reason, nearest first. */
function anchors(fn: ts.Node): ts.Node[] {
  const found: ts.Node[] = [fn];
  let node: ts.Node = fn;
  while (node.parent !== undefined && !ts.isSourceFile(node.parent)) {
    const parent: ts.Node = node.parent;
    if (
      ts.isVariableDeclaration(parent) ||
      ts.isVariableDeclarationList(parent) ||
      ts.isVariableStatement(parent) ||
      ts.isPropertyAssignment(parent) ||
      ts.isPropertyDeclaration(parent) ||
      ts.isExportAssignment(parent) ||
      ts.isParenthesizedExpression(parent) ||
      ts.isAsExpression(parent) ||
      ts.isSatisfiesExpression(parent) ||
      ts.isCallExpression(parent) ||
      ts.isReturnStatement(parent) ||
      ts.isExpressionStatement(parent) ||
      ts.isBinaryExpression(parent)
    ) {
      found.push(parent);
      node = parent;
    } else break;
  }
  return found;
}

function functionName(fn: ts.FunctionLikeDeclaration): string {
  if (fn.name !== undefined) return fn.name.getText();
  const parent = fn.parent;
  if (ts.isVariableDeclaration(parent) || ts.isPropertyAssignment(parent)) {
    return parent.name.getText();
  }
  return '<anonymous>';
}

const violations: string[] = [];

for (const path of sourceRoots().flatMap(sources)) {
  const text = readFileSync(path, 'utf8');
  const file = ts.createSourceFile(path, text, ts.ScriptTarget.Latest, true, ts.ScriptKind.TS);
  const where = relative(root, path);
  const lineOf = (pos: number) => file.getLineAndCharacterOfPosition(pos).line + 1;

  const fileLines = text.split('\n').length - (text.endsWith('\n') ? 1 : 0);
  const fileReason =
    (ts.getLeadingCommentRanges(text, 0) ?? []).some((range) =>
      REASON.test(text.slice(range.pos, range.end)),
    ) ||
    (file.statements[0] !== undefined && hasReason(text, file.statements[0]));
  if (fileLines > MAX_FILE_LINES && !fileReason) {
    violations.push(`${where}: file has ${fileLines} lines (max ${MAX_FILE_LINES})`);
  }

  const visit = (node: ts.Node): void => {
    if (ts.isFunctionLike(node) && 'body' in node && node.body !== undefined) {
      const fn = node;
      const start = lineOf(fn.getStart(file));
      const lines = lineOf(fn.getEnd()) - start + 1;
      if (lines > MAX_FUNCTION_LINES && !anchors(fn).some((anchor) => hasReason(text, anchor))) {
        violations.push(
          `${where}:${start}: function ${functionName(fn)} has ${lines} lines (max ${MAX_FUNCTION_LINES})`,
        );
      }
    }
    ts.forEachChild(node, visit);
  };
  visit(file);
}

if (violations.length > 0) {
  console.error(
    `Size limits (state a reason with a \`// size: <reason>\` comment to exceed them):\n` +
      violations.map((line) => `  ${line}`).join('\n'),
  );
  process.exitCode = 1;
}
