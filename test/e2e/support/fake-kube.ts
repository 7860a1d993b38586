import type { ApplyOptions, ApplyResult, KubeObject, LogOptions, ObjectRef } from '../../../tools/kube';
import type { KubeApi } from '../kubectl';

type Objects = readonly KubeObject[] | (() => readonly KubeObject[]);

export interface KubeCall {
  readonly op: 'applyAll' | 'read' | 'list' | 'logs';
  readonly kind?: string;
  readonly name?: string;
  readonly namespace?: string;
  readonly objects?: readonly KubeObject[];
  readonly options?: LogOptions & { labelSelector?: string };
}

/**
 * A cluster's API for tests, as a set of objects (or a function giving the set at each call):
 * list and read select from it by kind, namespace, name and equality label selector. Applies are
 * recorded, not stored. Logs answer from rules; a log nothing answers fails, as does
 * an apply after failApply, so a test never reaches a cluster by accident.
 */
export class FakeKube implements KubeApi {
  readonly calls: KubeCall[] = [];
  private readonly logRules: Array<{ match: Partial<LogOptions> & { pod?: string }; answer: string }> = [];
  private applyError: Error | undefined;

  constructor(private readonly objects: Objects = []) {}

  /** Answers log reads whose pod name and options include all of `match`, in the order the rules were added. */
  onLogs(match: Partial<LogOptions> & { pod?: string }, answer: string): this {
    this.logRules.push({ match, answer });
    return this;
  }

  failApply(message: string): this {
    this.applyError = new Error(message);
    return this;
  }

  /** The calls of one operation (and kind). */
  callsOf(op: KubeCall['op'], kind?: string): KubeCall[] {
    return this.calls.filter((call) => call.op === op && (kind === undefined || call.kind === kind));
  }

  async applyAll(objects: readonly KubeObject[], _options?: ApplyOptions): Promise<ApplyResult[]> {
    this.calls.push({ op: 'applyAll', objects });
    if (this.applyError) throw this.applyError;
    return objects.map((object) => ({ ref: { apiVersion: object.apiVersion, kind: object.kind, name: object.metadata.name }, accepted: true, status: 200, warnings: [] }));
  }

  async read(ref: ObjectRef): Promise<KubeObject | undefined> {
    this.calls.push({ op: 'read', kind: ref.kind, name: ref.name, namespace: ref.namespace });
    return this.current().find((o) => o.kind === ref.kind && o.metadata.name === ref.name && (!ref.namespace || o.metadata.namespace === ref.namespace));
  }

  async list(_apiVersion: string, kind: string, options: { namespace?: string; labelSelector?: string } = {}): Promise<KubeObject[]> {
    this.calls.push({ op: 'list', kind, namespace: options.namespace, options: { labelSelector: options.labelSelector } });
    const selector = (options.labelSelector ?? '').split(',').filter(Boolean).map((term) => term.split('='));
    return this.current().filter(
      (o) =>
        o.kind === kind &&
        (!options.namespace || o.metadata.namespace === options.namespace) &&
        selector.every(([key, value]) => o.metadata.labels?.[key] === value),
    );
  }

  async logs(pod: { name: string; namespace: string }, options: LogOptions = {}): Promise<string> {
    this.calls.push({ op: 'logs', kind: 'Pod', name: pod.name, namespace: pod.namespace, options });
    const asked: Record<string, unknown> = { pod: pod.name, ...options };
    const rule = this.logRules.find((r) => Object.entries(r.match).every(([key, value]) => (asked[key] ?? false) === value));
    if (!rule) throw new Error(`FakeKube: no log for ${pod.namespace}/${pod.name} ${JSON.stringify(options)}`);
    return rule.answer;
  }

  private current(): readonly KubeObject[] {
    return typeof this.objects === 'function' ? this.objects() : this.objects;
  }
}
