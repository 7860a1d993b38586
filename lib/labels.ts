import { DeployedComponent } from './topology';

/** The recommended app.kubernetes.io labels of a component's objects and pods. */
export function componentLabels(component: DeployedComponent, image: string): Record<string, string> {
  return {
    ...component.selector,
    'app.kubernetes.io/component': component.role,
    'app.kubernetes.io/version': imageVersion(image),
    'app.kubernetes.io/managed-by': 'cdk8s',
  };
}

/** Labels of objects that belong to the stack as a whole (namespace, policies). */
export const STACK_LABELS: Readonly<Record<string, string>> = {
  'app.kubernetes.io/part-of': 'letta',
  'app.kubernetes.io/managed-by': 'cdk8s',
};

/** The tag of an image reference, as a label value ("0.16.8"); digests are shortened. */
export function imageVersion(image: string): string {
  const [name, digest] = image.split('@');
  const tag = /:([^/]+)$/.exec(name)?.[1];
  const version = tag ?? digest.replace('sha256:', '').slice(0, 12);
  return version.replace(/[^A-Za-z0-9_.-]/g, '-').slice(0, 63);
}
