import * as fs from 'node:fs';
import * as path from 'node:path';
import { loadSettingsFromEnv, SettingsError } from './lib/config/load';
import { publishManifests } from './lib/publish';
import { synthesizeStack, temporaryOutdir } from './lib/synth';

/*
 * Entry point of `cdk8s synth` (see cdk8s.yaml). The CLI empties its own output directory before
 * running the app, so it points at a staging directory; the app validates the settings first and
 * replaces dist/ only after a complete synthesis. Bad settings leave dist/ exactly as it was.
 */
const DIST = process.env.LETTA_K8S_DIST ?? 'dist';

function main(): number {
  let settings;
  try {
    settings = loadSettingsFromEnv();
  } catch (error) {
    if (error instanceof SettingsError) {
      console.error(`letta-k8s: ${error.message}\nletta-k8s: nothing written; ${DIST}/ is unchanged.`);
      return 1;
    }
    throw error;
  }
  const staging = process.env.CDK8S_OUTDIR ?? temporaryOutdir();
  fs.mkdirSync(staging, { recursive: true });
  synthesizeStack(settings, staging);
  if (path.resolve(staging) !== path.resolve(DIST)) {
    const files = publishManifests(staging, DIST);
    // stderr: the cdk8s CLI swallows the app's stdout.
    console.error(`letta-k8s: profile ${process.env.LETTA_PROFILE || 'kind'}: wrote ${files.length} files to ${DIST}/`);
  }
  return 0;
}

process.exitCode = main();
