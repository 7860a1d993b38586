"""What Letta asks of vLLM's OpenAI-compatible server at start-up, for a cluster with no vLLM image.

GET /v1/models lists one model (id and max_model_len, as vLLM answers it); GET /health answers
200 like vLLM's. Every request is logged with the client's address, so that a check can tell
which pods called. Settings: PORT, MODEL, MAX_MODEL_LEN.
"""
import json
import os
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

PORT = int(os.environ["PORT"])
MODEL = os.environ["MODEL"]
MAX_MODEL_LEN = int(os.environ["MAX_MODEL_LEN"])


class Handler(BaseHTTPRequestHandler):
    def _send(self, status, body):
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        path = self.path.split("?", 1)[0].rstrip("/")
        if path == "/health":
            self._send(200, {})
        elif path == "/v1/models":
            model = {"id": MODEL, "object": "model", "owned_by": "vllm", "root": MODEL, "max_model_len": MAX_MODEL_LEN}
            self._send(200, {"object": "list", "data": [model]})
        else:
            self._send(404, {"error": {"message": f"the stand-in serves no {path}", "type": "NotFoundError"}})

    def log_message(self, format, *args):
        # Health probes every few seconds would bury the calls that matter.
        if not self.path.startswith("/health"):
            sys.stdout.write("request from %s: %s\n" % (self.client_address[0], format % args))
            sys.stdout.flush()


ThreadingHTTPServer(("0.0.0.0", PORT), Handler).serve_forever()
