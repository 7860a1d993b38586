"""Test-only NetworkPolicy probe: TCP connection attempts, the verdict reported as one JSON line.

Usage: connect_probe.py HOST PORT TIMEOUT_SECONDS [WINDOW_SECONDS]

Without a window: one attempt. With one, attempts every 2 s until the window ends, since a policy
engine applies its rules to a new pod a moment after the pod starts (kube-router: until then the
pod's egress is open and its address in no allowed set). The verdict is the first connection, or
else the last attempt's outcome, with how many earlier attempts connected: a denied connection
must stay denied once the rules are in place.

Outcomes: "connected"; "timeout" (packets dropped, as a NetworkPolicy does); "refused" or
"unreachable" (something answered with a reset or an ICMP error); "dns-error" (the name did not
resolve, which says nothing about the policy under test). The exit code is 0 whatever the
outcome, so that the pod's log is the only verdict.
"""

import errno
import json
import socket
import sys
import time


def probe(host, port, timeout):
    try:
        address = socket.getaddrinfo(host, port, socket.AF_INET, socket.SOCK_STREAM)[0][4]
    except OSError as error:
        return {"outcome": "dns-error", "detail": str(error)}
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.settimeout(timeout)
    try:
        sock.connect(address)
        return {"outcome": "connected", "address": address[0]}
    except socket.timeout:
        return {"outcome": "timeout", "address": address[0]}
    except OSError as error:
        outcome = "refused" if error.errno == errno.ECONNREFUSED else "unreachable"
        return {"outcome": outcome, "address": address[0], "detail": str(error)}
    finally:
        sock.close()


def probe_during(host, port, timeout, window, stop_on_connect):
    deadline = time.monotonic() + window
    connected = 0
    while True:
        result = probe(host, port, timeout)
        if result["outcome"] == "connected":
            connected += 1
            if stop_on_connect:
                return result
        if time.monotonic() + 2 >= deadline:
            return {**result, "earlier_connections": connected - (result["outcome"] == "connected")}
        time.sleep(2)


if __name__ == "__main__":
    host, port, timeout = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
    if len(sys.argv) > 4:
        # A window alone: report the steady outcome; "--until-connected": stop at the first connection.
        until_connected = len(sys.argv) > 5 and sys.argv[5] == "--until-connected"
        verdict = probe_during(host, port, timeout, float(sys.argv[4]), until_connected)
    else:
        verdict = probe(host, port, timeout)
    print(json.dumps(verdict), flush=True)
