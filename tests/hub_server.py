"""A local stand-in for the Hugging Face Hub's write API, for the `kazllm push` tests (no network here).

A test double, not a Hub: it answers the few requests huggingface_hub 2.4.0 itself sends for
`HfApi.create_repo`, `create_branch` and `create_commit` (hf_api.py, _commit_api.py, lfs.py), with the
shapes those functions parse, and keeps what they send in memory so a test can compare it with the
local files. Tests point huggingface_hub at it with HF_ENDPOINT and turn Xet off with
HF_HUB_DISABLE_XET=1 (huggingface_hub's own switch), so large files take the classic LFS path:

    POST /api/repos/create                                    create_repo (409 if it exists)
    POST /api/{type}s/{org}/{name}/branch/{branch}            create_branch from main (409 if it exists)
    POST /api/validate-yaml                                   README.md front matter check (YAML only)
    POST /api/{type}s/{org}/{name}/preupload/{rev}            upload mode per file: lfs or regular
    POST /[datasets/]{org}/{name}.git/info/lfs/objects/batch  LFS batch: "basic" upload + verify actions
    PUT  /lfs-upload/{oid}?signature=…                        the object, to the "pre-signed" URL
                                                              the batch gave
    POST /lfs-verify/{oid}                                    LFS verify
    POST /api/{type}s/{org}/{name}/commit/{rev}               the ndjson commit: header, file, lfsFile
    GET  /api/{type}s/{org}/{name}/revision/{rev}             repo_info (create_commit's no-op path)
    GET  /api/whoami-v2                                       whoami
    GET  /api/agent-harnesses                                 huggingface_hub's user-agent registry (empty)

Like the Hub, a new repo starts with one commit holding .gitattributes (which marks *.safetensors,
*.model, *.parquet, ... as LFS), a file is LFS when .gitattributes says so, when it is 10 MiB or more,
or when its first bytes hold a NUL; writes without an Authorization header get 401 (except the LFS
PUT, which like the Hub's pre-signed S3 URL is authorised by a signature in its URL). It checks no
token, permissions or licence ids and has no git: a commit is a dict {path: bytes} plus its message.

    with FakeHub() as hub:
        env = {"HF_ENDPOINT": hub.endpoint, "HF_HUB_DISABLE_XET": "1", "HF_HUB_OFFLINE": "0"}
        ...  # run `kazllm push`
        hub.repos[("model", "org/name")].head("main").files["config.json"]
"""

from __future__ import annotations

import base64
import fnmatch
import hashlib
import json
import re
import secrets
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, unquote, urlsplit

import yaml

LFS_PATTERNS = [
    "*.7z",
    "*.arrow",
    "*.bin",
    "*.bz2",
    "*.gz",
    "*.h5",
    "*.model",
    "*.msgpack",
    "*.npy",
    "*.onnx",
    "*.parquet",
    "*.pt",
    "*.pth",
    "*.safetensors",
    "*.tar",
    "*.tflite",
    "*.xz",
    "*.zip",
    "*.zst",
]
GITATTRIBUTES = "".join(f"{p} filter=lfs diff=lfs merge=lfs -text\n" for p in LFS_PATTERNS).encode()
LFS_SIZE = 10 * 1024 * 1024
URL_PREFIX = {"model": "", "dataset": "datasets/", "space": "spaces/"}
REPO_API = re.compile(
    r"^/api/(models|datasets|spaces)/([^/]+)/([^/]+)/(preupload|commit|branch|revision)/(.+)$"
)
LFS_BATCH = re.compile(r"^/(?:(datasets|spaces)/)?([^/]+)/([^/]+)\.git/info/lfs/objects/batch$")


@dataclass
class Commit:
    oid: str
    summary: str
    description: str
    files: dict[str, bytes]
    """The whole tree after this commit."""
    lfs_paths: set[str] = field(default_factory=set)
    """Paths this commit added as LFS pointers (the others it added were sent inline, base64)."""
    added: list[str] = field(default_factory=list)


