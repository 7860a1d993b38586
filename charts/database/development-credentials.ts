/**
 * Publicly known credentials for local clusters (the kind profile), so that one
 * `kubectl apply -f dist/` brings the stack up. They are constant, so re-synthesizing never
 * changes the password an existing database was initialised with. Never use them elsewhere:
 * the gpu profile refers to a Secret the user creates.
 */
export const DEVELOPMENT_DATABASE_PASSWORD = 'letta-development-only';

/** Marks an object that carries development credentials. */
export const DEVELOPMENT_CREDENTIALS_ANNOTATION = {
  'letta-k8s.dev/development-credentials': 'true: publicly known password for local clusters; create your own Secret elsewhere',
};
