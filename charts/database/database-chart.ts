import { Duration, Size } from 'cdk8s';
import * as kplus from 'cdk8s-plus-33';
import { Construct } from 'constructs';
import { ComponentChart } from '../../lib/kit/component-chart';
import { DATABASE_PASSWORD_KEY } from './database-secret';
import { DEVELOPMENT_CREDENTIALS_ANNOTATION, DEVELOPMENT_DATABASE_PASSWORD } from './development-credentials';
import { listeningProbe } from '../../lib/kit/probes';
import { containerResources, ResourceRequirements, storageSize } from '../../lib/kit/resources';
import { StackChartProps } from '../../lib/kit/stack-chart';
import { StackComponent } from '../../lib/kit/stack-component';
import { portOf } from '../../lib/model/topology';
import { scratchVolume, secretFile } from '../../lib/kit/volumes';

/**
 * Not the image's own "postgres" (999): uids above 10000 never collide with a node's users. The
 * entrypoint runs any uid, giving it a passwd entry through nss_wrapper.
 */
const POSTGRES_UID = 10999;
const SECRETS_DIR = '/run/secrets/postgres';
const DATA_DIR = '/var/lib/postgresql/data';
const TLS_DIR = '/run/secrets/postgres-tls';

export interface DatabaseChartProps extends StackChartProps {
  /** The pgvector Postgres image. */
  readonly image: string;
  /** The database (and schema) Letta uses. */
  readonly databaseName: string;
  /** The database's owner. */
  readonly user: string;
  /** The Secret whose key "password" holds the owner's password. */
  readonly passwordSecretName: string;
  /** Create that Secret with the publicly known development password (local clusters only). @default false */
  readonly developmentCredentials?: boolean;
  /** TLS Secret (tls.crt, tls.key) Postgres serves. @default none: no TLS */
  readonly tlsSecretName?: string;
  /** The data volume of the one replica. */
  readonly storage: { readonly size: string; readonly storageClassName?: string };
  /** Requests and limits of the Postgres container. */
  readonly resources: ResourceRequirements;
}

/** pgvector Postgres: a StatefulSet with a headless Service named like compose's alias. */
export class DatabaseChart extends ComponentChart {
  constructor(scope: Construct, id: string, props: DatabaseChartProps) {
    super(scope, id, props, 'database', props.image);
    const postgres = portOf(this.component, 'postgres');

    if (props.developmentCredentials) {
      new kplus.Secret(this, 'credentials', {
        metadata: { name: props.passwordSecretName, labels: this.componentLabels, annotations: DEVELOPMENT_CREDENTIALS_ANNOTATION },
        stringData: { [DATABASE_PASSWORD_KEY]: DEVELOPMENT_DATABASE_PASSWORD },
      });
    }

    // The equivalent of upstream init.sql: a schema named after the database, owned by the
    // user, as the search_path; pgvector installed into it (Letta's migrations never create it).
    const schema = `"${props.databaseName}"`;
    const initSql = new kplus.ConfigMap(this, 'init', {
      metadata: { name: `${this.component.name}-init`, labels: this.componentLabels },
      data: {
        'init.sql': [
          `CREATE SCHEMA IF NOT EXISTS ${schema} AUTHORIZATION "${props.user}";`,
          `ALTER DATABASE ${schema} SET search_path TO ${schema};`,
          `CREATE EXTENSION IF NOT EXISTS vector WITH SCHEMA ${schema};`,
          'DROP SCHEMA IF EXISTS public CASCADE;',
          '',
        ].join('\n'),
      },
    });

    // Optional TLS, from a Secret in cert-manager's layout. The files are root-owned and group
    // readable (fsGroup), which Postgres accepts for its key.
    const tlsMounts: kplus.VolumeMount[] = [];
    const serverArgs = ['postgres'];
    if (props.tlsSecretName) {
      const secret = kplus.Secret.fromSecretName(this, 'tls-secret', props.tlsSecretName);
      tlsMounts.push({ path: TLS_DIR, readOnly: true, volume: kplus.Volume.fromSecret(this, 'tls', secret, { name: 'tls', defaultMode: 0o440 }) });
      serverArgs.push('-c', 'ssl=on', '-c', `ssl_cert_file=${TLS_DIR}/tls.crt`, '-c', `ssl_key_file=${TLS_DIR}/tls.key`);
    }

    const pgIsReady = ['pg_isready', '-h', '127.0.0.1', '-p', String(postgres.port), '-U', props.user, '-d', props.databaseName];
    const postgresComponent = new StackComponent(this, 'postgres', {
      component: this.component,
      image: props.image,
      uid: POSTGRES_UID,
      userName: 'postgres',
      imagePullPolicy: this.imagePullPolicy,
      workload: {
        kind: 'StatefulSet',
        // Time for a clean shutdown (checkpoint) before the kubelet kills Postgres.
        terminationGracePeriod: Duration.seconds(60),
        volumeClaimTemplates: [
          {
            name: 'data',
            storage: storageSize(props.storage.size),
            accessModes: [kplus.PersistentVolumeAccessMode.READ_WRITE_ONCE],
            storageClassName: props.storage.storageClassName,
          },
        ],
      },
    });
    postgresComponent.addContainer({
      name: 'postgres',
      // The image's entrypoint initialises the data directory, then runs these arguments.
      args: serverArgs,
      envVariables: {
        POSTGRES_USER: kplus.EnvValue.fromValue(props.user),
        POSTGRES_DB: kplus.EnvValue.fromValue(props.databaseName),
        // A file, not a variable: environment variables leak into process listings and dumps.
        POSTGRES_PASSWORD_FILE: kplus.EnvValue.fromValue(`${SECRETS_DIR}/${DATABASE_PASSWORD_KEY}`),
        // A subdirectory: the volume's root may hold lost+found, which initdb refuses.
        PGDATA: kplus.EnvValue.fromValue(`${DATA_DIR}/pgdata`),
      },
      resources: containerResources(props.resources),
      volumeMounts: [
        // Names the claim template "data"; cdk8s-plus replaces this volume with the claim.
        { path: DATA_DIR, volume: kplus.Volume.fromEmptyDir(this, 'data', 'data') },
        { path: '/docker-entrypoint-initdb.d', volume: kplus.Volume.fromConfigMap(this, 'init-volume', initSql, { name: 'init' }), readOnly: true },
        secretFile(this, 'credentials-volume', { secretName: props.passwordSecretName, key: DATABASE_PASSWORD_KEY, directory: SECRETS_DIR }),
        ...tlsMounts,
        scratchVolume(this, 'run', '/var/run/postgresql', Size.mebibytes(16)),
        scratchVolume(this, 'tmp', '/tmp'),
        // Postgres shares memory between backends through /dev/shm; the runtime default is 64 MiB.
        {
          path: '/dev/shm',
          volume: kplus.Volume.fromEmptyDir(this, 'shm', 'shm', { medium: kplus.EmptyDirMedium.MEMORY, sizeLimit: Size.mebibytes(256) }),
        },
      ],
      // Compose's healthcheck: pg_isready every 5 s.
      startup: kplus.Probe.fromCommand(pgIsReady, { periodSeconds: Duration.seconds(5), failureThreshold: 60 }),
      readiness: kplus.Probe.fromCommand(pgIsReady, { periodSeconds: Duration.seconds(5), failureThreshold: 3 }),
      // Not pg_isready: it fails during crash recovery, which a restart would only start over.
      liveness: listeningProbe(postgres.port, {
        periodSeconds: Duration.seconds(15),
        timeoutSeconds: Duration.seconds(5),
        failureThreshold: 4,
      }),
    });
  }
}
