import { describe, expect, it } from 'vitest';
import { PROFILES, renderProfile } from '../tools/render';
import type { KubeObject } from '../tools/kube';

/** Secret values never reach a snapshot: each is replaced by a marker of its key, which the snapshot shows. */
function redactSecrets(documents: readonly KubeObject[]): KubeObject[] {
  return documents.map((doc) => {
    if (doc.kind !== 'Secret') return doc;
    const redact = (data?: Record<string, string>) => data && Object.fromEntries(Object.keys(data).map((key) => [key, `<redacted ${key}>`]));
    return { ...doc, data: redact(doc.data), stringData: redact(doc.stringData) };
  });
}

// A safety net that shows every change to the output in review; the behaviour users rely on is
// asserted field by field in the other suites. Update with `npx vitest run -u` after reading the diff.
describe('synthesized output', () => {
  it.each(PROFILES)('GIVEN the %s profile WHEN synthesized THEN the output matches the reviewed snapshot', (profile) => {
    expect(redactSecrets(renderProfile(profile).documents)).toMatchSnapshot();
  });
});
