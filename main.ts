import * as fs from 'node:fs';
import * as path from 'node:path';
import { laptopOnlyWarnings, loadSettingsFromEnv, SettingsError } from './lib/config/load';
import { publishManifests } from './lib/app/publish';
import { synthesizeStack, temporaryOutdir } from './lib/app/synth';

/*
 * Entry point of `cdk8s synth` (see cdk8s.yaml), also runnable on its own. The app validates the
 * settings first, synthesizes into a folder of its own and replaces dist/ only after a complete
 * synthesis. Bad settings leave dist/ exactly as it was.
 */
const DIST = process.env.LETTA_K8S_DIST ?? 'dist';
/**
 * The cdk8s CLI's output folder (.cdk8s-staging). The CLI empties it before running the app, and
 * every synth running at once shares it, so the app never synthesizes into it: it only copies its
 * published files there for the CLI's listing.
 */
const CLI_OUTDIR = process.env.CDK8S_OUTDIR;

function main(): number {
  let settings;
  try {
    settings = loadSettingsFromEnv();
  } catch (error) {
    if (error instanceof SettingsError) {
      console.error(`letta-k8s: ${error.message}\nletta-k8s: nothing written; ${DIST}/ is unchanged.`);
      return refusalExitCode();
    }
    throw error;
  }
  const warnings = laptopOnlyWarnings(settings);
  if (warnings.length > 0) {
    console.error(
      [
        `letta-k8s: WARNING: ingress.host ${settings.ingress.host} is not a *.localhost name, but these settings are safe only on your own machine:`,
        ...warnings.map((warning) => `  - ${warning}`),
      ].join('\n'),
    );
  }
  const staging = temporaryOutdir();
  try {
    synthesizeStack(settings, staging);
    const files = publishManifests(staging, DIST);
    if (CLI_OUTDIR && path.resolve(CLI_OUTDIR) !== path.resolve(DIST)) {
      fs.mkdirSync(CLI_OUTDIR, { recursive: true });
      for (const file of files) fs.copyFileSync(path.join(staging, file), path.join(CLI_OUTDIR, file));
    }
    // stderr: the cdk8s CLI swallows the app's stdout.
    console.error(`letta-k8s: profile ${process.env.LETTA_PROFILE || 'kind'}: wrote ${files.length} files to ${DIST}/`);
  } finally {
    fs.rmSync(staging, { recursive: true, force: true });
  }
  return 0;
}

/**
 * How the app exits after refusing the settings. The cdk8s CLI prints a stack trace for an app
 * that exits non-zero, but for an app that exits 0 without creating its output folder it prints
 * one line ("ERROR: synthesis failed, ...") and exits 1: the refusal stays readable and the exit
 * status non-zero. If that folder already exists (another synth running at once created it), the
 * CLI would exit 0, so the app exits 1 and the trace is the price of a correct status.
 */
function refusalExitCode(): number {
  if (CLI_OUTDIR === undefined || fs.existsSync(CLI_OUTDIR)) return 1;
  return 0;
}

process.exitCode = main();
