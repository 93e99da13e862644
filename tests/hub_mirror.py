#!/usr/bin/env python3
"""A local stand-in for the Hugging Face hub, serving directories in the hub's URL layout so
that hf-hub's real download path can be tested offline (point HF_ENDPOINT at it).

Usage: hub_mirror.py [--commit SHA] ORG/NAME=DIR ... datasets/ORG/NAME=DIR ...
(prints "PORT <n>" once listening). Model repos are served at /ORG/NAME/resolve/REV/FILE and
/api/models/ORG/NAME/revision/REV; dataset repos (keys prefixed `datasets/`) at
/datasets/ORG/NAME/resolve/REV/FILE and /api/datasets/ORG/NAME/revision/REV.
"""
import argparse
import hashlib
import json
import os
import sys
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import unquote

ap = argparse.ArgumentParser()
ap.add_argument("--commit", default="0123456789abcdef0123456789abcdef01234567")
ap.add_argument("--hang", action="store_true", help="accept connections, never answer")
ap.add_argument("repos", nargs="*")
args = ap.parse_args()
REPOS = dict(r.split("=", 1) for r in args.repos)


def files(root):
    for base, _, names in os.walk(root):
        for n in names:
            yield os.path.relpath(os.path.join(base, n), root)


class Hub(BaseHTTPRequestHandler):
    def log_message(self, *a):
        pass

    def send_json(self, code, obj):
        body = json.dumps(obj).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        if args.hang:
            time.sleep(3600)
            return
        path = unquote(self.path.split("?")[0])
        for kind, prefix in (("models", ""), ("datasets", "datasets/")):
            api = f"/api/{kind}/"
            if not path.startswith(api):
                continue
            name, _, _rev = path[len(api):].partition("/revision/")
            repo = prefix + name
            if repo not in REPOS:
                return self.send_json(404, {"error": f"Repository {repo} not found"})
            siblings = [{"rfilename": f} for f in sorted(files(REPOS[repo]))]
            return self.send_json(200, {"id": repo, "sha": args.commit, "siblings": siblings})
        parts = path.lstrip("/").split("/")
        if parts and parts[0] == "datasets":
            parts = ["datasets/" + parts[1]] + parts[2:] if len(parts) > 1 else parts
        if len(parts) >= 5 and parts[2] == "resolve":
            repo, rel = "/".join(parts[:2]), "/".join(parts[4:])
            full = os.path.join(REPOS.get(repo, "/nonexistent"), rel)
            if not os.path.isfile(full):
                return self.send_json(404, {"error": "Entry not found"})
            data = open(full, "rb").read()
            start, end = 0, len(data) - 1
            rng = self.headers.get("Range")
            if rng and rng.startswith("bytes="):
                a, _, b = rng[6:].partition("-")
                start = int(a or 0)
                end = min(int(b), end) if b else end
            chunk = data[start:end + 1]
            self.send_response(206 if rng else 200)
            self.send_header("ETag", '"' + hashlib.sha256(data).hexdigest() + '"')
            self.send_header("X-Repo-Commit", args.commit)
            self.send_header("Content-Range", f"bytes {start}-{end}/{len(data)}")
            self.send_header("Content-Length", str(len(chunk)))
            self.end_headers()
            self.wfile.write(chunk)
            return
        self.send_json(404, {"error": "not found"})


server = ThreadingHTTPServer(("127.0.0.1", 0), Hub)
print("PORT", server.server_address[1], flush=True)
server.serve_forever()
