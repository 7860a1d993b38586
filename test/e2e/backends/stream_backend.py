"""Test-only backend behind the e2e Ingress: a Server-Sent-Events stream with a long idle gap
and a WebSocket echo. Standard library only, so that it runs from a stock python image.

GET  /sse?stream=ID       events "first", then IDLE_SECONDS of silence, "second", then "end".
                          After "first" and "second" it waits up to ACK_SECONDS for the client
                          to acknowledge that event; "end" reports which acknowledgements came.
                          An event that a proxy buffers reaches the client only after the stream
                          ends, too late to be acknowledged: that is how the test sees buffering
                          without timing anything.
POST /sse/ack?stream=ID   acknowledges the last event sent on stream ID.
GET  /ws                  WebSocket upgrade; echoes text and binary messages, answers pings.
GET  /healthz             200.

Environment: PORT (0 picks a free port; the bound port is printed as {"listening": PORT}),
IDLE_SECONDS, ACK_SECONDS.
"""

import base64
import hashlib
import json
import os
import struct
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

IDLE_SECONDS = float(os.environ.get("IDLE_SECONDS", "75"))
ACK_SECONDS = float(os.environ.get("ACK_SECONDS", "30"))
WS_GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

acks = {}
acks_lock = threading.Lock()


def ack_event(stream):
    with acks_lock:
        return acks.setdefault(stream, threading.Event())


class Handler(BaseHTTPRequestHandler):
    # HTTP/1.1 so that the WebSocket handshake answers "HTTP/1.1 101".
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):
        sys.stderr.write("%s %s\n" % (self.address_string(), fmt % args))

    def do_GET(self):
        url = urlparse(self.path)
        if url.path == "/healthz":
            self.reply(200, b"ok\n")
        elif url.path == "/sse":
            self.stream_events(parse_qs(url.query).get("stream", [""])[0])
        elif url.path == "/ws" and self.headers.get("Upgrade", "").lower() == "websocket":
            self.echo_websocket()
        else:
            self.reply(404, b"not found\n")

    def do_POST(self):
        url = urlparse(self.path)
        stream = parse_qs(url.query).get("stream", [""])[0]
        if url.path != "/sse/ack" or not stream:
            self.reply(404, b"not found\n")
            return
        with acks_lock:
            event = acks.get(stream)
        if event is None:
            self.reply(410, b"stream not open\n")
            return
        event.set()
        self.reply(204, b"")

    def reply(self, status, body):
        self.send_response(status)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Content-Type", "text/plain")
        self.end_headers()
        self.wfile.write(body)

    def stream_events(self, stream):
        if not stream:
            self.reply(400, b"stream parameter required\n")
            return
        self.close_connection = True
        # No X-Accel-Buffering header: only the Ingress annotations may turn buffering off.
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Cache-Control", "no-cache")
        self.send_header("Connection", "close")
        self.end_headers()
        received = []
        try:
            received.append(self.send_and_await_ack(stream, "first", {}))
            idle_from = time.monotonic()
            time.sleep(IDLE_SECONDS)
            idle = time.monotonic() - idle_from
            received.append(self.send_and_await_ack(stream, "second", {"idleSeconds": idle}))
            self.send_event("end", {"acknowledged": received})
        except (BrokenPipeError, ConnectionResetError):
            pass
        finally:
            with acks_lock:
                acks.pop(stream, None)

    def send_and_await_ack(self, stream, name, data):
        event = ack_event(stream)
        event.clear()
        self.send_event(name, data)
        return event.wait(ACK_SECONDS)

    def send_event(self, name, data):
        self.wfile.write(("event: %s\ndata: %s\n\n" % (name, json.dumps(data))).encode())

    def echo_websocket(self):
        key = self.headers.get("Sec-WebSocket-Key", "")
        accept = base64.b64encode(hashlib.sha1((key + WS_GUID).encode()).digest()).decode()
        self.close_connection = True
        self.send_response(101)
        self.send_header("Upgrade", "websocket")
        self.send_header("Connection", "Upgrade")
        self.send_header("Sec-WebSocket-Accept", accept)
        self.end_headers()
        while True:
            frame = self.read_frame()
            if frame is None:
                return
            opcode, payload = frame
            if opcode in (1, 2):
                self.write_frame(opcode, payload)
            elif opcode == 9:
                self.write_frame(10, payload)
            elif opcode == 8:
                self.write_frame(8, payload[:2])
                return

    def read_exactly(self, count):
        data = self.rfile.read(count)
        return data if len(data) == count else None

    def read_frame(self):
        header = self.read_exactly(2)
        if header is None:
            return None
        opcode = header[0] & 0x0F
        masked = header[1] & 0x80
        length = header[1] & 0x7F
        if length == 126:
            length = struct.unpack("!H", self.read_exactly(2) or b"\0\0")[0]
        elif length == 127:
            length = struct.unpack("!Q", self.read_exactly(8) or b"\0" * 8)[0]
        mask = self.read_exactly(4) if masked else b"\0\0\0\0"
        payload = self.read_exactly(length) if length else b""
        if mask is None or payload is None:
            return None
        return opcode, bytes(b ^ mask[i % 4] for i, b in enumerate(payload))

    def write_frame(self, opcode, payload):
        length = len(payload)
        if length < 126:
            header = struct.pack("!BB", 0x80 | opcode, length)
        elif length < 65536:
            header = struct.pack("!BBH", 0x80 | opcode, 126, length)
        else:
            header = struct.pack("!BBQ", 0x80 | opcode, 127, length)
        self.wfile.write(header + payload)


def main():
    server = ThreadingHTTPServer(("", int(os.environ.get("PORT", "8080"))), Handler)
    server.daemon_threads = True
    print(json.dumps({"listening": server.server_address[1]}), flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
