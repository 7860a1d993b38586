import { imageVersion } from './image-reference';
import { DeployedComponent } from '../model/topology';

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
