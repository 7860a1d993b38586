/**
 * `npm run lint:manifests [DIR...]`: runs kube-linter, checkov, kube-score and trivy, as platform teams
 * do before admitting manifests, on the rendered output of every profile and entry (or on the given
 * directories of manifests), and checks that each skip annotation gives its reason. Exits 1 on any finding or
 * when a linter is not installed (builds/install-linters.sh installs them).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { VARIANTS } from './fixtures';
import { loadManifests, renderProfile } from './render';
import { unobtainableReason } from './requirements';
import { Finding, Linter, formatFindings, missingReason, pinnedLinters, runLinter, skipAnnotationProblems } from './linters';

function main(): number {
  const dirs = process.argv.slice(2);
  const targets = dirs.length > 0 ? dirs.map(directoryTarget) : VARIANTS.map(({ label, profile, values }) => ({ label, ...renderProfile(profile, values) }));
  const linters = Object.values(pinnedLinters());
  let findingCount = 0;

  for (const target of targets) {
    console.log(`\n== ${target.label} (${target.dir}) ==`);
    for (const linter of linters) {
      const notRun = missingReason(linter);
      const unobtainable = unobtainableReason(linter.name);
      if (notRun) console.log(`${label(linter)}: NOT RUN: ${notRun}${unobtainable ? ` (cannot be obtained here: ${unobtainable})` : ''}`);
      else findingCount += report(label(linter), runLinter(linter, target));
    }
    findingCount += report('skip annotations', skipAnnotationProblems(target.documents));
  }

  // A linter that cannot be obtained on this machine is reported, not counted as a failure.
  const missing = linters.filter((linter) => missingReason(linter) !== undefined && unobtainableReason(linter.name) === undefined);
  console.log('');
  if (missing.length > 0) console.log(`lint:manifests: FAILED: not installed: ${missing.map(label).join(', ')}; run builds/install-linters.sh`);
  else if (findingCount > 0) console.log(`lint:manifests: FAILED: ${findingCount} finding(s). Fix the manifest, or, where the check cannot fit the component, add the skip annotation with its reason to lib/kit/lint-exceptions.ts.`);
  else console.log(`lint:manifests: ${targets.length} target(s) clean`);
  return missing.length > 0 || findingCount > 0 ? 1 : 0;
}

const label = (linter: Linter) => `${linter.name} ${linter.version}`;

function report(title: string, findings: readonly Finding[]): number {
  console.log(`${title}: ${findings.length === 0 ? 'clean' : `${findings.length} finding(s)`}`);
  for (const line of formatFindings(findings)) console.log(`  ${line}`);
  return findings.length;
}

/** The manifests of a directory, in the order `kubectl apply -f` reads them. */
function directoryTarget(dir: string) {
  const files = fs.readdirSync(dir).filter((file) => /\.ya?ml$/.test(file)).sort().map((file) => path.join(dir, file));
  return { label: dir, dir, files, documents: loadManifests(files) };
}

try {
  process.exit(main());
} catch (error) {
  console.error(`lint:manifests: ${error instanceof Error ? error.message : String(error)}`);
  process.exit(2);
}
