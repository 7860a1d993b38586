import { Duration, Size } from 'cdk8s';
import * as kplus from 'cdk8s-plus-33';
import { Construct } from 'constructs';
import { ComponentChart } from '../../lib/kit/component-chart';
import { listeningProbe } from '../../lib/kit/probes';
import { containerResources, ResourceRequirements } from '../../lib/kit/resources';
import { StackChartProps } from '../../lib/kit/stack-chart';
import { StackComponent } from '../../lib/kit/stack-component';
import { portOf } from '../../lib/model/topology';
import { scratchVolume } from '../../lib/kit/volumes';

/** Not the image's own "redis" (999): uids above 10000 never collide with a node's users. */
const REDIS_UID = 10999;

export interface RedisChartProps extends StackChartProps {
  /** Redis's image. */
  readonly image: string;
  /** Requests and limits of the Redis container. */
  readonly resources: ResourceRequirements;
}

/** Redis: shared conversation locks and resumable streams for every Letta replica. */
export class RedisChart extends ComponentChart {
  constructor(scope: Construct, id: string, props: RedisChartProps) {
    super(scope, id, props, 'redis', props.image);
    const port = portOf(this.component, 'redis');
    const timing = { periodSeconds: Duration.seconds(10), timeoutSeconds: Duration.seconds(3), failureThreshold: 3 };

    const redisComponent = new StackComponent(this, 'redis', {
      component: this.component,
      image: props.image,
      uid: REDIS_UID,
      userName: 'redis',
      imagePullPolicy: this.imagePullPolicy,
      // Letta's conversation locks live in one instance: never two behind the Service at once.
      workload: { kind: 'Deployment', replicas: 1, strategy: kplus.DeploymentStrategy.recreate() },
    });
    redisComponent.addContainer({
      name: 'redis',
      // As upstream's compose file: append-only persistence, here for container restarts.
      // Protected mode refuses every client of a Redis without a password that listens beyond
      // loopback, and Letta has no Redis password setting; the NetworkPolicies admit only Letta.
      // (The official image compiles it off; saying so keeps any build of Redis working.)
      args: ['redis-server', '--port', String(port.port), '--protected-mode', 'no', '--appendonly', 'yes', '--dir', '/data'],
      resources: containerResources(props.resources),
      volumeMounts: [scratchVolume(this, 'data', '/data', Size.gibibytes(1))],
      readiness: kplus.Probe.fromCommand(['redis-cli', '-p', String(port.port), 'ping'], timing),
      liveness: listeningProbe(port.port, timing),
    });
  }
}
