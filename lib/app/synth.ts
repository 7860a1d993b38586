import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { App } from 'cdk8s';
import { Settings } from '../config/schema';
import { addStack } from './stack';

/** Synthesizes the stack into `outdir` (created if missing) and returns the file names in order. */
export function synthesizeStack(settings: Settings, outdir: string): string[] {
  const app = new App({ outdir });
  addStack(app, settings);
  app.synth();
  return fs.readdirSync(outdir).filter((file) => file.endsWith('.k8s.yaml')).sort();
}

/** A fresh temporary directory for one synthesis. */
export function temporaryOutdir(prefix = 'letta-k8s-'): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), prefix));
}
