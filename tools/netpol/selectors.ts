/** Kubernetes label selectors (metav1.LabelSelector) as predicates over a label map. */

export type Labels = Readonly<Record<string, string>>;

export interface LabelSelectorRequirement {
  readonly key: string;
  readonly operator: string;
  readonly values?: readonly string[];
}

export interface LabelSelector {
  readonly matchLabels?: Labels | null;
  readonly matchExpressions?: readonly LabelSelectorRequirement[] | null;
}

export type LabelPredicate = (labels: Labels) => boolean;

/**
 * Compiles a selector: every matchLabels pair and every expression must hold (AND); the empty
 * selector `{}` matches everything. Throws on what the API server would reject, so that a broken
 * policy fails a test instead of being read as something it is not.
 */
export function compileSelector(selector: LabelSelector, where: string): LabelPredicate {
  const required = Object.entries(selector.matchLabels ?? {});
  const expressions = (selector.matchExpressions ?? []).map((requirement) => compileRequirement(requirement, where));
  return (labels) =>
    required.every(([key, value]) => labels[key] === value) && expressions.every((holds) => holds(labels));
}

function compileRequirement({ key, operator, values = [] }: LabelSelectorRequirement, where: string): LabelPredicate {
  const has = (labels: Labels) => Object.prototype.hasOwnProperty.call(labels, key);
  switch (operator) {
    case 'In':
    case 'NotIn': {
      if (values.length === 0) throw new Error(`${where}: operator ${operator} on "${key}" needs values`);
      const set = new Set(values);
      // NotIn also matches objects without the key, as in Kubernetes.
      return operator === 'In' ? (labels) => has(labels) && set.has(labels[key]) : (labels) => !has(labels) || !set.has(labels[key]);
    }
    case 'Exists':
    case 'DoesNotExist':
      if (values.length > 0) throw new Error(`${where}: operator ${operator} on "${key}" takes no values`);
      return operator === 'Exists' ? has : (labels) => !has(labels);
    default:
      throw new Error(`${where}: unknown label selector operator "${operator}"`);
  }
}
