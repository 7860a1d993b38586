/** IPv4 and IPv6 addresses and CIDR blocks as integer intervals, for ipBlock matching. */

export interface AddressRange {
  readonly family: 4 | 6;
  /** First and last address, inclusive. */
  readonly first: bigint;
  readonly last: bigint;
}

export function parseAddress(text: string): AddressRange {
  const family = text.includes(':') ? 6 : 4;
  const value = family === 6 ? parseIpv6(text) : parseIpv4(text);
  if (value === undefined) throw new Error(`not an IP address: "${text}"`);
  return { family, first: value, last: value };
}

/** A CIDR block. Host bits are dropped, as Kubernetes' own parsing of ipBlock.cidr does. */
export function parseCidr(text: string): AddressRange {
  const match = /^([^/]+)\/(\d{1,3})$/.exec(text);
  if (!match) throw new Error(`not a CIDR block: "${text}"`);
  const address = parseAddress(match[1]);
  const bits = address.family === 4 ? 32 : 128;
  const prefix = Number(match[2]);
  if (prefix > bits) throw new Error(`not a CIDR block: "${text}" (prefix longer than ${bits} bits)`);
  const hostBits = BigInt(bits - prefix);
  const first = (address.first >> hostBits) << hostBits;
  return { family: address.family, first, last: first + (1n << hostBits) - 1n };
}

/**
 * Whether some address of `range` lies in `cidr` but in none of `except`: the ranges are
 * intersected, then each exception is cut out of what is left.
 */
export function overlapsBlock(range: AddressRange, cidr: AddressRange, except: readonly AddressRange[]): boolean {
  if (range.family !== cidr.family) return false;
  let left: Array<[bigint, bigint]> = [[max(range.first, cidr.first), min(range.last, cidr.last)]];
  for (const cut of except.filter((cut) => cut.family === range.family)) {
    const pieces = left.flatMap(([first, last]): Array<[bigint, bigint]> => [[first, min(last, cut.first - 1n)], [max(first, cut.last + 1n), last]]);
    left = pieces.filter(([first, last]) => first <= last);
  }
  return left.some(([first, last]) => first <= last);
}

function parseIpv4(text: string): bigint | undefined {
  const parts = text.split('.');
  if (parts.length !== 4 || !parts.every((part) => /^\d{1,3}$/.test(part) && Number(part) <= 255)) return undefined;
  return parts.reduce((value, part) => (value << 8n) | BigInt(part), 0n);
}

function parseIpv6(text: string): bigint | undefined {
  const halves = text.split('::');
  if (halves.length > 2) return undefined;
  const groups = (half: string) => (half === '' ? [] : half.split(':'));
  const head = groups(halves[0]);
  const tail = halves.length === 2 ? groups(halves[1]) : [];
  const missing = 8 - head.length - tail.length;
  if (halves.length === 2 ? missing < 1 : missing !== 0) return undefined;
  const all = [...head, ...Array<string>(missing).fill('0'), ...tail];
  if (!all.every((group) => /^[0-9a-fA-F]{1,4}$/.test(group))) return undefined;
  return all.reduce((value, group) => (value << 16n) | BigInt(parseInt(group, 16)), 0n);
}

const min = (a: bigint, b: bigint) => (a < b ? a : b);
const max = (a: bigint, b: bigint) => (a > b ? a : b);
