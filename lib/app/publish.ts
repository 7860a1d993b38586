import * as fs from 'node:fs';
import * as path from 'node:path';

/** How long a synth waits for another one publishing into the same target; publishing takes milliseconds. */
const LOCK_WAIT_MS = 30_000;

/**
 * Replaces `target` with the manifests in `staging` in one rename, so that `target` always holds
 * one complete synthesis: the previous one until the new one has been fully written. Syntheses
 * running at once publish one after the other (`${target}.lock`); the last one wins whole.
 */
export function publishManifests(staging: string, target: string): string[] {
  const files = fs.readdirSync(staging).filter((file) => file.endsWith('.k8s.yaml')).sort();
  const next = `${target}.next-${process.pid}`;
  const previous = `${target}.previous-${process.pid}`;
  fs.rmSync(next, { recursive: true, force: true });
  fs.mkdirSync(next, { recursive: true });
  for (const file of files) fs.copyFileSync(path.join(staging, file), path.join(next, file));
  // Without the lock, two swaps interleave: one moves target aside, the other renames its folder
  // into the gap, and the first one's rename then fails on a folder that is not empty.
  holdingLock(`${target}.lock`, () => {
    const hadTarget = fs.existsSync(target);
    if (hadTarget) fs.renameSync(target, previous);
    fs.renameSync(next, target);
    if (hadTarget) fs.rmSync(previous, { recursive: true, force: true });
  });
  return files;
}

/** Runs `critical` while holding `lock`, a directory, since creating one is atomic. */
function holdingLock(lock: string, critical: () => void): void {
  const deadline = Date.now() + LOCK_WAIT_MS;
  for (;;) {
    try {
      fs.mkdirSync(lock);
      break;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    }
    if (Date.now() > deadline) {
      throw new Error(`${lock} has been held for ${LOCK_WAIT_MS / 1000} s; if no synth is running (one was killed while publishing), remove it`);
    }
    // Synchronous sleep: synthesis is synchronous from end to end.
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 10);
  }
  try {
    critical();
  } finally {
    fs.rmdirSync(lock);
  }
}
