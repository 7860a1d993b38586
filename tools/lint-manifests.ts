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

interface Target {
  readonly label: string;
  readonly dir: string;
  readonly documents: ReadonlyArray<Record<string, any>>;
}

function main(): number {
  const dirs = process.argv.slice(2);
  const targets = dirs.length > 0 ? dirs.map(directoryTarget) : profileTargets();
  const linters = Object.values(pinnedLinters());
  const notRun = linters.filter((linter) => missingReason(linter) !== undefined);
  // A linter that cannot be obtained on this machine is reported, not counted as a failure.
  const missing = notRun.filter((linter) => unobtainableReason(linter.name) === undefined);
  let findingCount = 0;

  for (const target of targets) {
    console.log(`\n== ${target.label} (${target.dir}) ==`);
    for (const linter of linters) {
      if (notRun.includes(linter)) {
        const unobtainable = unobtainableReason(linter.name);
        console.log(`${label(linter)}: NOT RUN: ${missingReason(linter)}${unobtainable ? ` (cannot be obtained here: ${unobtainable})` : ''}`);
        continue;
      }
      findingCount += report(label(linter), runLinter(linter, target.dir));
    }
    findingCount += report('skip annotations', skipAnnotationProblems(target.documents));
  }

  console.log('');
  if (missing.length > 0) {
    console.log(`lint:manifests: FAILED: not installed: ${missing.map(label).join(', ')}; run builds/install-linters.sh`);
    return 1;
  }
  if (findingCount > 0) {
    console.log(`lint:manifests: FAILED: ${findingCount} finding(s). Fix the manifest, or, where the check cannot fit the component, add the skip annotation with its reason to lib/kit/lint-exceptions.ts.`);
    return 1;
  }
  console.log(`lint:manifests: ${targets.length} target(s) clean`);
  return 0;
}

const label = (linter: Linter) => `${linter.name} ${linter.version}`;

function report(title: string, findings: readonly Finding[]): number {
  console.log(`${title}: ${findings.length === 0 ? 'clean' : `${findings.length} finding(s)`}`);
  for (const line of formatFindings(findings)) console.log(`  ${line}`);
  return findings.length;
}

function directoryTarget(dir: string): Target {
  const files = fs.readdirSync(dir).filter((file) => /\.ya?ml$/.test(file));
  return { label: dir, dir, documents: loadManifests(files.map((file) => path.join(dir, file))) };
}

function profileTargets(): Target[] {
  return VARIANTS.map(({ label, profile, values }) => {
    const rendered = renderProfile(profile, values);
    return { label, dir: rendered.dir, documents: rendered.documents };
  });
}

try {
  process.exit(main());
} catch (error) {
  console.error(`lint:manifests: ${error instanceof Error ? error.message : String(error)}`);
  process.exit(2);
}
