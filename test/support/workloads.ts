
import { type KubeObject, podSpecOf } from '../../tools/kube';
import { findObject } from '../../tools/render';

const WORKLOAD_KINDS = new Set(['Deployment', 'StatefulSet', 'DaemonSet', 'Job', 'CronJob']);

export function workloadsOf(documents: readonly KubeObject[]): KubeObject[] {
  return documents.filter((doc) => WORKLOAD_KINDS.has(doc.kind));
}

/** Every container (init containers included) of every workload, with its workload's name and pod spec. */
export function containersOf(documents: readonly KubeObject[]): Array<{ workload: string; spec: KubeObject; container: Record<string, any> }> {
  return workloadsOf(documents).flatMap((workload) => {
    const spec = podSpecOf(workload)!;
    return [...(spec.initContainers ?? []), ...spec.containers].map((container: Record<string, any>) => ({
      workload: `${workload.kind}/${workload.metadata.name}`,
      spec,
      container,
    }));
  });
}

/** The pod spec of the workload of that kind and name; throws when there is none. */
export function podOf(documents: readonly KubeObject[], kind: string, name: string): KubeObject {
  return podSpecOf(findObject(documents, kind, name))!;
}

/** Letta's pod and its two Letta processes: the migration (an init container) and the server. */
export function lettaPod(documents: readonly KubeObject[]) {
  const spec = podOf(documents, 'Deployment', 'letta-server');
  return { spec, migrate: spec.initContainers.find((c: any) => c.name === 'migrate'), server: spec.containers.find((c: any) => c.name === 'server') };
}

/** A container's env as name -> entry. */
export function envOf(container: Record<string, any>): Record<string, Record<string, any>> {
  return Object.fromEntries((container.env ?? []).map((entry: Record<string, any>) => [entry.name, entry]));
}

/** The Secret key a container sees at `filePath` through a secret volume, if any. */
export function secretBehindFile(podSpec: Record<string, any>, container: Record<string, any>, filePath: string): { name: string; key: string } | undefined {
  for (const mount of container.volumeMounts ?? []) {
    if (!filePath.startsWith(`${mount.mountPath}/`)) continue;
    const secret = (podSpec.volumes ?? []).find((volume: any) => volume.name === mount.name)?.secret;
    const item = secret?.items?.find((entry: any) => `${mount.mountPath}/${entry.path}` === filePath);
    if (item) return { name: secret.secretName, key: item.key };
  }
  return undefined;
}
