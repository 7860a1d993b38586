import { Duration, Size } from 'cdk8s';
import * as kplus from 'cdk8s-plus-33';
import { Construct } from 'constructs';
import { ComponentService } from '../lib/component-service';
import { componentWorkload, containerResources, hardenedContainer, listeningProbe, nameTheUser, scratchVolume, selectComponentPods } from '../lib/hardening';
import { componentLabels } from '../lib/labels';
import { StackChart, StackChartProps } from '../lib/stack-chart';
import { portOf } from '../lib/topology';

/** Not the image's own "redis" (999): uids above 10000 never collide with a node's users. */
const REDIS_UID = 10999;

/** Redis: shared conversation locks and resumable streams for every Letta replica. */
export class RedisChart extends StackChart {
  constructor(scope: Construct, id: string, props: StackChartProps) {
    super(scope, id, props);
    const redis = this.settings.redis;
    const component = this.topology.component('redis');
    const labels = componentLabels(component, redis.image);
    const port = portOf(component, 'redis');
    const timing = { periodSeconds: Duration.seconds(10), timeoutSeconds: Duration.seconds(3), failureThreshold: 3 };

    const deployment = new kplus.Deployment(this, 'deployment', {
      ...componentWorkload(this, component, { labels, uid: REDIS_UID, images: [redis.image], replicas: 1 }),
      // Letta's conversation locks live in one instance: never two behind the Service at once.
      strategy: kplus.DeploymentStrategy.recreate(),
      containers: [
        {
          name: 'redis',
          ...hardenedContainer(redis.image, REDIS_UID, this.settings.imagePullPolicy),
          // As upstream's compose file: append-only persistence, here for container restarts.
          // Protected mode refuses every client of a Redis without a password that listens beyond
          // loopback, and Letta has no Redis password setting; the NetworkPolicies admit only Letta.
          // (The official image compiles it off; saying so keeps any build of Redis working.)
          args: ['redis-server', '--port', String(port.port), '--protected-mode', 'no', '--appendonly', 'yes', '--dir', '/data'],
          ports: [{ name: port.name, number: port.port }],
          resources: containerResources(redis.resources),
          volumeMounts: [scratchVolume(this, 'data', '/data', Size.gibibytes(1))],
          readiness: kplus.Probe.fromCommand(['redis-cli', '-p', String(port.port), 'ping'], timing),
          liveness: listeningProbe(port.port, timing),
        },
      ],
    });
    selectComponentPods(deployment, component);
    nameTheUser(deployment, 'redis');
    new ComponentService(this, 'service', { component, labels });
  }
}
