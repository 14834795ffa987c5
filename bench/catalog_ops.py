#!/usr/bin/env python3
"""Catalog operations through pymilvus: rivus against Milvus Lite, in the same run.

Measures the control plane issue 2 built: collection creation, alias create/alter/describe,
describe/has through an alias, list calls, drops, and server start-up time. Prints one table
with operations per second for each server and the ratio rivus / Milvus Lite.

Usage (from the repository root, after `cargo build --release`):
    python3 -m venv /tmp/bench-venv && /tmp/bench-venv/bin/pip install pymilvus==3.0.2 milvus-lite
    /tmp/bench-venv/bin/python bench/catalog_ops.py [--n 200]
"""

import argparse
import os
import re
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

from pymilvus import CollectionSchema, DataType, FieldSchema, MilvusClient

ROOT = Path(__file__).resolve().parents[1]
RIVUS_BIN = os.environ.get("RIVUS_BIN", str(ROOT / "target" / "release" / "rivus"))


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port, proc, timeout=60.0):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.005)
    raise RuntimeError("server did not start")


def start(kind, data_dir):
    port = free_port()
    if kind == "rivus":
        cmd = [RIVUS_BIN, "serve", "--data-dir", data_dir, "--port", str(port)]
    else:
        lite = shutil.which("milvus-lite") or str(Path(os.sys.executable).parent / "milvus-lite")
        cmd = [lite, "server", "--data-dir", data_dir, "--port", str(port)]
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_port(port, proc)
    client = MilvusClient(uri=f"http://127.0.0.1:{port}")
    client.list_collections()
    startup = time.perf_counter() - t0
    return proc, client, startup


def schema():
    return CollectionSchema([
        FieldSchema("id", DataType.INT64, is_primary=True),
        FieldSchema("vector", DataType.FLOAT_VECTOR, dim=8),
    ])


def timed(fn, n):
    t0 = time.perf_counter()
    for i in range(n):
        fn(i)
    return n / (time.perf_counter() - t0)


def run(kind, n):
    data_dir = tempfile.mkdtemp(prefix=f"bench-{kind}-")
    proc, c, startup = start(kind, data_dir)
    rows = {"start-up to first answer (s)": startup}
    try:
        s = schema()
        rows["create_collection (full schema)"] = timed(lambda i: c.create_collection(f"c{i}", schema=s), n)
        rows["create_alias"] = timed(lambda i: c.create_alias(f"c{i}", f"a{i}"), n)
        rows["alter_alias"] = timed(lambda i: c.alter_alias(f"c{(i + 1) % n}", f"a{i}"), n)
        rows["describe_alias"] = timed(lambda i: c.describe_alias(f"a{i}"), n)
        rows["describe_collection(alias)"] = timed(lambda i: c.describe_collection(f"a{i}"), n)
        rows["has_collection(alias)"] = timed(lambda i: c.has_collection(f"a{i}"), n)
        rows["list_aliases"] = timed(lambda i: c.list_aliases(), n)
        rows["list_collections"] = timed(lambda i: c.list_collections(), n)
        rows["drop_alias"] = timed(lambda i: c.drop_alias(f"a{i}"), n)
        rows["drop_collection"] = timed(lambda i: c.drop_collection(f"c{i}"), n)
    finally:
        c.close()
        proc.terminate()
        proc.wait(30)
        shutil.rmtree(data_dir, ignore_errors=True)
    return rows


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=200)
    args = ap.parse_args()
    rivus = run("rivus", args.n)
    lite = run("milvus-lite", args.n)
    print(f"catalog operations through pymilvus, n={args.n} each (ops/s; higher is better)\n")
    print(f"| {'operation':34} | {'rivus':>10} | {'Milvus Lite':>11} | {'ratio':>7} |")
    print(f"|{'-' * 36}|{'-' * 12}|{'-' * 13}|{'-' * 9}|")
    for key in rivus:
        r, l = rivus[key], lite[key]
        if key.startswith("start-up"):
            print(f"| {key:34} | {r:10.3f} | {l:11.3f} | {l / r:6.1f}x |")
        else:
            print(f"| {key:34} | {r:10.0f} | {l:11.0f} | {r / l:6.1f}x |")


if __name__ == "__main__":
    main()
