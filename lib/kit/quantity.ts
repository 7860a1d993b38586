/** Kubernetes resource quantities ("500m", "2Gi", "1.5"), parsed for synth-time sanity checks. */

const SUFFIX_FACTORS: Record<string, number> = {
  m: 1e-3,
  '': 1,
  k: 1e3,
  M: 1e6,
  G: 1e9,
  T: 1e12,
  Ki: 1024,
  Mi: 1024 ** 2,
  Gi: 1024 ** 3,
  Ti: 1024 ** 4,
};

export const QUANTITY_PATTERN = /^([0-9]+(?:\.[0-9]+)?)(m|k|M|G|T|Ki|Mi|Gi|Ti)?$/;

/** The quantity's value in base units (cores or bytes); undefined when it is not a quantity. */
export function parseQuantity(quantity: string): number | undefined {
  const match = QUANTITY_PATTERN.exec(quantity);
  if (!match) return undefined;
  return Number(match[1]) * SUFFIX_FACTORS[match[2] ?? ''];
}

/** Bytes as the Go runtime's GOMEMLIMIT syntax, in whole MiB. */
export function toGoMemLimit(bytes: number): string {
  return `${Math.floor(bytes / 1024 ** 2)}MiB`;
}
