import { describe, expect, it } from 'vitest';
import { freeTestNet, hostAddress, TEST_NETS } from './test-net';

describe('freeTestNet', () => {
  it('GIVEN a machine that uses none of the documentation ranges WHEN one is chosen THEN it is TEST-NET-2', () => {
    expect(freeTestNet(['127.0.0.1/8', '10.0.0.5/16', '172.18.0.0/16'])).toBe('198.51.100.0/24');
  });

  it('GIVEN its registries at a TEST-NET-2 address and its own network in TEST-NET-1 WHEN one is chosen THEN it is TEST-NET-3', () => {
    expect(freeTestNet(['198.51.100.80', '192.0.2.2/24', '192.0.2.1'])).toBe('203.0.113.0/24');
  });

  it('GIVEN a route wider than a documentation range WHEN one is chosen THEN no range inside it is taken', () => {
    expect(freeTestNet(['198.51.0.0/16', '203.0.0.0/8'])).toBe('192.0.2.0/24');
  });

  it('GIVEN all three ranges in use WHEN one is chosen THEN there is none', () => {
    expect(freeTestNet([...TEST_NETS.map((net) => net.replace('0/24', '9'))])).toBeUndefined();
  });
});

describe('hostAddress', () => {
  it('GIVEN a /24 WHEN its 10th host is asked for THEN the address ends in .10', () => {
    expect(hostAddress('198.51.100.0/24', 10)).toBe('198.51.100.10');
  });
});
