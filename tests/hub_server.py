"""A local stand-in for the Hugging Face Hub, for tests only.

It speaks the HTTP routes that huggingface_hub 2.x (HfApi.create_repo / create_commit /
list_repo_tree / get_paths_info / hf_hub_download / HfFileSystem) and datasets 5.x
(push_to_hub, load_dataset) use with `HF_HUB_DISABLE_XET=1`, so that the real clients run end
to end against 127.0.0.1. Storage (tests/_hub_storage.py) is a temporary folder of blobs
addressed by sha256 plus each repo's history in memory.

Test hooks (attributes of `HubState`):
* `fail_commits`: ordinal numbers (1-based, counted over every commit request this server
  received) that are answered with HTTP 500 and change nothing, like a Hub outage mid-push.
* `tokens`: the tokens that may write; `read_only_tokens` may only read (writes: 403); any
  other bearer token gets the Hub's 401 "Invalid credentials in Authorization header".
* `received`: sha256 -> bytes of every file content uploaded (what a push cost on the wire).
* `log`: (method, path, status) of every request; `unknown`: requests no route matched (a test
  asserts it is empty, so a client change that needs a new route is noticed at once).

Not a product feature: no branches besides `main`, no pull requests, no Xet, no pagination.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

import yaml

from tests._hub_storage import (
    Commit,
    Entry,
    HubError,
    HubState,
    Repo,
    _card_data,
    _folder_oid,
    _list_tree,
    _now,
)

LFS_SUFFIXES = (".parquet", ".arrow", ".png", ".jpg", ".bin", ".safetensors", ".gz", ".zip")
LFS_THRESHOLD = 10 * 1024 * 1024  # the Hub stores files above 10 MB in LFS whatever their name
REPO_TYPES = {"datasets": "dataset", "models": "model", "spaces": "space"}
_BAD_TOKEN = "Invalid credentials in Authorization header"


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as httpx expects
    state: HubState  # set on the subclass made by serve()

    def log_message(self, *args):  # keep pytest output clean; requests are in state.log
        pass

    # -- plumbing -------------------------------------------------------------------------------
    def _read_body(self) -> bytes:
        # Read it before routing, so that an error answer leaves the keep-alive stream clean.
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            chunks = []
            while (size := int(self.rfile.readline().split(b";")[0], 16)) > 0:
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
            self.rfile.readline()
            return b"".join(chunks)
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _token(self) -> str | None:
        auth = self.headers.get("Authorization", "")
        return auth[7:] if auth.startswith("Bearer ") else None

    def _check_token(self, write: bool) -> str | None:
        token = self._token()
        if token is not None and token not in self.state.tokens | self.state.read_only_tokens:
            raise HubError(401, _BAD_TOKEN)
        if write and token is None:
            raise HubError(401, "You must be authenticated to write to a repository")
        if write and token in self.state.read_only_tokens:
            raise HubError(403, "You don't have the rights to write to this namespace")
        return token

    def _send(
        self, status: int, body: bytes = b"", headers: dict | None = None, ctype="application/json"
    ):
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)
        self.state.log.append((self.command, self.path, status))

    def _json(self, payload, status: int = 200, headers: dict | None = None):
        self._send(status, json.dumps(payload).encode(), headers)

    def _dispatch(self):
        self.raw_body = self._read_body()
        url = urlsplit(self.path)
        query = {k: v[-1] for k, v in parse_qs(url.query).items()}
        try:
            for method, pattern, handler in ROUTES:
                match = re.fullmatch(pattern, url.path)
                if method == self.command and match:
                    with self.state.lock:
                        return handler(self, *match.groups(), query=query)
            self.state.unknown.append(f"{self.command} {self.path}")
            raise HubError(404, f"no such route in the test Hub: {self.command} {url.path}")
        except HubError as err:
            headers = {"X-Error-Message": err.message}
            if err.code:
                headers["X-Error-Code"] = err.code
            self._json({"error": err.message}, err.status, headers)

    do_GET = do_HEAD = do_POST = do_PUT = _dispatch

    # -- account and repos ----------------------------------------------------------------------
    def whoami(self, query):
        if self._check_token(write=False) is None:
            raise HubError(401, _BAD_TOKEN)
        self._json(
            {"type": "user", "name": self.state.user, "orgs": [], "auth": {"type": "access_token"}}
        )

    def create_repo(self, query):
        self._check_token(write=True)
        body = json.loads(self.raw_body)
        repo_type = body.get("type") or "model"
        repo_id = f"{body.get('organization') or self.state.user}/{body['name']}"
        url = f"http://{self.headers['Host']}/{'' if repo_type == 'model' else repo_type + 's/'}{repo_id}"
        if (repo_type, repo_id) in self.state.repos:
            return self._json({"error": "You already created this repo", "url": url}, 409)
        attrs = self.state.put_blob(b"*.parquet filter=lfs diff=lfs merge=lfs -text\n", lfs=False)
        first = Commit(
            hashlib.sha1(f"{repo_id}{time.time_ns()}".encode()).hexdigest(),
            "initial commit",
            _now(),
            {".gitattributes": attrs},
        )
        private = body.get("private") or body.get("visibility") == "private"
        self.state.repos[(repo_type, repo_id)] = Repo(
            repo_type, repo_id, bool(private), _now(), [first]
        )
        self._json({"url": url, "name": repo_id})

    def repo_info(self, kind, repo_id, revision=None, query=None):
        repo = self.state.repo(REPO_TYPES[kind], repo_id, self._check_token(write=False))
        commit = repo.at(unquote(revision or "main"))
        if commit is None:
            raise HubError(404, f"Invalid rev id: {unquote(revision)}", "RevisionNotFound")
        info = {
            "_id": repo.repo_id,
            "id": repo.repo_id,
            "author": repo.repo_id.split("/")[0],
            "sha": commit.oid,
            "private": repo.private,
            "gated": False,
            "disabled": False,
            "downloads": 0,
            "likes": 0,
            "tags": [],
            "createdAt": repo.created,
            "lastModified": commit.date,
            "siblings": [{"rfilename": p} for p in sorted(commit.files)],
        }
        card = _card_data(self.state, commit)
        if card is not None:
            info["cardData"] = card
        self._json(info)

    def _commit_for(self, kind, repo_id, revision, write=False) -> tuple[Repo, Commit]:
        repo = self.state.repo(REPO_TYPES[kind], repo_id, self._check_token(write=write))
        commit = repo.at(unquote(revision))
        if commit is None:
            raise HubError(404, f"Invalid rev id: {unquote(revision)}", "RevisionNotFound")
        return repo, commit

    # -- reading --------------------------------------------------------------------------------
    def tree(self, kind, repo_id, revision, path=None, query=None):
        _, commit = self._commit_for(kind, repo_id, revision)
        recursive = query.get("recursive", "False").lower() == "true"
        self._json(_list_tree(commit.files, unquote(path or "").strip("/"), recursive))

    def paths_info(self, kind, repo_id, revision, query=None):
        _, commit = self._commit_for(kind, repo_id, revision)
        form = parse_qs(self.raw_body.decode())
        out = []
        for path in form.get("paths", []):
            path = path.strip("/")
            if path in commit.files:
                out.append(commit.files[path].as_json(path))
            elif any(p.startswith(path + "/") for p in commit.files):
                out.append(
                    {"type": "directory", "path": path, "oid": _folder_oid(path, commit.files)}
                )
        self._json(out)

    def resolve(self, kind, repo_id, revision, path, query=None):
        _, commit = self._commit_for(kind or "models", repo_id, revision)
        entry = commit.files.get(unquote(path))
        if entry is None:
            raise HubError(404, f"{unquote(path)} does not exist", "EntryNotFound")
        data = self.state.blob(entry)
        headers = {
            "X-Repo-Commit": commit.oid,
            "Accept-Ranges": "bytes",
            "ETag": f'"{entry.sha256 if entry.lfs else entry.git_oid}"',
        }
        if entry.lfs:
            headers.update({"X-Linked-Etag": f'"{entry.sha256}"', "X-Linked-Size": str(entry.size)})
        status, wanted = 200, self.headers.get("Range")
        if wanted:
            start, _, end = wanted.removeprefix("bytes=").partition("-")
            first = int(start) if start else max(0, len(data) - int(end))
            last = min(int(end), len(data) - 1) if start and end else len(data) - 1
            if first >= len(data):
                raise HubError(416, "Requested range not satisfiable")
            headers["Content-Range"] = f"bytes {first}-{last}/{len(data)}"
            data, status = data[first : last + 1], 206
        self._send(status, data, headers, ctype="application/octet-stream")

    # -- writing --------------------------------------------------------------------------------
    def preupload(self, kind, repo_id, revision, query=None):
        _, commit = self._commit_for(kind, repo_id, revision, write=True)
        files = []
        for item in json.loads(self.raw_body)["files"]:
            sample = base64.b64decode(item["sample"])
            lfs = (
                item["path"].endswith(LFS_SUFFIXES)
                or item["size"] > LFS_THRESHOLD
                or b"\0" in sample
            )
            old = commit.files.get(item["path"])
            oid = None if old is None else (old.sha256 if old.lfs else old.git_oid)
            files.append(
                {
                    "path": item["path"],
                    "uploadMode": "lfs" if lfs else "regular",
                    "shouldIgnore": False,
                    "oid": oid,
                }
            )
        self._json({"files": files, "commitOid": commit.oid})

    def lfs_batch(self, kind, repo_id, query=None):
        self.state.repo(REPO_TYPES[kind or "models"], repo_id, self._check_token(write=True))
        host = self.headers["Host"]
        objects = []
        for obj in json.loads(self.raw_body)["objects"]:
            item = {"oid": obj["oid"], "size": obj["size"]}
            if not self.state.has_blob(obj["oid"]):  # no "actions": the client skips the upload
                item["actions"] = {"upload": {"href": f"http://{host}/lfs-upload/{obj['oid']}"}}
            objects.append(item)
        self._json({"transfer": "basic", "objects": objects})

    def lfs_upload(self, oid, query=None):
        data = self.raw_body
        if hashlib.sha256(data).hexdigest() != oid:
            raise HubError(400, "uploaded content does not match its sha256")
        self.state.put_blob(data, lfs=True)
        self.state.received[oid] = len(data)
        self._send(200)

    def commit(self, kind, repo_id, revision, query=None):
        repo, parent = self._commit_for(kind, repo_id, revision, write=True)
        lines = [json.loads(line) for line in self.raw_body.splitlines() if line.strip()]
        self.state.commit_requests += 1
        if self.state.commit_requests in self.state.fail_commits:
            raise HubError(
                500, "Internal Error - We're working hard to fix this as soon as possible!"
            )
        header = next(line["value"] for line in lines if line["key"] == "header")
        files = dict(parent.files)
        for line in lines:
            key, value = line["key"], line["value"]
            if key == "file":
                files[value["path"]] = entry = self.state.put_blob(
                    base64.b64decode(value["content"]), lfs=False
                )
                self.state.received[entry.sha256] = entry.size
            elif key == "lfsFile":
                if not self.state.has_blob(value["oid"]):
                    raise HubError(
                        422, f"LFS object {value['oid']} of {value['path']} was never uploaded"
                    )
                size = (self.state.root / "blobs" / value["oid"]).stat().st_size
                files[value["path"]] = Entry(size, value["oid"], "", lfs=True)
            elif key == "deletedFile":
                files.pop(value["path"], None)
            elif key == "deletedFolder":
                files = {
                    p: e
                    for p, e in files.items()
                    if not p.startswith(value["path"].rstrip("/") + "/")
                }
        oid = hashlib.sha1(f"{parent.oid}{header['summary']}{time.time_ns()}".encode()).hexdigest()
        repo.commits.append(Commit(oid, header["summary"], _now(), files))
        prefix = "" if repo.repo_type == "model" else repo.repo_type + "s/"
        url = f"http://{self.headers['Host']}/{prefix}{repo.repo_id}/commit/{oid}"
        self._json({"success": True, "commitOid": oid, "commitUrl": url, "pullRequestUrl": None})

    def validate_yaml(self, query=None):
        content = json.loads(self.raw_body).get("content", "")
        match = re.match(r"^---\n(.*?)\n---\n", content, re.S)
        try:
            meta = yaml.safe_load(match.group(1)) if match else {}
        except yaml.YAMLError as err:
            raise HubError(400, f"Invalid YAML metadata: {err}") from None
        if not isinstance(meta, dict):
            raise HubError(400, "YAML metadata must be a mapping")
        configs = meta.get("configs") or []
        if sum(bool(c.get("default")) for c in configs) > 1:
            raise HubError(400, "Invalid metadata: more than one config is marked default")
        if any("config_name" not in c for c in configs):
            raise HubError(400, "Invalid metadata: every config needs a config_name")
        self._json({"errors": [], "warnings": []})

    def agent_harnesses(self, query=None):
        self._json({})


_REPO = r"/api/(datasets|models|spaces)/([^/]+/[^/]+)"
_RAW = r"/(?:(datasets|spaces)/)?([^/]+/[^/]+)"
ROUTES = [
    ("GET", r"/api/whoami-v2", _Handler.whoami),
    ("POST", r"/api/repos/create", _Handler.create_repo),
    ("GET", _REPO, _Handler.repo_info),
    ("GET", _REPO + r"/revision/([^/]+)", _Handler.repo_info),
    ("GET", _REPO + r"/tree/([^/]+)(?:/(.+))?", _Handler.tree),
    ("POST", _REPO + r"/paths-info/([^/]+)", _Handler.paths_info),
    ("POST", _REPO + r"/preupload/([^/]+)", _Handler.preupload),
    ("POST", _REPO + r"/commit/([^/]+)", _Handler.commit),
    ("POST", _RAW + r"\.git/info/lfs/objects/batch", _Handler.lfs_batch),
    ("PUT", r"/lfs-upload/([0-9a-f]{64})", _Handler.lfs_upload),
    ("GET", _RAW + r"/resolve/([^/]+)/(.+)", _Handler.resolve),
    ("HEAD", _RAW + r"/resolve/([^/]+)/(.+)", _Handler.resolve),
    ("POST", r"/api/validate-yaml", _Handler.validate_yaml),
    ("GET", r"/api/agent-harnesses", _Handler.agent_harnesses),
]


class LocalHub:
    """`with LocalHub(tmp, tokens={"hf_x"}) as hub: hub.url` -> a running server on 127.0.0.1."""

    def __init__(self, root: Path, tokens: set[str]):
        self.state = HubState(root, tokens)
        handler = type("Handler", (_Handler,), {"state": self.state})
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> LocalHub:
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()
