"""A tiny local stand-in for the Hugging Face Hub, enough for `hf_hub_download` (huggingface_hub 2.x).

Protocol (from huggingface_hub/file_download.py `get_hf_file_metadata` / `_get_metadata_or_catch_error`):
`HEAD /{repo_id}/resolve/{revision}/{filename}` must answer `X-Repo-Commit` (the commit the revision points to),
an `ETag` (or `X-Linked-Etag`, which names the cached blob) and the size; the `GET` on the same url streams the
bytes. Missing things are 404s whose `X-Error-Code` (`RepoNotFound`, `RevisionNotFound`, `EntryNotFound`) lets
`hf_raise_for_status` raise the matching error. No redirects and no Xet headers: files are served directly.
`GET /api/models/{repo_id}/revision/{revision}` answers `HfApi.model_info`; there is no `/tree` listing, so
`snapshot_download` is not supported.
"""
from __future__ import annotations

import hashlib
import json
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import unquote, urlsplit

RESOLVE = re.compile(r"^/(?P<repo>[^/]+/[^/]+)/resolve/(?P<rev>[^/]+)/(?P<file>.+)$")
MODEL_INFO = re.compile(r"^/api/models/(?P<repo>[^/]+/[^/]+)/revision/(?P<rev>[^/]+)$")


@dataclass
class HubServer:
    url: str  # the endpoint, for HF_ENDPOINT
    requests: list[tuple[str, str]] = field(default_factory=list)  # (method, path), in arrival order

    def requested(self, filename: str, method: str = "GET") -> bool:
        return any(m == method and p.endswith(f"/{filename}") for m, p in self.requests)


def _commit(repo: str, folder: Path) -> str:
    # A stable 40-hex "commit sha" that changes when the files do, like a real one.
    h = hashlib.sha1(repo.encode())
    for f in sorted(folder.iterdir()):
        if f.is_file():
            h.update(f.name.encode() + hashlib.sha256(f.read_bytes()).digest())
    return h.hexdigest()


def _handler(repos: dict[str, Path], revision: str, log: list[tuple[str, str]]) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: object) -> None:  # keep pytest output clean
            pass

        def _send(self, status: int, headers: dict[str, str], body: bytes = b"") -> None:
            self.send_response(status)
            for k, v in {**headers, "Content-Length": str(len(body))}.items():
                self.send_header(k, v)
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(body)

        def _error(self, code: str, commit: str | None = None) -> None:
            headers = {"X-Error-Code": code, "X-Error-Message": code, "Content-Type": "application/json"}
            if commit:  # the Hub sends it on EntryNotFound; the client caches the miss under .no_exist/<commit>
                headers["X-Repo-Commit"] = commit
            self._send(404, headers, json.dumps({"error": code}).encode())

        def _repo(self, repo: str, rev: str) -> tuple[Path, str] | None:
            """The repo's folder and commit, or None after answering the 404."""
            if repo not in repos:
                self._error("RepoNotFound")
                return None
            commit = _commit(repo, repos[repo])
            if rev not in (revision, commit):
                self._error("RevisionNotFound")
                return None
            return repos[repo], commit

        def do_HEAD(self) -> None:
            self.do_GET()

        def do_GET(self) -> None:
            path = urlsplit(self.path).path
            log.append((self.command, unquote(path)))
            if m := RESOLVE.match(path):
                if found := self._repo(unquote(m["repo"]), unquote(m["rev"])):
                    folder, commit = found
                    file = folder / unquote(m["file"])
                    if not file.is_file() or folder.resolve() not in file.resolve().parents:
                        return self._error("EntryNotFound", commit)
                    data = file.read_bytes()
                    etag = f'"{hashlib.sha256(data).hexdigest()}"'  # an LFS file's etag is its sha256
                    self._send(200, {"X-Repo-Commit": commit, "ETag": etag, "X-Linked-Etag": etag,
                                     "X-Linked-Size": str(len(data)), "Content-Type": "application/octet-stream"},
                               data)
            elif m := MODEL_INFO.match(path):
                if found := self._repo(unquote(m["repo"]), unquote(m["rev"])):
                    folder, commit = found
                    files = sorted(f.name for f in folder.iterdir() if f.is_file())
                    info = {"id": unquote(m["repo"]), "sha": commit, "siblings": [{"rfilename": f} for f in files]}
                    self._send(200, {"Content-Type": "application/json"}, json.dumps(info).encode())
            else:
                self._send(404, {"Content-Type": "text/plain"}, b"not found")

    return Handler


@contextmanager
def serve(repos: dict[str, Path], revision: str = "v1") -> Iterator[HubServer]:
    """Serve `{repo_id: folder}` at `revision` on 127.0.0.1 (a free port) until the block ends."""
    log: list[tuple[str, str]] = []
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _handler(repos, revision, log))
    httpd.daemon_threads = True
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield HubServer(f"http://127.0.0.1:{httpd.server_address[1]}", log)
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join()
