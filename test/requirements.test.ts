import { describe, expect, it } from 'vitest';
import { unobtainableReason } from '../tools/requirements';

describe('unobtainable tools', () => {
  it('GIVEN LETTA_K8S_UNOBTAINABLE with entries WHEN a tool is looked up THEN its own reason comes back', () => {
    const env = { LETTA_K8S_UNOBTAINABLE: 'kube-linter=the proxy answers 403; other=reason with = sign' };
    expect(unobtainableReason('kube-linter', env)).toBe('the proxy answers 403');
    expect(unobtainableReason('other', env)).toBe('reason with = sign');
  });

  it('GIVEN no entry for a tool WHEN it is looked up THEN it is not excused', () => {
    expect(unobtainableReason('checkov', { LETTA_K8S_UNOBTAINABLE: 'kube-linter=403' })).toBeUndefined();
    expect(unobtainableReason('checkov', {})).toBeUndefined();
  });
});
