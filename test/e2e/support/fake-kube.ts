import type { KubeObject, LogOptions } from '../../../tools/kube';
import type { KubeApi } from '../kubectl';

/**
 * A cluster's API for tests, as a set of objects: list selects from it by kind, namespace and
 * equality label selector; logs answer by pod name. Everything else fails, as does a log nothing
 * answers, so a test never reaches a cluster by accident.
 */
export class FakeKube implements KubeApi {
  readonly logReads: Array<{ pod: string; options: LogOptions }> = [];
  private readonly logsByPod = new Map<string, string>();

  constructor(private readonly objects: readonly KubeObject[] = []) {}

  onLogs(pod: string, answer: string): this {
    this.logsByPod.set(pod, answer);
    return this;
  }

  async list(_apiVersion: string, kind: string, options: { namespace?: string; labelSelector?: string } = {}): Promise<KubeObject[]> {
    const selector = (options.labelSelector ?? '').split(',').filter(Boolean).map((term) => term.split('='));
    return this.objects.filter(
      (o) => o.kind === kind && (!options.namespace || o.metadata.namespace === options.namespace) && selector.every(([key, value]) => o.metadata.labels?.[key] === value),
    );
  }

  async logs(pod: { name: string; namespace: string }, options: LogOptions = {}): Promise<string> {
    this.logReads.push({ pod: pod.name, options });
    const answer = this.logsByPod.get(pod.name);
    if (answer === undefined) throw new Error(`FakeKube: no log for ${pod.namespace}/${pod.name}`);
    return answer;
  }

  applyAll(): never {
    throw new Error('FakeKube: no applies');
  }

  read(): never {
    throw new Error('FakeKube: no reads');
  }
}
