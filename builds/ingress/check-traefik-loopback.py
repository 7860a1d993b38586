#!/usr/bin/env python3
"""Checks the Traefik data plane without a cluster: a real etcd + kube-apiserver on loopback, the
objects of traefik-kind.yaml applied (RBAC, IngressClass nginx), a Service + EndpointSlice that
point at the e2e stream backend (test/e2e/backends/stream_backend.py) on this host, two Ingresses,
and the traefik binary run with the Deployment's own arguments (only the listen addresses changed)
and the ServiceAccount's identity, so that the ClusterRole is what authorizes it.

  check-traefik-loopback.py CONTROL_PLANE_DIR TRAEFIK
    CONTROL_PLANE_DIR: kube-apiserver and etcd (builds/build-control-plane.sh prints it)
    TRAEFIK:           the binary (TRAEFIK_BINARY_ONLY=1 builds/ingress/build-traefik.sh prints
                       it), or docker:IMAGE (e.g. docker:traefik:v3.7.13) to run the image on the host
                       network with the Deployment's securityContext (root, read-only root file
                       system, all capabilities dropped but NET_BIND_SERVICE, no privilege escalation)

Checks, for an SSE stream and a WebSocket with IDLE_SECONDS (default 75) of silence:
  * Ingress "long" (proxy-read/send-timeout "3600", proxy-buffering "off"): both events arrive
    as they are sent and are acknowledged; the stream ends normally.
  * Ingress "short" (proxy-buffering "off", default 60 s timeouts): cut at about 60 s.
  * the WebSocket survives the silence through "long", not through "short".
  * the Ingresses get status.loadBalancer "localhost" (publishStatusAddress, ingresses/status).
Exit code 0 when all hold. Uses only the Python standard library.
"""

import json
import os
import re
import secrets
import select
import socket
import ssl
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
MANIFEST = os.path.join(HERE, "traefik-kind.yaml")
BACKEND = os.path.join(HERE, "..", "..", "e2e", "backends", "stream_backend.py")
IDLE_SECONDS = float(os.environ.get("IDLE_SECONDS", "75"))
SA_USER = "system:serviceaccount:traefik:traefik"

procs = []


def log(msg):
    print("[check] %s" % msg, flush=True)


def free_ports(count):
    socks = [socket.socket() for _ in range(count)]
    for s in socks:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in socks]
    for s in socks:
        s.close()
    return ports


def host_ip():
    # EndpointSlice validation rejects loopback addresses: use the address of the default route.
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        s.connect(("192.0.2.123", 9))
        return s.getsockname()[0]
    finally:
        s.close()


def spawn(name, argv, workdir, env=None, stdout=None):
    logf = open(os.path.join(workdir, name + ".log"), "wb")
    p = subprocess.Popen(argv, stdout=stdout or logf, stderr=logf, env=env, stdin=subprocess.DEVNULL)
    procs.append((name, p))
    return p


def wait(what, check, timeout):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if check():
                return
        except Exception:
            pass
        time.sleep(0.5)
    raise SystemExit("timed out waiting for %s" % what)


