/** Image references as the settings take them: name:tag, name@sha256:..., or name:tag@sha256:... */

/** Whether the reference names an immutable digest (a tag can be re-pushed; a digest cannot). */
export function pinnedByDigest(image: string): boolean {
  return image.includes('@sha256:');
}

/** The tag of an image reference, as a label value ("0.16.8"); digests are shortened. */
export function imageVersion(image: string): string {
  const [name, digest] = image.split('@');
  const tag = /:([^/]+)$/.exec(name)?.[1];
  const version = tag ?? digest.replace('sha256:', '').slice(0, 12);
  return version.replace(/[^A-Za-z0-9_.-]/g, '-').slice(0, 63);
}

/**
 * Whether the image is a Docker Hub image outside Docker's curated official images: a user or
 * organisation repository ("letta/letta", "docker.io/otel/..."). Docker's rule: a first part with
 * a dot or a port, or "localhost", is a registry host.
 */
export function fromDockerHubRepository(image: string): boolean {
  const parts = image.split('@')[0].split('/');
  const first = parts[0];
  const hasHost = parts.length > 1 && (first.includes('.') || first.includes(':') || first === 'localhost');
  const path = hasHost ? parts.slice(1) : parts;
  if (hasHost && first !== 'docker.io' && first !== 'index.docker.io') return false;
  return path.length > 1 && path[0] !== 'library';
}
