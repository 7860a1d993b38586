import { dump } from 'js-yaml';
import { check, type CommandResult, type RunOptions, type Shell } from './shell';

import type { KubeObject } from '../../tools/kube';

/** The `--selector` argument that matches objects carrying all of `labels`. */
export function labelSelector(labels: Readonly<Record<string, string>>): string {
  return Object.entries(labels)
    .map(([key, value]) => `${key}=${value}`)
    .join(',');
}

/** kubectl against one cluster: every call names the kubeconfig, so the user's context is never used. */
export class Kubectl {
  constructor(
    readonly shell: Shell,
    readonly kubeconfig: string,
  ) {}

  run(args: readonly string[], options?: RunOptions): Promise<CommandResult> {
    return this.shell.run('kubectl', ['--kubeconfig', this.kubeconfig, ...args], options);
  }

  check(args: readonly string[], options?: RunOptions): Promise<string> {
    return check(this.shell, 'kubectl', ['--kubeconfig', this.kubeconfig, ...args], options);
  }

  /** Items of `kubectl get RESOURCES -n NAMESPACE -o json`. */
  async list(resources: string, namespace: string): Promise<KubeObject[]> {
    const list = JSON.parse(await this.check(['get', resources, '--namespace', namespace, '--output', 'json']));
    return list.items ?? [];
  }

  /** Pods in `namespace` that carry all of `labels`. */
  async pods(labels: Readonly<Record<string, string>>, namespace: string): Promise<KubeObject[]> {
    const list = JSON.parse(await this.check(['get', 'pods', '--namespace', namespace, '--selector', labelSelector(labels), '--output', 'json']));
    return list.items ?? [];
  }

  /** Items of `kubectl get RESOURCES --all-namespaces --selector SELECTOR -o json`. */
  async listSelected(resources: string, selector: string): Promise<KubeObject[]> {
    const list = JSON.parse(await this.check(['get', resources, '--all-namespaces', '--selector', selector, '--output', 'json']));
    return list.items ?? [];
  }

  /** One object, or undefined when it does not exist. */
  async get(resource: string, name: string, namespace: string): Promise<KubeObject | undefined> {
    const text = await this.check(['get', resource, name, '--namespace', namespace, '--output', 'json', '--ignore-not-found']);
    return text.trim() ? JSON.parse(text) : undefined;
  }

  /** `kubectl apply` of in-memory objects, through standard input. */
  apply(objects: readonly KubeObject[]): Promise<string> {
    return this.check(['apply', '--filename', '-'], { input: objects.map((object) => dump(object, { noRefs: true })).join('---\n') });
  }
}