class DockerStop:
    """Stands in a Popen in `procs`: terminating it removes the container."""

    def __init__(self, name):
        self.name = name

    def terminate(self):
        subprocess.run(["docker", "rm", "-f", self.name], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def wait(self, timeout=None):
        return 0

    def kill(self):
        self.terminate()


class Api:
    def __init__(self, url, token, ca_file):
        self.url, self.token = url, token
        self.ctx = ssl.create_default_context(cafile=ca_file)

    def call(self, method, path, body=None, ctype="application/json"):
        data = body.encode() if isinstance(body, str) else (json.dumps(body).encode() if body is not None else None)
        req = urllib.request.Request(self.url + path, data=data, method=method)
        req.add_header("Authorization", "Bearer " + self.token)
        if data is not None:
            req.add_header("Content-Type", ctype)
        with urllib.request.urlopen(req, context=self.ctx, timeout=10) as r:
            text = r.read().decode()
            return json.loads(text) if text.startswith("{") else text


# kind -> (API path prefix, namespaced, plural) for what the manifest and this check create.
RESOURCES = {
    "Namespace": ("/api/v1", False, "namespaces"),
    "ServiceAccount": ("/api/v1", True, "serviceaccounts"),
    "Service": ("/api/v1", True, "services"),
    "ClusterRole": ("/apis/rbac.authorization.k8s.io/v1", False, "clusterroles"),
    "ClusterRoleBinding": ("/apis/rbac.authorization.k8s.io/v1", False, "clusterrolebindings"),
    "IngressClass": ("/apis/networking.k8s.io/v1", False, "ingressclasses"),
    "Ingress": ("/apis/networking.k8s.io/v1", True, "ingresses"),
    "EndpointSlice": ("/apis/discovery.k8s.io/v1", True, "endpointslices"),
    "Deployment": ("/apis/apps/v1", True, "deployments"),
}


def create(api, doc, ctype="application/json"):
    text = doc if isinstance(doc, str) else json.dumps(doc)
    kind = re.search(r'^kind: *(\w+)', text, re.M).group(1) if isinstance(doc, str) else doc["kind"]
    prefix, namespaced, plural = RESOURCES[kind]
    ns = None
    if namespaced:
        ns = re.search(r'^  namespace: *(\S+)', text, re.M).group(1) if isinstance(doc, str) else doc["metadata"]["namespace"]
    path = prefix + ("/namespaces/%s" % ns if ns else "") + "/" + plural
    api.call("POST", path, text, ctype)
    return kind


def traefik_args(web_port, websecure_port, ping_port):
    """The Deployment's args from traefik-kind.yaml, with the listen addresses moved to free ports."""
    text = open(MANIFEST).read()
    block = text.split("          args:\n", 1)[1].split("          ports:\n", 1)[0]
    args = [m.group(1) for m in re.finditer(r"^ +- (--\S+)$", block, re.M)]
    moved = {"--entryPoints.web.address": ":%d" % web_port, "--entryPoints.websecure.address": ":%d" % websecure_port,
             "--entryPoints.traefik.address": ":%d" % ping_port}
    out = []
    for a in args:
        key = a.split("=", 1)[0]
        out.append("%s=%s" % (key, moved[key]) if key in moved else a)
    missing = set(moved) - {a.split("=", 1)[0] for a in args}
    if missing:
        raise SystemExit("traefik-kind.yaml lacks %s" % ", ".join(sorted(missing)))
    return args, out


def ws_client(port, host, result):
    """A WebSocket through traefik: echo, IDLE_SECONDS of silence, echo again."""
    start = time.monotonic()
    result.update(status=None, echoes=[], closed_at=None, error=None)
    try:
        s = socket.create_connection(("127.0.0.1", port), timeout=IDLE_SECONDS + 120)
        s.sendall(("GET /ws HTTP/1.1\r\nHost: %s\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                   "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n" % host).encode())
        f = s.makefile("rb")
        result["status"] = f.readline().decode().strip()
        while f.readline() not in (b"\r\n", b""):
            pass
        for i, text in enumerate((b"before", b"after")):
            if i:
                # Silence; a proxy that gives up closes the connection, which select reports.
                readable, _, _ = select.select([s], [], [], IDLE_SECONDS)
                if readable and not s.recv(1, socket.MSG_PEEK):
                    break
            mask = os.urandom(4)
            s.sendall(bytes([0x81, 0x80 | len(text)]) + mask + bytes(b ^ mask[j % 4] for j, b in enumerate(text)))
            header = f.read(2)
            if len(header) < 2:
                break
            payload = f.read(header[1] & 0x7F)
            result["echoes"].append((payload.decode(errors="replace"), round(time.monotonic() - start, 1)))
    except Exception as e:  # noqa: BLE001 - reported
        result["error"] = repr(e)
    result["closed_at"] = round(time.monotonic() - start, 1)


def sse_client(port, host, stream, result):
    """Reads the backend's SSE stream through traefik, acknowledging each event through traefik."""
    start = time.monotonic()
    events = []
    result.update(events=events, status=None, closed_at=None, error=None)
    try:
        s = socket.create_connection(("127.0.0.1", port), timeout=IDLE_SECONDS + 120)
        s.sendall(("GET /sse?stream=%s HTTP/1.1\r\nHost: %s\r\nAccept: text/event-stream\r\n\r\n" % (stream, host)).encode())
        f = s.makefile("rb")
        status = f.readline().decode().strip()
        result["status"] = status
        chunked = False
        while True:
            header = f.readline()
            if header in (b"\r\n", b""):
                break
            if header.lower().startswith(b"transfer-encoding:") and b"chunked" in header.lower():
                chunked = True

        def body_lines():
            if not chunked:
                yield from iter(f.readline, b"")
                return
            pending = b""
            while True:
                size = f.readline()
                if not size or int(size.split(b";")[0], 16) == 0:
                    break
                pending += f.read(int(size.split(b";")[0], 16))
                f.readline()
                *complete, pending = pending.split(b"\n")
                for line in complete:
                    yield line + b"\n"

        name = None
        for raw in body_lines():
            line = raw.decode(errors="replace").strip()
            if line.startswith("event: "):
                name = line[7:]
            elif line.startswith("data: ") and name:
                t = round(time.monotonic() - start, 1)
                events.append((name, t, json.loads(line[6:])))
                if name in ("first", "second"):
                    ack = socket.create_connection(("127.0.0.1", port), timeout=10)
                    ack.sendall(("POST /sse/ack?stream=%s HTTP/1.1\r\nHost: %s\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
                                 % (stream, host)).encode())
                    ack.recv(1024)
                    ack.close()
                name = None
    except Exception as e:  # noqa: BLE001 - reported
        result["error"] = repr(e)
    result["closed_at"] = round(time.monotonic() - start, 1)


def main():
    if len(sys.argv) != 3:
        raise SystemExit(__doc__)
    cp_dir, traefik = sys.argv[1], sys.argv[2]
    work = tempfile.mkdtemp(prefix="traefik-check.")
    try:
        run(cp_dir, traefik, work)
    finally:
        for name, p in reversed(procs):
            p.terminate()
            try:
                p.wait(10)
            except subprocess.TimeoutExpired:
                p.kill()
        if os.environ.get("KEEP_WORKDIR"):
            log("logs kept in %s" % work)
        else:
            subprocess.run(["rm", "-rf", work])


def run(cp_dir, traefik, work):
    etcd_port, peer_port, api_port, web, websecure, ping = free_ports(6)
    etcd_url, peer_url = "http://127.0.0.1:%d" % etcd_port, "http://127.0.0.1:%d" % peer_port
    spawn("etcd", [os.path.join(cp_dir, "etcd"), "--name=default", "--data-dir=%s/etcd" % work,
                   "--listen-client-urls=" + etcd_url, "--advertise-client-urls=" + etcd_url,
                   "--listen-peer-urls=" + peer_url, "--initial-advertise-peer-urls=" + peer_url,
                   "--initial-cluster=default=" + peer_url, "--unsafe-no-fsync", "--log-level=warn"], work)
    wait("etcd", lambda: urllib.request.urlopen(etcd_url + "/health", timeout=2).status == 200, 60)

    admin, sa_token = secrets.token_hex(16), secrets.token_hex(16)
    with open(os.path.join(work, "tokens.csv"), "w") as f:
        f.write('%s,admin,admin,"system:masters"\n' % admin)
        f.write('%s,%s,traefik-uid,"system:serviceaccounts,system:serviceaccounts:traefik"\n' % (sa_token, SA_USER))
    subprocess.run(["openssl", "ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", work + "/sa.key"], check=True)
    subprocess.run(["openssl", "ec", "-in", work + "/sa.key", "-pubout", "-out", work + "/sa.pub"], check=True,
                   stderr=subprocess.DEVNULL)
    certs = os.path.join(work, "certs")
    spawn("kube-apiserver", [os.path.join(cp_dir, "kube-apiserver"), "--bind-address=127.0.0.1",
                             "--advertise-address=127.0.0.1", "--secure-port=%d" % api_port, "--cert-dir=" + certs,
                             "--etcd-servers=" + etcd_url, "--service-cluster-ip-range=10.96.0.0/16",
                             "--service-account-issuer=https://kubernetes.default.svc.cluster.local",
                             "--service-account-key-file=%s/sa.pub" % work,
                             "--service-account-signing-key-file=%s/sa.key" % work,
                             "--token-auth-file=%s/tokens.csv" % work, "--authorization-mode=RBAC",
                             "--allow-privileged=true"], work)
    ca = os.path.join(certs, "apiserver.crt")
    started = time.monotonic()
    wait("kube-apiserver certificate", lambda: os.path.exists(ca), 120)
    api = Api("https://127.0.0.1:%d" % api_port, admin, ca)
    wait("kube-apiserver /readyz", lambda: api.call("GET", "/readyz") == "ok", 180)
    log("etcd + kube-apiserver ready in %.0f s" % (time.monotonic() - started))

    # Everything in traefik-kind.yaml, verbatim (the Deployment is stored; nothing runs it here).
    kinds = [create(api, doc, "application/yaml")
             for doc in open(MANIFEST).read().split("\n---\n") if re.search(r"^kind:", doc, re.M)]
    log("applied traefik-kind.yaml: %s" % ", ".join(kinds))

    backend = spawn("backend", [sys.executable, "-u", BACKEND], work,
                    env=dict(os.environ, PORT="0", IDLE_SECONDS=str(IDLE_SECONDS), ACK_SECONDS="30"),
                    stdout=subprocess.PIPE)
    backend_port = json.loads(backend.stdout.readline())["listening"]
    ip = host_ip()
    ns = "letta"
    create(api, {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}})
    create(api, {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "backend", "namespace": ns},
                 "spec": {"ports": [{"name": "http", "port": 80, "targetPort": backend_port, "protocol": "TCP"}]}})
    create(api, {"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
                 "metadata": {"name": "backend-1", "namespace": ns, "labels": {"kubernetes.io/service-name": "backend"}},
                 "addressType": "IPv4", "ports": [{"name": "http", "port": backend_port, "protocol": "TCP"}],
                 "endpoints": [{"addresses": [ip], "conditions": {"ready": True, "serving": True, "terminating": False}}]})
    annotations = {
        "long": {"nginx.ingress.kubernetes.io/proxy-read-timeout": "3600",
                 "nginx.ingress.kubernetes.io/proxy-send-timeout": "3600",
                 "nginx.ingress.kubernetes.io/proxy-buffering": "off",
                 "nginx.ingress.kubernetes.io/proxy-request-buffering": "off"},
        "short": {"nginx.ingress.kubernetes.io/proxy-buffering": "off"},
    }
    for name, ann in annotations.items():
        create(api, {"apiVersion": "networking.k8s.io/v1", "kind": "Ingress",
                     "metadata": {"name": name, "namespace": ns, "annotations": ann},
                     "spec": {"ingressClassName": "nginx", "rules": [{"host": "%s.localhost" % name, "http": {"paths": [
                         {"path": "/", "pathType": "Prefix",
                          "backend": {"service": {"name": "backend", "port": {"name": "http"}}}}]}}]}})
    log("backend on %s:%d behind Service letta/backend, Ingresses long + short" % (ip, backend_port))

    manifest_args, args = traefik_args(web, websecure, ping)
    args += ["--providers.kubernetesIngressNGINX.endpoint=https://127.0.0.1:%d" % api_port,
             "--providers.kubernetesIngressNGINX.token=" + sa_token,
             "--providers.kubernetesIngressNGINX.certAuthFilePath=" + ca]
    log("traefik %s" % " ".join(manifest_args))
    started = time.monotonic()
    if traefik.startswith("docker:"):
        name = "traefik-check-%d" % os.getpid()
        # The image's entrypoint prepends `traefik` to arguments that start with "-".
        spawn("traefik", ["docker", "run", "--rm", "--name", name, "--network=host", "--user=0:0", "--read-only",
                          "--cap-drop=ALL", "--cap-add=NET_BIND_SERVICE", "--security-opt=no-new-privileges",
                          "-v", "%s:%s:ro" % (ca, ca), traefik[len("docker:"):]] + args, work)
        procs.append(("traefik container", DockerStop(name)))
    else:
        spawn("traefik", [traefik] + args, work)

    def routed(host):
        req = urllib.request.Request("http://127.0.0.1:%d/healthz" % web, headers={"Host": host})
        return urllib.request.urlopen(req, timeout=5).status == 200

    wait("traefik /ping", lambda: urllib.request.urlopen("http://127.0.0.1:%d/ping" % ping, timeout=2).status == 200, 30)
    wait("routes for both Ingresses", lambda: routed("long.localhost") and routed("short.localhost"), 60)
    log("traefik serving both Ingresses %.1f s after start" % (time.monotonic() - started))

    def status_ok():
        for name in annotations:
            ing = api.call("GET", "/apis/networking.k8s.io/v1/namespaces/%s/ingresses/%s" % (ns, name))
            if ing.get("status", {}).get("loadBalancer", {}).get("ingress") != [{"hostname": "localhost"}]:
                return False
        return True

    wait("Ingress status.loadBalancer = localhost", status_ok, 30)
    log("Ingress status.loadBalancer.ingress = [{hostname: localhost}] on both (ingresses/status as the ServiceAccount)")

    results = {"long": {}, "short": {}}
    ws = {"long": {}, "short": {}}
    threads = [threading.Thread(target=sse_client, args=(web, "%s.localhost" % n, "s-" + n, results[n])) for n in results]
    threads += [threading.Thread(target=ws_client, args=(web, "%s.localhost" % n, ws[n])) for n in ws]
    log("two SSE streams and two WebSockets with %.0f s of silence..." % IDLE_SECONDS)
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for n, r in results.items():
        log("%-5s status=%r events=%s closed_at=%s s error=%s" % (
            n, r["status"], [(e[0], e[1]) for e in r["events"]], r["closed_at"], r["error"]))

    for n, r in ws.items():
        log("%-5s websocket status=%r echoes=%s closed_at=%s s error=%s" % (n, r["status"], r["echoes"], r["closed_at"], r["error"]))

    failures = []
    if [e[0] for e in ws["long"]["echoes"]] != ["before", "after"]:
        failures.append("long: the WebSocket did not survive %.0f s idle" % IDLE_SECONDS)
    if "after" in [e[0] for e in ws["short"]["echoes"]]:
        failures.append("short: the WebSocket survived %.0f s idle with 60 s timeouts" % IDLE_SECONDS)
    long_events = {e[0]: e for e in results["long"]["events"]}
    if not ("first" in long_events and "second" in long_events and "end" in long_events):
        failures.append("long: expected events first, second, end")
    elif long_events["end"][2].get("acknowledged") != [True, True]:
        failures.append("long: events not acknowledged while the stream was open (buffered?): %r" % long_events["end"][2])
    elif long_events["first"][1] > 5:
        failures.append("long: first event late (%.1f s): buffered?" % long_events["first"][1])
    short = results["short"]
    short_names = [e[0] for e in short["events"]]
    if "second" in short_names or not (55 <= (short["closed_at"] or 0) <= 70):
        failures.append("short: expected the stream cut at about 60 s, got %r at %s s" % (short_names, short["closed_at"]))
    if failures:
        for f in failures:
            log("FAIL " + f)
        with open(os.path.join(work, "traefik.log"), "rb") as f:
            sys.stdout.write(f.read().decode(errors="replace")[-4000:])
        raise SystemExit(1)
    log("PASS: 3600 s annotations keep a %.0f s idle SSE stream (open, unbuffered) and WebSocket alive; "
        "without them the stream is cut at %.1f s and the WebSocket at %.1f s"
        % (IDLE_SECONDS, short["closed_at"], ws["short"]["closed_at"]))


if __name__ == "__main__":
    main()
