import { Size } from 'cdk8s';
import * as kplus from 'cdk8s-plus-33';
import { parseQuantity } from './quantity';

const STORAGE_UNITS = {
  Mi: (amount: number) => Size.mebibytes(amount),
  Gi: (amount: number) => Size.gibibytes(amount),
  Ti: (amount: number) => Size.tebibytes(amount),
};

/** A storage quantity with a binary suffix ("10Gi") as a cdk8s Size. */
export function storageSize(quantity: string): Size {
  const match = /^([0-9]+)(Mi|Gi|Ti)$/.exec(quantity);
  if (!match) throw new Error(`storage size ${quantity} must be whole Mi, Gi or Ti`);
  return STORAGE_UNITS[match[2] as keyof typeof STORAGE_UNITS](Number(match[1]));
}

/** CPU, memory and ephemeral storage as Kubernetes quantities ("500m", "1Gi"; storage in whole Gi). */
export interface ResourceQuantities {
  readonly cpu: string;
  readonly memory: string;
  readonly ephemeralStorage: string;
}

/** A container's requests and limits. */
export interface ResourceRequirements {
  readonly requests: ResourceQuantities;
  readonly limits: ResourceQuantities;
}

/** Resource quantities as cdk8s-plus resources. */
export function containerResources(resources: ResourceRequirements): kplus.ContainerResources {
  const cpu = (quantity: string) => kplus.Cpu.millis(Math.round(parseQuantity(quantity)! * 1000));
  const memory = (quantity: string) => Size.mebibytes(Math.round(parseQuantity(quantity)! / 1024 ** 2));
  // cdk8s-plus writes ephemeral storage in whole GiB, which is why the settings take only Gi.
  const disk = (quantity: string) => Size.gibibytes(parseQuantity(quantity)! / 1024 ** 3);
  return {
    cpu: { request: cpu(resources.requests.cpu), limit: cpu(resources.limits.cpu) },
    memory: { request: memory(resources.requests.memory), limit: memory(resources.limits.memory) },
    ephemeralStorage: { request: disk(resources.requests.ephemeralStorage), limit: disk(resources.limits.ephemeralStorage) },
  };
}
