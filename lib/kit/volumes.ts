import { Size } from 'cdk8s';
import * as kplus from 'cdk8s-plus-33';
import { Construct } from 'constructs';

/** A writable emptyDir mounted at `path`, for software that writes there at run time. */
export function scratchVolume(scope: Construct, name: string, path: string, sizeLimit = Size.mebibytes(256)): kplus.VolumeMount {
  return { path, volume: kplus.Volume.fromEmptyDir(scope, `scratch-${name}`, name, { sizeLimit }) };
}

export interface SecretFileOptions {
  /** Name of the Secret in the stack's namespace. */
  readonly secretName: string;
  /** Key of the Secret to mount. */
  readonly key: string;
  /** Directory the file appears in. */
  readonly directory: string;
  /** File name. @default the key */
  readonly file?: string;
  /** Start the pod even when the Secret or key is missing (the file is then absent). @default false */
  readonly optional?: boolean;
}

/**
 * A key of a Secret as a read-only file, for software that reads credentials from files rather
 * than from its environment.
 */
export function secretFile(scope: Construct, id: string, options: SecretFileOptions): kplus.VolumeMount {
  const secret = kplus.Secret.fromSecretName(scope, `${id}-secret`, options.secretName);
  return {
    path: options.directory,
    readOnly: true,
    volume: kplus.Volume.fromSecret(scope, id, secret, {
      name: id,
      items: { [options.key]: { path: options.file ?? options.key, mode: 0o440 } },
      optional: options.optional,
    }),
  };
}

/** The database's TLS settings: the mode and the Secret whose ca.crt a client checks the server against. */
export interface DatabaseTls {
  readonly mode: 'disable' | 'require' | 'verify-full';
  readonly secretName?: string;
}

/**
 * For verify-full, the CA of the database's TLS Secret as DIR/ca.crt (only that key: a client has
 * no use for the server's private key); otherwise nothing.
 */
export function databaseCaMounts(scope: Construct, tls: DatabaseTls, directory: string): kplus.VolumeMount[] {
  if (tls.mode !== 'verify-full' || !tls.secretName) return [];
  const secret = kplus.Secret.fromSecretName(scope, 'database-tls', tls.secretName);
  return [
    {
      path: directory,
      readOnly: true,
      volume: kplus.Volume.fromSecret(scope, 'database-ca', secret, { name: 'database-ca', items: { 'ca.crt': { path: 'ca.crt', mode: 0o444 } } }),
    },
  ];
}
