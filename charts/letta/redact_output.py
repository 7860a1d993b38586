"""letta-k8s: run a command with every secret value removed from its output."""
import os
import signal
import subprocess
import sys
import threading
import urllib.parse

REDACTED = b"[redacted]"


def secret_values():
    values = set()
    for name in filter(None, os.environ.get("LETTA_K8S_REDACT", "").split(",")):
        value = os.environ.get(name, "")
        if value:
            for form in (value, urllib.parse.quote(value, safe=""), urllib.parse.quote_plus(value)):
                values.add(form.encode())
    # Longest first, so that a value containing another is replaced whole.
    return sorted(values, key=len, reverse=True)


def copy_redacted(source, target, secrets):
    for line in iter(source.readline, b""):
        for secret in secrets:
            line = line.replace(secret, REDACTED)
        target.write(line)
        target.flush()
    source.close()


def main(argv):
    if len(argv) < 3 or argv[1] != "--":
        print("usage: redact_output.py -- COMMAND [ARG...]", file=sys.stderr)
        return 2
    secrets = secret_values()
    child = subprocess.Popen(argv[2:], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP, signal.SIGQUIT):
        signal.signal(sig, lambda number, frame: child.send_signal(number))
    pumps = [
        threading.Thread(target=copy_redacted, args=(child.stdout, sys.stdout.buffer, secrets)),
        threading.Thread(target=copy_redacted, args=(child.stderr, sys.stderr.buffer, secrets)),
    ]
    for pump in pumps:
        pump.start()
    status = child.wait()
    for pump in pumps:
        pump.join()
    return 128 - status if status < 0 else status


if __name__ == "__main__":
    sys.exit(main(sys.argv))
