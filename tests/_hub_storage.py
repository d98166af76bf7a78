"""Storage of the local test Hub (tests/hub_server.py): repos, commits, content-addressed blobs.

Every file's bytes live under `blobs/{sha256}` of a temporary folder; a repo's history is a list
of commits, each holding its full file table, so any commit can be read back by its id.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import re
import threading
import time
from pathlib import Path

import yaml


def git_blob_oid(data: bytes) -> str:
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


@dataclasses.dataclass(frozen=True)
class Entry:
    size: int
    sha256: str
    git_oid: str  # of the content; what the Hub lists for a regular (non-LFS) file
    lfs: bool

    @property
    def pointer(self) -> bytes:
        return f"version https://git-lfs.github.com/spec/v1\noid sha256:{self.sha256}\nsize {self.size}\n".encode()

    def as_json(self, path: str) -> dict:
        if not self.lfs:
            return {"type": "file", "path": path, "size": self.size, "oid": self.git_oid}
        lfs = {"oid": self.sha256, "size": self.size, "pointerSize": len(self.pointer)}
        return {
            "type": "file",
            "path": path,
            "size": self.size,
            "oid": git_blob_oid(self.pointer),
            "lfs": lfs,
        }


@dataclasses.dataclass
class Commit:
    oid: str
    title: str
    date: str
    files: dict[str, Entry]


@dataclasses.dataclass
class Repo:
    repo_type: str
    repo_id: str
    private: bool
    created: str
    commits: list[Commit]

    @property
    def head(self) -> Commit:
        return self.commits[-1]

    def at(self, revision: str) -> Commit | None:
        if revision == "main":
            return self.head
        return next((c for c in self.commits if c.oid == revision), None)


class HubError(Exception):
    def __init__(self, status: int, message: str, code: str | None = None):
        super().__init__(message)
        self.status, self.message, self.code = status, message, code


class HubState:
    def __init__(self, root: Path, tokens: set[str], user: str = "tester"):
        self.root = Path(root)
        (self.root / "blobs").mkdir(parents=True, exist_ok=True)
        self.tokens = set(tokens)
        # valid, but writes get 403 (a fine-grained read token)
        self.read_only_tokens: set[str] = set()
        self.user = user
        self.repos: dict[tuple[str, str], Repo] = {}
        self.fail_commits: set[int] = set()
        self.commit_requests = 0
        # sha256 -> bytes of file content uploaded (LFS PUT or inline)
        self.received: dict[str, int] = {}
        self.log: list[tuple[str, str, int]] = []
        self.unknown: list[str] = []
        self.lock = threading.Lock()

    # -- storage --------------------------------------------------------------------------------
    def put_blob(self, data: bytes, lfs: bool) -> Entry:
        sha = hashlib.sha256(data).hexdigest()
        path = self.root / "blobs" / sha
        if not path.exists():
            path.write_bytes(data)
        return Entry(len(data), sha, git_blob_oid(data), lfs)

    def blob(self, entry: Entry) -> bytes:
        return (self.root / "blobs" / entry.sha256).read_bytes()

    def has_blob(self, sha256: str) -> bool:
        return (self.root / "blobs" / sha256).exists()

    def repo(self, repo_type: str, repo_id: str, token: str | None) -> Repo:
        repo = self.repos.get((repo_type, repo_id))
        if repo is None or (repo.private and token not in self.tokens | self.read_only_tokens):
            raise HubError(404, "Repository not found", "RepoNotFound")
        return repo

    def commit_count(self, repo_id: str, repo_type: str = "dataset") -> int:
        """Commits made by pushes (the initial commit of create_repo not counted)."""
        return len(self.repos[(repo_type, repo_id)].commits) - 1

    def files(self, repo_id: str, repo_type: str = "dataset") -> dict[str, Entry]:
        return dict(self.repos[(repo_type, repo_id)].head.files)


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime())


def _card_data(state: HubState, commit: Commit) -> dict | None:
    entry = commit.files.get("README.md")
    if entry is None:
        return None
    text = state.blob(entry).decode("utf-8")
    match = re.match(r"^---\n(.*?)\n---\n", text, re.S)
    return yaml.safe_load(match.group(1)) if match else None


def _folder_oid(prefix: str, files: dict[str, Entry]) -> str:
    inner = sorted((p, e.sha256) for p, e in files.items() if p.startswith(prefix + "/"))
    return hashlib.sha1(json.dumps(inner).encode()).hexdigest()


def _list_tree(files: dict[str, Entry], path: str, recursive: bool) -> list[dict]:
    prefix = f"{path}/" if path else ""
    if path and path in files:
        raise HubError(400, f"{path} is a file, not a folder")
    out, folders = [], set()
    for name in sorted(files):
        if not name.startswith(prefix):
            continue
        rest = name[len(prefix) :].split("/")
        for depth in range(1, len(rest)):  # every folder between `path` and the file
            if depth > 1 and not recursive:
                break
            folders.add(prefix + "/".join(rest[:depth]))
        if recursive or len(rest) == 1:
            out.append(files[name].as_json(name))
    if path and not out and not folders:
        raise HubError(404, f"{path} does not exist on main", "EntryNotFound")
    out += [{"type": "directory", "path": f, "oid": _folder_oid(f, files)} for f in sorted(folders)]
    return sorted(out, key=lambda e: e["path"])
