// The app command of cdk8s.yaml. Loading TypeScript through a transpiling loader on every synth
// costs more than the cdk8s CLI itself; instead main.ts is bundled once with esbuild into
// node_modules/.cache and rebuilt only when a source file is newer than the bundle.
'use strict';
const fs = require('node:fs');
const path = require('node:path');

const root = path.resolve(__dirname, '..', '..');
const bundle = path.join(root, 'node_modules', '.cache', 'letta-k8s', 'main.js');
const sourceDirs = ['lib', 'charts', 'imports'];

function newestSource() {
  let newest = Math.max(fs.statSync(path.join(root, 'main.ts')).mtimeMs, fs.statSync(path.join(root, 'package-lock.json')).mtimeMs);
  const visit = (dir) => {
    for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
      const file = path.join(dir, entry.name);
      if (entry.isDirectory()) visit(file);
      else if (/\.(ts|js)$/.test(entry.name)) newest = Math.max(newest, fs.statSync(file).mtimeMs);
    }
  };
  for (const dir of sourceDirs) if (fs.existsSync(path.join(root, dir))) visit(path.join(root, dir));
  return newest;
}

function bundleIsFresh() {
  try {
    return fs.statSync(bundle).mtimeMs >= newestSource();
  } catch {
    return false;
  }
}

if (!bundleIsFresh()) {
  // Built beside the bundle and renamed over it: a synth started at the same time loads either
  // the old bundle or the new one, never a half-written file.
  const building = `${bundle}.${process.pid}.tmp`;
  require('esbuild').buildSync({
    entryPoints: [path.join(root, 'main.ts')],
    outfile: building,
    bundle: true,
    platform: 'node',
    target: 'node20',
    format: 'cjs',
    logLevel: 'warning',
  });
  fs.renameSync(building, bundle);
}
require(bundle);