@dataclass
class Repo:
    repo_type: str
    repo_id: str
    private: bool
    branches: dict[str, list[Commit]] = field(default_factory=dict)
    lfs: dict[str, bytes] = field(default_factory=dict)
    """LFS store: sha256 -> content (shared by the repo's branches, like the Hub's)."""
    pending: dict[str, str] = field(default_factory=dict)
    """Objects an LFS batch answered with an upload action, not uploaded yet:
    oid -> the upload URL's signature."""

    def head(self, branch: str = "main") -> Commit:
        return self.branches[branch][-1]

    def is_lfs(self, branch: str, path: str, size: int, sample: bytes) -> bool:
        rules = self.head(branch).files.get(".gitattributes", b"").decode()
        patterns = [line.split()[0] for line in rules.splitlines() if "filter=lfs" in line]
        name = path.rsplit("/", 1)[-1]
        return (
            any(fnmatch.fnmatch(name, p) or fnmatch.fnmatch(path, p) for p in patterns)
            or size >= LFS_SIZE
            or b"\0" in sample
        )


def git_blob_oid(content: bytes) -> str:
    return hashlib.sha1(b"blob %d\0" % len(content) + content).hexdigest()


class HubError(Exception):
    def __init__(self, status: int, message: str, code: str = ""):
        super().__init__(message)
        self.status, self.message, self.code = status, message, code


