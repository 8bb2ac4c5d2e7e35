// Fails when folders of src/ import each other (directly or around a loop): each folder must
// stand only on folders that do not stand on it, so that a feature can be read, tested and
// replaced with what is below it. Type-only imports count too. Usage: node scripts/check-folder-deps.mjs [src]
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';

const root = resolve(process.argv[2] ?? 'src');
const sources = [];
(function walk(dir) {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) walk(path);
    else if (entry.name.endsWith('.ts') && !entry.name.endsWith('.d.ts') && !/\.spec\.ts$/.test(entry.name)) sources.push(path);
  }
})(root);

const isFile = (path) => {
  try {
    return statSync(path).isFile();
  } catch {
    return false;
  }
};
const target = (from, specifier) => {
  if (!specifier.startsWith('.')) return null;
  const base = resolve(dirname(from), specifier);
  return [`${base}.ts`, join(base, 'index.ts'), base].find(isFile) ?? null;
};
const folderOf = (file) => relative(root, dirname(file)) || '.';

/** folder -> (folder it imports -> one file-level example) */
const imports = new Map();
const specifiers = /(?:import|export)\s+(?:type\s+)?(?:[^'";]*?\sfrom\s+)?['"]([^'"]+)['"]|import\(\s*['"]([^'"]+)['"]\s*\)|require\(\s*['"]([^'"]+)['"]\s*\)/g;
for (const file of sources) {
  for (const match of readFileSync(file, 'utf8').matchAll(specifiers)) {
    const to = target(file, match[1] ?? match[2] ?? match[3]);
    if (!to) continue;
    const [a, b] = [folderOf(file), folderOf(to)];
    if (a === b) continue;
    if (!imports.has(a)) imports.set(a, new Map());
    if (!imports.get(a).has(b)) imports.get(a).set(b, `${relative(root, file)} → ${relative(root, to)}`);
  }
}

// Strongly connected components (Tarjan): a component of more than one folder is a loop.
let counter = 0;
const order = new Map();
const low = new Map();
const stack = [];
const onStack = new Set();
const loops = [];
const visit = (folder) => {
  order.set(folder, counter);
  low.set(folder, counter++);
  stack.push(folder);
  onStack.add(folder);
  for (const next of imports.get(folder)?.keys() ?? []) {
    if (!order.has(next)) {
      visit(next);
      low.set(folder, Math.min(low.get(folder), low.get(next)));
    } else if (onStack.has(next)) low.set(folder, Math.min(low.get(folder), order.get(next)));
  }
  if (low.get(folder) !== order.get(folder)) return;
  const component = [];
  let member;
  do {
    member = stack.pop();
    onStack.delete(member);
    component.push(member);
  } while (member !== folder);
  if (component.length > 1) loops.push(component.sort());
};
for (const folder of imports.keys()) if (!order.has(folder)) visit(folder);

for (const loop of loops) {
  console.error(`folders importing each other: ${loop.join(', ')}`);
  for (const a of loop) for (const [b, example] of imports.get(a) ?? []) if (loop.includes(b)) console.error(`  ${a} → ${b}: ${example}`);
}
console.log(
  `${loops.length === 0 ? 'ok' : 'FAILED'}: ${loops.length} folder loops among ${new Set([...imports.keys(), ...[...imports.values()].flatMap((m) => [...m.keys()])]).size} folders of ${relative(process.cwd(), root) || '.'}`,
);
process.exit(loops.length === 0 ? 0 : 1);
