#!/usr/bin/env python
"""대용량 첨부 throughput through the web process on loopback (issue 14 §4): a file of --size
MiB (default 1024) uploaded in --chunk MiB PATCHes (each fsynced before its answer), finished
(the server re-reads it for the SHA-256), sent as a link to the sender itself, then downloaded
whole (FileResponse) and the second half by Range (the ranged generator). Each phase timed over
real HTTP with http.client; bytes checked by SHA-256. Ports from --port-base (own range).

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/mailroom_bench REDIS_URL=redis://… \
        .venv/bin/python bench/largefile.py --size 1024 --runs 3 --port-base 35000
"""

from __future__ import annotations

import argparse
import hashlib
import http.client
import itertools
import json
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
import bench.stack as benchstack
from bench.stack import Api, machine, start_stack

MIB = 1024 * 1024
ADDRESS, PASSWORD = "big@bench.test", "bench-password"


def make_file(path: Path, size: int) -> str:
    sha = hashlib.sha256()
    with path.open("wb") as fh:
        left = size
        while left:
            block = os.urandom(min(8 * MIB, left))
            sha.update(block)
            fh.write(block)
            left -= len(block)
    return sha.hexdigest()


def upload(port: int, token: str, path: Path, size: int, chunk: int) -> tuple[str, float]:
    api = Api(port)
    api.token = token
    status, body = api.call(
        "POST", "/api/v1/largefiles/uploads", {"filename": "bench.bin", "size": size}
    )
    assert status == 201, body
    upload_id = body["id"]  # type: ignore[index]
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    t0 = time.perf_counter()
    with path.open("rb") as fh:
        offset = 0
        while offset < size:
            data = fh.read(chunk)
            conn.request(
                "PATCH",
                f"/api/v1/largefiles/uploads/{upload_id}",
                body=data,
                headers={
                    "Authorization": f"Token {token}",
                    "Content-Type": "application/offset+octet-stream",
                    "Upload-Offset": str(offset),
                },
            )
            resp = conn.getresponse()
            answer = json.loads(resp.read())
            assert resp.status == 200, answer
            offset = answer["offset"]
    conn.close()
    return upload_id, time.perf_counter() - t0


def download(port: int, url: str, headers: dict[str, str]) -> tuple[int, str, float]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    sha = hashlib.sha256()
    size = 0
    t0 = time.perf_counter()
    conn.request("GET", url, headers=headers)
    resp = conn.getresponse()
    assert resp.status in (200, 206), resp.status
    while block := resp.read(MIB):
        sha.update(block)
        size += len(block)
    elapsed = time.perf_counter() - t0
    conn.close()
    return size, sha.hexdigest(), elapsed


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--size", type=int, default=1024, help="MiB")
    ap.add_argument("--chunk", type=int, default=8, help="MiB per PATCH (the webmail's)")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--port-base", type=int, default=35000)
    args = ap.parse_args()
    ports = itertools.count(args.port_base)
    benchstack.free_port = lambda: next(ports)  # stay inside our own port range
    size = args.size * MIB

    stack = start_stack(
        extra_env={
            "LARGE_FILE_MAX_BYTES": str(max(size, 2 * 1024 * MIB)),
            "LARGE_FILE_QUOTA_BYTES": "0",
            "LARGE_FILE_CHUNK_MAX_BYTES": str(max(args.chunk * MIB, 16 * MIB)),
        }
    )
    try:
        stack.manage("domain", "add", "bench.test")
        stack.manage("account", "add", ADDRESS, "--password-stdin", stdin=f"{PASSWORD}\n".encode())
        print(f"machine: {machine()}")
        print(
            f"file: {args.size} MiB, chunks of {args.chunk} MiB; web: gunicorn gthread, 2 workers"
        )
        src = stack.var / "bench-source.bin"
        digest = make_file(src, size)
        api = Api(stack.web_port)
        api.login(ADDRESS, PASSWORD)
        assert api.token is not None
        for run in range(1, args.runs + 1):
            upload_id, up = upload(stack.web_port, api.token, src, size, args.chunk * MIB)
            t0 = time.perf_counter()
            status, body = api.call(
                "POST", f"/api/v1/largefiles/uploads/{upload_id}/finish", {"sha256": digest}
            )
            finish = time.perf_counter() - t0
            assert status == 200, body
            status, sent = api.call(
                "POST",
                "/api/v1/messages/send",
                {
                    "to": [ADDRESS],
                    "subject": f"bench {run}",
                    "text": "x",
                    "large_files": [upload_id],
                },
            )
            assert status == 201, sent
            message = sent["message"]["id"]  # type: ignore[index]
            status, links = api.call("GET", f"/api/v1/messages/{message}/large-files")
            assert status == 200 and links, links
            url = links[0]["url"] + "/download"  # type: ignore[index]
            got, sha, down = download(stack.web_port, url, {})
            assert got == size and sha == digest
            half = size // 2
            got2, _, ranged = download(stack.web_port, url, {"Range": f"bytes={half}-"})
            assert got2 == size - half
            print(
                f"run {run}: upload {args.size / up:7.1f} MiB/s ({up:5.1f} s), finish (server "
                f"SHA-256) {finish:4.1f} s, download {args.size / down:7.1f} MiB/s "
                f"({down:5.1f} s), ranged half {(got2 / MIB) / ranged:7.1f} MiB/s"
            )
            api.call("DELETE", f"/api/v1/largefiles/{upload_id}")  # bytes go: disk stays flat
        print(f"load after: {os.getloadavg()[0]:.1f}")
    finally:
        stack.stop()
        import shutil

        shutil.rmtree(stack.var, ignore_errors=True)


if __name__ == "__main__":
    main()