class FakeHub:
    """Start with `with FakeHub() as hub:` (or start()/stop()); `hub.endpoint` is its http://127.0.0.1:PORT."""

    def __init__(self) -> None:
        self.repos: dict[tuple[str, str], Repo] = {}
        self.requests: list[tuple[str, str]] = []
        """(method, path) of every request, in order."""
        self.authorizations: list[str] = []
        """The Authorization header of every request that carried one."""
        self.lock = threading.Lock()
        self.server: ThreadingHTTPServer | None = None

    # --- lifecycle ---------------------------------------------------------------------------------

    def start(self) -> FakeHub:
        hub = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                hub._handle(self, "GET")

            def do_POST(self):
                hub._handle(self, "POST")

            def do_PUT(self):
                hub._handle(self, "PUT")

            def log_message(self, *args):  # keep test output clean
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self.server:
            self.server.shutdown()
            self.server.server_close()

    def __enter__(self) -> FakeHub:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    # --- HTTP plumbing -----------------------------------------------------------------------------

    def _handle(self, h: BaseHTTPRequestHandler, method: str) -> None:
        url = urlsplit(h.path)
        path, query = url.path, {k: v[0] for k, v in parse_qs(url.query).items()}
        auth = h.headers.get("Authorization")
        with self.lock:
            self.requests.append((method, path))
            if auth:
                self.authorizations.append(auth)
        try:
            body = _read_body(h)
            with self.lock:
                status, payload = self._route(method, path, query, body, auth)
        except HubError as e:
            status, payload = e.status, {"error": e.message}
            h.send_response(status)
            if e.code:
                h.send_header("X-Error-Code", e.code)
            h.send_header("X-Error-Message", e.message)
            _send_json(h, payload)
            return
        h.send_response(status)
        _send_json(h, payload)

    def _route(self, method: str, path: str, query: dict, body: bytes, auth: str | None):
        # LFS uploads go to a pre-signed URL (S3 on the Hub) that carries no Authorization header
        write = (
            method in ("POST", "PUT") and path != "/api/validate-yaml" and not path.startswith("/lfs-upload/")
        )
        if write and not (auth or "").startswith("Bearer "):
            raise HubError(401, "Invalid username or password.")
        if method == "POST" and path == "/api/repos/create":
            return self._create_repo(json.loads(body))
        if method == "POST" and path == "/api/validate-yaml":
            return self._validate_yaml(json.loads(body))
        if method == "GET" and path == "/api/agent-harnesses":  # huggingface_hub's user-agent registry
            return 200, {"standardEnvVars": [], "harnesses": {}}
        if method == "GET" and path == "/api/whoami-v2":
            if not auth:
                raise HubError(401, "Invalid credentials in Authorization header")
            return 200, {"type": "user", "name": "fake-user", "auth": {"type": "access_token"}}
        if method == "PUT" and path.startswith("/lfs-upload/"):
            return self._lfs_put(path.rsplit("/", 1)[-1], query.get("signature", ""), body)
        if method == "POST" and path.startswith("/lfs-verify/"):
            return self._lfs_verify(json.loads(body))
        m = LFS_BATCH.match(path)
        if method == "POST" and m:
            repo = self._repo((m.group(1) or "model").rstrip("s"), f"{m.group(2)}/{m.group(3)}")
            return self._lfs_batch(repo, json.loads(body))
        m = REPO_API.match(path)
        if m:
            repo = self._repo(m.group(1)[:-1], f"{unquote(m.group(2))}/{unquote(m.group(3))}")
            action, rev = m.group(4), unquote(m.group(5))
            if method == "POST" and action == "branch":
                return self._create_branch(repo, rev, json.loads(body or b"{}"))
            if method == "POST" and action == "preupload":
                return self._preupload(repo, self._branch(repo, rev), json.loads(body))
            if method == "POST" and action == "commit":
                return self._commit(repo, self._branch(repo, rev), body)
            if method == "GET" and action == "revision":
                head = repo.head(self._branch(repo, rev))
                return 200, {
                    "id": repo.repo_id,
                    "sha": head.oid,
                    "private": repo.private,
                    "siblings": [{"rfilename": p} for p in sorted(head.files)],
                }
        raise HubError(404, f"Not found: {method} {path} (the fake hub does not implement it)")

    def _repo(self, repo_type: str, repo_id: str) -> Repo:
        if (repo_type, repo_id) not in self.repos:
            raise HubError(404, "Repository not found", "RepoNotFound")
        return self.repos[(repo_type, repo_id)]

    def _branch(self, repo: Repo, rev: str) -> str:
        if rev not in repo.branches:
            raise HubError(404, f"Invalid rev id: {rev}", "RevisionNotFound")
        return rev

    # --- endpoints ---------------------------------------------------------------------------------

    def _create_repo(self, payload: dict):
        repo_type = payload.get("type") or "model"
        repo_id = (
            f"{payload['organization']}/{payload['name']}" if payload.get("organization") else payload["name"]
        )
        url = f"{self.endpoint}/{URL_PREFIX[repo_type]}{repo_id}"
        if (repo_type, repo_id) in self.repos:
            raise HubError(409, f"You already created this {repo_type} repo")
        repo = Repo(repo_type, repo_id, private=payload.get("visibility") == "private")
        first = Commit(
            _oid("initial commit", repo_id),
            "initial commit",
            "",
            {".gitattributes": GITATTRIBUTES},
            added=[".gitattributes"],
        )
        repo.branches["main"] = [first]
        self.repos[(repo_type, repo_id)] = repo
        return 200, {"url": url, "name": repo_id}

    def _create_branch(self, repo: Repo, branch: str, payload: dict):
        if branch in repo.branches:
            raise HubError(409, "Reference already exists")
        start = payload.get("startingPoint") or "main"
        repo.branches[branch] = [repo.head(self._branch(repo, start))]
        return 200, {}

    def _validate_yaml(self, payload: dict):
        content = payload.get("content", "")
        m = re.match(r"^---\s*\n(.*?)\n---\s*(\n|$)", content, re.S)
        try:
            if m and not isinstance(yaml.safe_load(m.group(1)) or {}, dict):
                raise yaml.YAMLError("metadata is not a mapping")
        except yaml.YAMLError as e:
            raise HubError(400, f"Invalid YAML in README.md: {str(e).splitlines()[0]}") from None
        return 200, {"errors": [], "warnings": []}

    def _preupload(self, repo: Repo, branch: str, payload: dict):
        head = repo.head(branch)
        files = []
        for f in payload["files"]:
            lfs = repo.is_lfs(branch, f["path"], f["size"], base64.b64decode(f["sample"]))
            old = head.files.get(f["path"])
            oid = None if old is None else hashlib.sha256(old).hexdigest() if lfs else git_blob_oid(old)
            files.append(
                {
                    "path": f["path"],
                    "uploadMode": "lfs" if lfs else "regular",
                    "shouldIgnore": False,
                    "oid": oid,
                }
            )
        return 200, {"files": files, "commitOid": head.oid}

    def _lfs_batch(self, repo: Repo, payload: dict):
        if payload.get("operation") != "upload" or "basic" not in payload.get("transfers", ["basic"]):
            raise HubError(422, "only basic LFS uploads are implemented by the fake hub")
        objects = []
        for obj in payload["objects"]:
            entry = {"oid": obj["oid"], "size": obj["size"], "authenticated": True}
            if obj["oid"] not in repo.lfs:  # no "actions": already stored upstream, nothing to send
                signature = repo.pending.setdefault(obj["oid"], secrets.token_hex(16))
                entry["actions"] = {
                    "upload": {
                        "href": f"{self.endpoint}/lfs-upload/{obj['oid']}?signature={signature}",
                        "header": {},
                    },
                    "verify": {"href": f"{self.endpoint}/lfs-verify/{obj['oid']}", "header": {}},
                }
            objects.append(entry)
        return 200, {"transfer": "basic", "objects": objects, "hash_algo": "sha256"}

    def _lfs_put(self, oid: str, signature: str, body: bytes):
        waiting = [repo for repo in self.repos.values() if signature and repo.pending.get(oid) == signature]
        if not waiting:
            raise HubError(403, f"no LFS batch signed an upload of object {oid} with this signature")
        if hashlib.sha256(body).hexdigest() != oid:
            raise HubError(400, f"uploaded content does not match oid {oid}")
        for repo in waiting:
            repo.lfs[oid] = body
            del repo.pending[oid]
        return 200, {}

    def _lfs_verify(self, payload: dict):
        found = [r.lfs[payload["oid"]] for r in self.repos.values() if payload["oid"] in r.lfs]
        if not found or len(found[0]) != payload["size"]:
            raise HubError(404, f"LFS object {payload['oid']} not found or of another size")
        return 200, {}

    def _commit(self, repo: Repo, branch: str, body: bytes):
        lines = [json.loads(line) for line in body.decode().splitlines() if line.strip()]
        if not lines or lines[0].get("key") != "header":
            raise HubError(400, "the commit payload must start with a header line")
        header = lines[0]["value"]
        parent = repo.head(branch)
        files = dict(parent.files)
        lfs_paths, added = set(), []
        for line in lines[1:]:
            value = line["value"]
            if line["key"] == "file":
                files[value["path"]] = base64.b64decode(value["content"])
            elif line["key"] == "lfsFile":
                if value["oid"] not in repo.lfs:
                    raise HubError(400, f"LFS file {value['path']}: object {value['oid']} was never uploaded")
                files[value["path"]] = repo.lfs[value["oid"]]
                lfs_paths.add(value["path"])
            elif line["key"] == "deletedFile":
                files.pop(value["path"], None)
            else:
                raise HubError(400, f"the fake hub does not implement commit operation {line['key']!r}")
            added.append(value["path"])
        oid = _oid(
            parent.oid,
            header["summary"],
            *sorted(f"{p}:{hashlib.sha256(c).hexdigest()}" for p, c in files.items()),
        )
        repo.branches[branch].append(
            Commit(oid, header["summary"], header.get("description", ""), files, lfs_paths, added)
        )
        url = f"{self.endpoint}/{URL_PREFIX[repo.repo_type]}{repo.repo_id}/commit/{oid}"
        return 200, {"success": True, "commitOid": oid, "commitUrl": url, "pullRequestUrl": None}


def _oid(*parts: str) -> str:
    return hashlib.sha1("\n".join(parts).encode()).hexdigest()


def _read_body(h: BaseHTTPRequestHandler) -> bytes:
    if h.headers.get("Transfer-Encoding", "").lower() == "chunked":
        chunks = []
        while True:
            size = int(h.rfile.readline().split(b";")[0].strip(), 16)
            if size == 0:
                while h.rfile.readline() not in (b"\r\n", b"\n", b""):  # trailers
                    pass
                return b"".join(chunks)
            chunks.append(h.rfile.read(size))
            h.rfile.readline()
    return h.rfile.read(int(h.headers.get("Content-Length") or 0))


def _send_json(h: BaseHTTPRequestHandler, payload) -> None:
    data = json.dumps(payload).encode()
    h.send_header("Content-Type", "application/json")
    h.send_header("Content-Length", str(len(data)))
    h.end_headers()
    h.wfile.write(data)
