import { describe, expect, it } from 'vitest';
import { freeTestNet, hostAddress, TEST_NETS } from './test-net';

describe('freeTestNet', () => {
  it.each([
    ['a machine that uses none of the documentation ranges', ['127.0.0.1/8', '10.0.0.5/16', '172.18.0.0/16'], '198.51.100.0/24'],
    ['registries at a TEST-NET-2 address and a network in TEST-NET-1', ['198.51.100.80', '192.0.2.2/24', '192.0.2.1'], '203.0.113.0/24'],
    ['routes wider than two documentation ranges', ['198.51.0.0/16', '203.0.0.0/8'], '192.0.2.0/24'],
    ['all three ranges in use', TEST_NETS.map((net) => net.replace('0/24', '9')), undefined],
  ])('GIVEN %s WHEN a range is chosen THEN it is the first one nothing of it uses', (_, inUse, free) => {
    expect(freeTestNet(inUse)).toBe(free);
  });
});

describe('hostAddress', () => {
  it('GIVEN a /24 WHEN its 10th host is asked for THEN the address ends in .10', () => {
    expect(hostAddress('198.51.100.0/24', 10)).toBe('198.51.100.10');
  });
});
