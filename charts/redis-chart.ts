import { Duration, Size } from 'cdk8s';
import * as kplus from 'cdk8s-plus-33';
import { Construct } from 'constructs';
import { ComponentService } from '../lib/component-service';
import { containerResources, hardenedContainer, hardenedPod, scratchVolume } from '../lib/hardening';
import { componentLabels } from '../lib/labels';
import { StackChart, StackChartProps } from '../lib/stack-chart';

/** The uid of "redis" in the official Alpine image. */
const REDIS_UID = 999;

/** Redis: shared conversation locks and resumable streams for every Letta replica. */
export class RedisChart extends StackChart {
  constructor(scope: Construct, id: string, props: StackChartProps) {
    super(scope, id, props);
    const redis = this.settings.redis;
    const component = this.topology.component('redis');
    const labels = componentLabels(component, redis.image);
    const port = component.ports[0];
    const ping = kplus.Probe.fromCommand(['redis-cli', '-p', String(port.port), 'ping'], {
      periodSeconds: Duration.seconds(10),
      timeoutSeconds: Duration.seconds(3),
      failureThreshold: 3,
    });

    const deployment = new kplus.Deployment(this, 'deployment', {
      metadata: { name: component.name, labels },
      podMetadata: { labels },
      select: false,
      replicas: 1,
      // One instance owns the append-only file; never two at once.
      strategy: kplus.DeploymentStrategy.recreate(),
      ...hardenedPod(REDIS_UID),
      containers: [
        {
          name: 'redis',
          ...hardenedContainer(redis.image, REDIS_UID),
          // As upstream's compose file: append-only persistence, here for container restarts.
          args: ['redis-server', '--port', String(port.port), '--appendonly', 'yes', '--dir', '/data'],
          ports: [{ name: port.name, number: port.port }],
          resources: containerResources(redis.resources),
          volumeMounts: [scratchVolume(this, 'data', '/data', Size.gibibytes(1))],
          readiness: ping,
          liveness: ping,
        },
      ],
    });
    deployment.select(kplus.LabelSelector.of({ labels: component.selector }));
    new ComponentService(this, 'service', { component, labels });
  }
}
