"""Test-only NetworkPolicy probe: one TCP connection attempt, reported as one JSON line.

Usage: connect_probe.py HOST PORT TIMEOUT_SECONDS

Outcomes: "connected"; "timeout" (packets dropped, as a NetworkPolicy does); "refused" or
"unreachable" (something answered with a reset or an ICMP error); "dns-error" (the name did not
resolve, which says nothing about the policy under test). The exit code is 0 whatever the
outcome, so that the pod's log is the only verdict.
"""

import errno
import json
import socket
import sys


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


if __name__ == "__main__":
    print(json.dumps(probe(sys.argv[1], int(sys.argv[2]), float(sys.argv[3]))), flush=True)
