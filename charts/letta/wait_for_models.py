"""letta-k8s: wait until the inference server answers, so that Letta lists its models."""
import os
import sys
import time
import urllib.request

URL = os.environ["LETTA_K8S_MODELS_HEALTH_URL"]
BUDGET = int(os.environ["LETTA_K8S_MODELS_WAIT_SECONDS"])
INTERVAL = 5


def answers():
    try:
        with urllib.request.urlopen(URL, timeout=5) as response:
            return response.status == 200
    except OSError:
        return False


deadline = time.monotonic() + BUDGET
while not answers():
    if time.monotonic() >= deadline:
        print(f"{URL} did not answer within {BUDGET} s: Letta starts without its models, which it lists after its next restart", flush=True)
        sys.exit(0)
    print(f"waiting for {URL}", flush=True)
    time.sleep(INTERVAL)
print(f"{URL} answers", flush=True)
