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
