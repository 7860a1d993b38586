/** A key of a Secret in the stack's namespace. */
export interface SecretKeyRef {
  /** Name of the Secret. */
  readonly name: string;
  /** Key within the Secret. */
  readonly key: string;
}
