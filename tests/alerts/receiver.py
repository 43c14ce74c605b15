"""A local webhook receiver, as a customer's system would run one: it checks each delivery's signature and keeps
what it accepted."""

import hashlib
import hmac
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class Receiver:
    def __init__(self, secret: str):
        self.secret = secret
        self.accepted: list[dict] = []
        self.refused: list[str] = []
        self.fail_with: int | None = None  # answer this status instead of 204
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                timestamp = self.headers.get("X-Fleet-Timestamp", "")
                expected = hmac.new(receiver.secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
                given = self.headers.get("X-Fleet-Signature", "")
                if not hmac.compare_digest(given, "sha256=" + expected.hexdigest()):
                    receiver.refused.append(given)
                    self.send_response(401)
                elif receiver.fail_with:
                    self.send_response(receiver.fail_with)
                else:
                    receiver.accepted.append({**json.loads(body), "_delivery": self.headers["X-Fleet-Delivery"]})
                    self.send_response(204)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hooks/fleet"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()

    def types(self) -> list[str]:
        return [body["type"] for body in self.accepted]
