import * as kplus from 'cdk8s-plus-33';

/**
 * The liveness probe of a serving container: its port accepts connections. It differs from the
 * readiness probe on purpose: a server that answers its health check slowly or not at all (busy,
 * recovering, waiting on a dependency) leaves the Service's endpoints through readiness, and is
 * restarted only once it stops listening, since a restart costs open streams, a model load or a
 * crash recovery.
 */
export function listeningProbe(port: number, options: kplus.ProbeOptions): kplus.Probe {
  return kplus.Probe.fromTcpSocket({ port, ...options });
}
