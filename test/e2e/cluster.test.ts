import { once } from 'node:events';
import { type AddressInfo, createServer } from 'node:net';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { load } from 'js-yaml';
import { describe, expect, it } from 'vitest';
import { freeHostPort, isPortInUse, KindCluster, kindHostPorts, missingPrerequisites, withFreeHostPorts } from './cluster';
import { fail, FakeShell, ok } from './support/fake-shell';

function machine() {
  return new FakeShell()
    .on(['docker', 'info'], ok('28.5.1\n'))
    .on(['kind', 'version'], ok('kind v0.33.0 go1.25.1 linux/amd64\n'))
    .on(['kubectl', 'version'], ok('{"clientVersion":{"gitVersion":"v1.37.0"}}'));
}

describe('missingPrerequisites', () => {
  it('GIVEN Docker, kind and kubectl WHEN checked THEN nothing is missing', async () => {
    expect(await missingPrerequisites(machine())).toEqual([]);
  });

  it('GIVEN a docker CLI whose daemon does not answer WHEN checked THEN the message says to start Docker and quotes the reason', async () => {
    const shell = new FakeShell()
      .on(['docker', 'info'], fail('Cannot connect to the Docker daemon at unix:///var/run/docker.sock. Is the docker daemon running?'))
      .on(['kind'], ok())
      .on(['kubectl'], ok());

    const missing = await missingPrerequisites(shell);

    expect(missing).toEqual([
      'docker: no Docker daemon answers (`docker info` failed: Cannot connect to the Docker daemon at unix:///var/run/docker.sock. Is the docker daemon running?); start Docker',
    ]);
  });

  it('GIVEN no docker, kind or kubectl on PATH WHEN checked THEN each is named', async () => {
    const missing = await missingPrerequisites(new FakeShell());

    expect(missing.map((line) => line.split(':')[0])).toEqual(['docker', 'kind', 'kubectl']);
    expect(missing[0]).toContain('the docker CLI is not on PATH');
  });
});

describe('kind configuration', () => {
  it("GIVEN the repository's kind-config.yaml WHEN read THEN the node's ports 80 and 443 reach the host", () => {
    const ports = kindHostPorts(readFileSync(join(__dirname, '..', '..', 'kind-config.yaml'), 'utf8'));

    expect(ports.get(80)).toBeDefined();
    expect(ports.get(443)).toBeDefined();
  });

  it('GIVEN port mappings to other host ports WHEN read THEN the host ports are the mapped ones', () => {
    const config = 'kind: Cluster\nnodes:\n  - role: control-plane\n    extraPortMappings:\n      - {containerPort: 80, hostPort: 8080}\n  - role: worker\n';

    expect([...kindHostPorts(config)]).toEqual([[80, 8080]]);
  });
});

describe('host ports of the run', () => {
  const userConfig = readFileSync(join(__dirname, '..', '..', 'kind-config.yaml'), 'utf8');

  it('GIVEN free host ports WHEN the run configuration is made THEN it is the user file, unchanged', async () => {
    const run = await withFreeHostPorts(userConfig, async () => false);

    expect(run.text).toBe(userConfig);
    expect(run.moved).toEqual([]);
    expect([...run.hostPorts]).toEqual([...kindHostPorts(userConfig)]);
  });

  it('GIVEN host port 80 taken WHEN the run configuration is made THEN the node port 80 maps to a free host port, and everything else stays', async () => {
    const run = await withFreeHostPorts(userConfig, async (port) => port === 80, async () => 18080);

    expect(run.hostPorts.get(80)).toBe(18080);
    expect(run.hostPorts.get(443)).toBe(kindHostPorts(userConfig).get(443));
    expect(run.moved).toEqual(["host port 80 is in use on this machine; the node's port 80 maps to host port 18080 instead"]);
    const { nodes: _runNodes, ...runRest } = load(run.text) as Record<string, unknown>;
    const { nodes: _userNodes, ...userRest } = load(userConfig) as Record<string, unknown>;
    expect(runRest).toEqual(userRest);
  });

  it('GIVEN the kernel WHEN asked for a free host port THEN nothing listens on it', async () => {
    const port = await freeHostPort();

    expect(port).toBeGreaterThan(0);
    expect(await isPortInUse(port)).toBe(false);
  });
});

describe('KindCluster', () => {
  it('GIVEN a name and kubeconfig WHEN created and deleted THEN kind is told both, so the user kubeconfig is untouched', async () => {
    const shell = new FakeShell().on(['kind'], ok());
    const cluster = new KindCluster(shell, 'letta-e2e-x1', '/tmp/e2e/kubeconfig');

    await cluster.create('/repo/kind-config.yaml');
    await cluster.delete();

    expect(shell.calls.map((call) => call.args.join(' '))).toEqual([
      'create cluster --name letta-e2e-x1 --config /repo/kind-config.yaml --kubeconfig /tmp/e2e/kubeconfig --wait 180s',
      'delete cluster --name letta-e2e-x1 --kubeconfig /tmp/e2e/kubeconfig',
    ]);
  });

  it('GIVEN kind failing WHEN the cluster is created THEN the error carries the command and its output', async () => {
    const shell = new FakeShell().on(['kind', 'create'], fail('ERROR: failed to create cluster: node(s) already exist for a cluster with the name "x"'));

    await expect(new KindCluster(shell, 'x', '/tmp/k').create('kind-config.yaml')).rejects.toThrow(
      /kind create cluster --name x .* exited with 1:\nERROR: failed to create cluster/,
    );
  });
});

describe('isPortInUse', () => {
  it('GIVEN a loopback port with a listener and then without WHEN checked THEN it is in use only while the listener is there', async () => {
    const server = createServer().listen(0, '127.0.0.1');
    await once(server, 'listening');
    const { port } = server.address() as AddressInfo;

    const whileListening = await isPortInUse(port);
    server.close();
    await once(server, 'close');

    expect(whileListening).toBe(true);
    expect(await isPortInUse(port)).toBe(false);
  });
});
