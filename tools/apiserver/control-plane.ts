import { type ChildProcess, spawn } from 'node:child_process';
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { closeSync, existsSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { dump } from 'js-yaml';
import pWaitFor from 'p-wait-for';
import { findControlPlaneBinaries } from './binaries';
import { Kube } from '../kube';
import { freePorts } from '../support';

/** A running etcd and kube-apiserver on loopback, with no kubelet, scheduler or controllers. */
export interface ControlPlane {
  /** A kubeconfig for a user in system:masters, for kubectl and other clients. */
  readonly kubeconfigPath: string;
  /** A client for the same user. */
  readonly kube: Kube;
  /** Temporary directory holding etcd's data, certificates, keys and both processes' logs. */
  readonly dataDir: string;
  /** Stops both processes and removes dataDir. Safe to call more than once. */
  stop(): Promise<void>;
}

const SERVICE_CIDR = '10.0.0.0/24';
const USER = 'letta-k8s-test';

/**
 * Starts etcd and kube-apiserver on free loopback ports with a fresh data directory and resolves
 * once /readyz is ok. The user behind `token` is in system:masters. The processes are also killed,
 * and the data removed, when this Node process exits or is interrupted.
 */
export async function startControlPlane(): Promise<ControlPlane> {
  const binaries = findControlPlaneBinaries();
  if ('missing' in binaries) throw new Error(binaries.missing);
  const binariesDir = binaries.dir;
  const dataDir = mkdtempSync(join(tmpdir(), 'letta-k8s-apiserver-'));
  const running = new RunningControlPlane(dataDir);
  try {
    const [etcdPort, etcdPeerPort, apiPort] = await freePorts(3, '127.0.0.1');
    const etcdUrl = `http://127.0.0.1:${etcdPort}`;
    const peerUrl = `http://127.0.0.1:${etcdPeerPort}`;
    const etcd = running.spawn(join(binariesDir, 'etcd'), 'etcd', [
      '--name=default',
      `--data-dir=${join(dataDir, 'etcd')}`,
      `--listen-client-urls=${etcdUrl}`,
      `--advertise-client-urls=${etcdUrl}`,
      // Explicit peer URLs: the default (localhost:2380) would collide with a second control plane.
      `--listen-peer-urls=${peerUrl}`,
      `--initial-advertise-peer-urls=${peerUrl}`,
      `--initial-cluster=default=${peerUrl}`,
      // Throwaway data: durability only costs time.
      '--unsafe-no-fsync',
      '--log-level=warn',
    ]);
    // Enough for a cold start on 2 cores.
    const deadline = Date.now() + 180_000;
    await waitFor('etcd', etcd, deadline, async () => {
      const response = await fetch(`${etcdUrl}/health`).catch(() => undefined);
      return response?.ok === true;
    });

    const token = randomBytes(24).toString('hex');
    writeFileSync(join(dataDir, 'tokens.csv'), `${token},${USER},${USER},"system:masters"\n`, { mode: 0o600 });
    // The server needs a key pair to sign and verify service account tokens; nothing here uses them.
    const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1', privateKeyEncoding: { type: 'pkcs8', format: 'pem' }, publicKeyEncoding: { type: 'spki', format: 'pem' } });
    writeFileSync(join(dataDir, 'sa.key'), privateKey, { mode: 0o600 });
    writeFileSync(join(dataDir, 'sa.pub'), publicKey);
    const certDir = join(dataDir, 'certs');
    const apiServer = running.spawn(join(binariesDir, 'kube-apiserver'), 'kube-apiserver', [
      '--bind-address=127.0.0.1',
      // Also the address the self-signed serving certificate is issued for.
      '--advertise-address=127.0.0.1',
      `--secure-port=${apiPort}`,
      `--cert-dir=${certDir}`,
      `--etcd-servers=${etcdUrl}`,
      `--service-cluster-ip-range=${SERVICE_CIDR}`,
      '--service-account-issuer=https://kubernetes.default.svc.cluster.local',
      `--service-account-key-file=${join(dataDir, 'sa.pub')}`,
      `--service-account-signing-key-file=${join(dataDir, 'sa.key')}`,
      `--token-auth-file=${join(dataDir, 'tokens.csv')}`,
      '--authorization-mode=RBAC',
      // As kubeadm (and so kind) runs it: privileged pods are Pod Security admission's call.
      '--allow-privileged=true',
    ]);
    // kube-apiserver writes its self-signed CA and serving certificate before it listens.
    const certificate = join(certDir, 'apiserver.crt');
    await waitFor('kube-apiserver certificate', apiServer, deadline, async () => existsSync(certificate));
    const kubeconfigPath = join(dataDir, 'kubeconfig');
    writeFileSync(kubeconfigPath, kubeconfig(`https://127.0.0.1:${apiPort}`, readFileSync(certificate, 'utf8'), token), { mode: 0o600 });
    const kube = Kube.fromKubeconfig(kubeconfigPath);
    await waitFor('kube-apiserver /readyz', apiServer, deadline, () => kube.ready());
    return { kubeconfigPath, kube, dataDir, stop: () => running.stop() };
  } catch (error) {
    await running.stop();
    throw error;
  }
}

/** Polls `ready` until it holds; fails early, with the process's log, when the process exits. */
function waitFor(what: string, managed: ManagedProcess, deadline: number, ready: () => Promise<boolean>): Promise<void> {
  const check = async () => {
    if (managed.exited) throw new Error(`${managed.name} exited (${managed.exited}) before ${what} was ready:\n${managed.logTail()}`);
    return ready();
  };
  // The fallback runs at the time-out, so that the log is the one of that moment.
  const fallback = (): never => {
    throw new Error(`timed out waiting for ${what}:\n${managed.logTail()}`);
  };
  return pWaitFor(check, { interval: 200, timeout: { milliseconds: Math.max(deadline - Date.now(), 0), fallback } });
}

function kubeconfig(server: string, caCertificate: string, token: string): string {
  const cluster = { server, 'certificate-authority-data': Buffer.from(caCertificate).toString('base64') };
  return dump({
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [{ name: USER, cluster }],
    users: [{ name: USER, user: { token } }],
    contexts: [{ name: USER, context: { cluster: USER, user: USER } }],
    'current-context': USER,
  });
}

interface ManagedProcess {
  readonly name: string;
  /** Exit code or signal once the process has exited. */
  readonly exited: string | undefined;
  logTail(): string;
}

/** Every control plane not yet stopped, for the exit and signal handlers. */
const live = new Set<RunningControlPlane>();

class RunningControlPlane {
  private readonly children: Array<{ child: ChildProcess; managed: ManagedProcess }> = [];

  constructor(private readonly dataDir: string) {
    live.add(this);
    installExitHandlers();
  }

  spawn(binary: string, name: string, args: string[]): ManagedProcess {
    const logPath = join(this.dataDir, `${name}.log`);
    const log = openSync(logPath, 'a');
    const child = spawn(binary, args, { stdio: ['ignore', log, log] });
    closeSync(log);
    let exited: string | undefined;
    child.once('exit', (code, signal) => (exited = signal ?? `code ${code}`));
    child.once('error', (error) => (exited = error.message));
    const managed: ManagedProcess = {
      name,
      get exited() {
        return exited;
      },
      logTail: () => (existsSync(logPath) ? readFileSync(logPath, 'utf8').split('\n').slice(-40).join('\n') : ''),
    };
    this.children.push({ child, managed });
    return managed;
  }

  /** Stops kube-apiserver before etcd (the reverse of starting), then removes the data. */
  async stop(): Promise<void> {
    for (const { child, managed } of [...this.children].reverse()) {
      if (managed.exited) continue;
      const exit = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGTERM');
      if (!(await Promise.race([exit.then(() => true), sleep(10_000).then(() => false)]))) {
        child.kill('SIGKILL');
        await exit;
      }
    }
    this.children.length = 0;
    rmSync(this.dataDir, { recursive: true, force: true });
    live.delete(this);
  }

  /** For process exit, where nothing asynchronous runs any more. */
  killNow(): void {
    for (const { child, managed } of this.children) if (!managed.exited) child.kill('SIGKILL');
    rmSync(this.dataDir, { recursive: true, force: true });
    live.delete(this);
  }
}

let exitHandlersInstalled = false;

/** Keeps a failed or interrupted test run from leaving servers and data behind. */
function installExitHandlers(): void {
  if (exitHandlersInstalled) return;
  exitHandlersInstalled = true;
  const killAll = () => {
    for (const controlPlane of [...live]) controlPlane.killNow();
  };
  process.once('exit', killAll);
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.once(signal, () => {
      killAll();
      // Ours was the only handler: restore the default, terminating, behaviour.
      if (process.listenerCount(signal) === 0) process.kill(process.pid, signal);
    });
  }
}
