#!/usr/bin/env node
/**
 * Builds dist/ with `nest build` (the npm scripts `prepare` and `precli` run this).
 *
 *   node scripts/build.js             build (incremental: unchanged files are not rewritten)
 *   node scripts/build.js --if-stale  build only when dist/cli.js is missing or a source file
 *                                     changed since the last build, so `npm run cli` starts at once
 *
 * `prepare` runs on `npm ci` / `npm install` in this repository, on `npm pack` / `npm publish`,
 * and when a project installs AuthSwitch from its git repository (npm installs the dev
 * dependencies first). An install without dev dependencies (`--omit=dev`) has no compiler: then
 * this says so and leaves dist/ as it is, rather than failing the install.
 *
 * The build's own output goes to standard error, so that `npm run --silent cli -- ... | ...`
 * passes on only what the CLI prints.
 */
'use strict';
const { spawnSync } = require('node:child_process');
const { existsSync, readdirSync, statSync, utimesSync } = require('node:fs');
const { join } = require('node:path');

const ROOT = join(__dirname, '..');
// Named in tsconfig.build.json; `nest build` rewrites it whenever it emits anything.
const BUILD_INFO = join(ROOT, 'dist', '.nest-build.tsbuildinfo');
const CONFIG_FILES = ['tsconfig.json', 'tsconfig.build.json', 'nest-cli.json'];

/** The newest modification time of the build's inputs (the sources and the build settings). */
function newestInput() {
  let newest = 0;
  const visit = (dir) => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) visit(path);
      else if (entry.name.endsWith('.ts') && !entry.name.endsWith('.spec.ts')) newest = Math.max(newest, statSync(path).mtimeMs);
    }
  };
  visit(join(ROOT, 'src'));
  for (const file of CONFIG_FILES) newest = Math.max(newest, statSync(join(ROOT, file)).mtimeMs);
  return newest;
}

function isStale() {
  if (!existsSync(join(ROOT, 'dist', 'cli.js')) || !existsSync(BUILD_INFO)) return true;
  return newestInput() > statSync(BUILD_INFO).mtimeMs;
}

function nestCli() {
  try {
    return require.resolve('@nestjs/cli/bin/nest.js', { paths: [ROOT] });
  } catch {
    return null;
  }
}

function main() {
  const ifStale = process.argv.includes('--if-stale');
  if (ifStale && !isStale()) return 0;
  const nest = nestCli();
  if (!nest) {
    console.error('scripts/build.js: @nestjs/cli is not installed (dev dependencies omitted?); dist/ was not built.');
    return ifStale ? 1 : 0;
  }
  const result = spawnSync(process.execPath, [nest, 'build'], { cwd: ROOT, stdio: ['ignore', 2, 2] });
  if (result.status !== 0) return result.status ?? 1;
  // An incremental build that found nothing to emit leaves the build info as it was: mark the
  // inputs as built, so that the next `npm run cli` does not build again.
  if (existsSync(BUILD_INFO)) {
    const now = new Date();
    utimesSync(BUILD_INFO, now, now);
  }
  return 0;
}

process.exitCode = main();
