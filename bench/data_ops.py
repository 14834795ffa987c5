#!/usr/bin/env python3
"""The data plane through pymilvus: rivus against Milvus Lite, in the same run.

For each server (fresh data directory each):
  * insert N rows (id INT64 pk, vec FLOAT_VECTOR 128-d, n INT64, s VARCHAR(64)) in batches of
    1,000 and of 10,000 (one collection each), and the 116,659 x 384 text-embedding set
    (`../shared/bench/gen_real.py`, in `bench/data/` or $RIVUS_BENCH_DATA) the same way;
    every batch is also encoded by pymilvus without being sent (the request MilvusClient.insert
    builds: `GrpcHandler._prepare_row_insert_request` -> `Prepare.row_insert_param`, then
    `SerializeToString`, which gRPC does on send), right before it is inserted, so
    insert time / encode time says how much the server adds to the client's own cost;
  * queries on the N-row collection, median of --runs: a range filter on `n` (100 rows), a
    prefix LIKE on `s`, count(*) with and without a filter, get() of 10 and 100 primary keys;
  * drops every other collection, stops the server and starts it again on the same data:
    seconds from process start to the first answered query that reads the rows (the restart
    bar is about the first *search*; rivus has no Search yet, so a query that reads every
    row's `n` and returns one row's vector stands in for it);
  * optionally (`--rust-rows`, default N) the server alone: the Rust client
    `crates/rivus-server/examples/insert_load.rs` sends pre-encoded InsertRequests over 1 and
    4 connections.

Prints markdown tables with ratios (rivus / Lite for throughput, Lite / rivus for times).

Usage (from the repository root):
    cargo build --release --bin rivus && cargo build --release -p rivus-server --example insert_load
    /tmp/bench-venv/bin/python bench/data_ops.py [--rows 1000000] [--servers rivus,lite]
"""

import argparse
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import logging

import numpy as np
from pymilvus import DataType, MilvusClient

ROOT = Path(__file__).resolve().parents[1]
RIVUS_BIN = os.environ.get("RIVUS_BIN", str(ROOT / "target" / "release" / "rivus"))
LOAD_BIN = os.environ.get("INSERT_LOAD_BIN", str(ROOT / "target" / "release" / "examples" / "insert_load"))
DATA_DIR = Path(os.environ.get("RIVUS_BENCH_DATA", ROOT / "bench" / "data"))
REAL_COUNT = 116_659


def log(*a):
    print(*a, file=sys.stderr, flush=True)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port, proc, timeout=120.0):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.002)
    raise RuntimeError("server did not start")


def rss_mb(proc):
    try:
        with open(f"/proc/{proc.pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return float("nan")


class Server:
    def __init__(self, kind, data_dir, log_path):
        self.kind, self.data_dir, self.log_path = kind, data_dir, log_path
        self.proc = None
        self.port = None
        self.loaded_after_restart = False

    def cmd(self):
        if self.kind == "rivus":
            return [RIVUS_BIN, "serve", "--data-dir", self.data_dir, "--port", str(self.port)]
        lite = shutil.which("milvus-lite") or str(Path(sys.executable).parent / "milvus-lite")
        return [lite, "server", "--data-dir", self.data_dir, "--port", str(self.port)]

    def start(self):
        """Starts the process; returns (t0, client) once the port accepts connections."""
        self.port = free_port()
        logf = open(self.log_path, "ab")
        t0 = time.perf_counter()
        self.proc = subprocess.Popen(self.cmd(), stdout=logf, stderr=logf)
        wait_port(self.port, self.proc)
        return t0, MilvusClient(uri=f"http://127.0.0.1:{self.port}", timeout=3600)

    def stop(self):
        t0 = time.perf_counter()
        self.proc.terminate()
        self.proc.wait(600)
        return time.perf_counter() - t0


# ------------------------------------------------------------------ data

def synth(n, dim, seed):
    rng = np.random.default_rng(seed)
    vec = rng.random((n, dim), dtype=np.float32) - np.float32(0.5)
    return vec


def scalars(n, seed):
    rng = np.random.default_rng(seed)
    ns = rng.permutation(n).astype(np.int64)
    letters = (rng.integers(0, 26, (n, 10), dtype=np.uint8) + ord("a")).view("S10").ravel()
    ss = [b.decode() for b in letters]
    return ns, ss


def real_set():
    path = DATA_DIR / "wordnet_minilm_base.npy"
    if path.exists():
        return np.load(path, mmap_mode="r"), "WordNet MiniLM text embeddings (gen_real.py)"
    rng = np.random.default_rng(7)
    v = rng.standard_normal((REAL_COUNT, 384), dtype=np.float32)
    v /= np.linalg.norm(v, axis=1, keepdims=True)
    return v, "random unit vectors (gen_real.py output missing)"


def rows_of(vec, ns, ss, start, end):
    return [
        {"id": i, "vec": vec[i], "n": int(ns[i]), "s": ss[i]}
        for i in range(start, end)
    ]


# ---------------------------------------------------------------- phases

def create(client, name, dim, metric):
    schema = MilvusClient.create_schema(auto_id=False, enable_dynamic_field=False)
    schema.add_field("id", DataType.INT64, is_primary=True)
    schema.add_field("vec", DataType.FLOAT_VECTOR, dim=dim)
    schema.add_field("n", DataType.INT64)
    schema.add_field("s", DataType.VARCHAR, max_length=64)
    idx = client.prepare_index_params()
    idx.add_index(field_name="vec", index_type="FLAT", metric_type=metric)
    if client.has_collection(name):
        client.drop_collection(name)
    client.create_collection(name, schema=schema, index_params=idx)


def insert_all(client, name, vec, ns, ss, batch, deadline):
    """Inserts every row in batches; each batch is first encoded without sending (timed
    apart). Returns (rows inserted, insert seconds, encode seconds)."""
    conn = client._get_connection()
    n = vec.shape[0]
    t_ins = t_enc = 0.0
    done = 0
    for start in range(0, n, batch):
        rows = rows_of(vec, ns, ss, start, min(n, start + batch))
        t0 = time.perf_counter()
        conn._prepare_row_insert_request(name, rows).SerializeToString()
        t1 = time.perf_counter()
        client.insert(name, rows)
        t2 = time.perf_counter()
        t_enc += t1 - t0
        t_ins += t2 - t1
        done += len(rows)
        if time.time() > deadline:
            log(f"  phase timeout after {done} rows")
            break
    return done, t_ins, t_enc


def median_ms(fn, runs, budget_s=60.0):
    fn(0)  # warm-up
    times = []
    t_start = time.perf_counter()
    for i in range(1, runs + 1):
        t0 = time.perf_counter()
        fn(i)
        times.append(time.perf_counter() - t0)
        if time.perf_counter() - t_start > budget_s and len(times) >= 3:
            break
    return statistics.median(times) * 1000, len(times)


def queries(client, name, n, runs):
    rng = np.random.default_rng(3)
    xs = rng.integers(0, max(1, n - 200), runs + 1)
    prefixes = ["".join(chr(97 + c) for c in rng.integers(0, 26, 3)) for _ in range(runs + 1)]
    halves = rng.integers(n // 4, 3 * n // 4 + 1, runs + 1)
    ids10 = [rng.integers(0, n, 10).tolist() for _ in range(runs + 1)]
    ids100 = [rng.integers(0, n, 100).tolist() for _ in range(runs + 1)]
    out = {}
    checks = {}

    def q_range(i):
        r = client.query(name, filter=f"n > {xs[i]} and n < {xs[i] + 101}",
                         output_fields=["id", "n", "s"], limit=100)
        checks.setdefault("range", len(r))

    def q_like(i):
        r = client.query(name, filter=f's like "{prefixes[i]}%"', output_fields=["id", "s"], limit=100)
        checks.setdefault("like", len(r))

    def q_count(i):
        r = client.query(name, filter="", output_fields=["count(*)"])
        checks.setdefault("count", r[0]["count(*)"])

    def q_count_f(i):
        r = client.query(name, filter=f"n < {halves[i]}", output_fields=["count(*)"])
        checks.setdefault("count_f", (r[0]["count(*)"], int(halves[i])))

    def q_get10(i):
        r = client.get(name, ids=ids10[i])
        checks.setdefault("get10", len(r))

    def q_get100(i):
        r = client.get(name, ids=ids100[i])
        checks.setdefault("get100", len(r))

    for key, fn in [
        ("query `n > x and n < x+101` (100 rows)", q_range),
        ('query `s like "abc%"` (limit 100)', q_like),
        ("count(*)", q_count),
        ("count(*) `n < x` (~half)", q_count_f),
        ("get 10 ids (all fields)", q_get10),
        ("get 100 ids (all fields)", q_get100),
    ]:
        out[key] = median_ms(fn, runs)
        log(f"  {key}: {out[key][0]:.2f} ms ({out[key][1]} runs)")
    log(f"  result sizes (first run): {checks}")
    return out, checks


def first_query(server, name, probe, timeout=1800.0):
    """Restarts `server`; seconds from process start to the first query that answers. A
    server that forgets the load state across restarts (Milvus Lite answers code 101,
    "call load()") gets the load_collection() a client would send, inside the time."""
    t0, client = server.start()
    deadline = time.time() + timeout
    last = None
    while time.time() < deadline:
        try:
            r = client.query(name, filter=f"n == {probe}", output_fields=["id", "vec"], limit=1)
            if len(r) == 1:
                return time.perf_counter() - t0, client
            last = f"{len(r)} rows"
        except Exception as e:  # noqa: BLE001 - the server may still be loading
            last = e
            if getattr(e, "code", None) == 101 or "load()" in str(e) or "not loaded" in str(e):
                server.loaded_after_restart = True
                client.load_collection(name)
                continue
        time.sleep(0.005)
    raise RuntimeError(f"no answer after restart: {last}")


def run_rust(server, rows, dim, batch):
    if rows <= 0:
        return {}
    cmd = [LOAD_BIN, "--addr", f"127.0.0.1:{server.port}", "--rows", str(rows),
           "--batch", str(batch), "--dim", str(dim), "--streams", "1,4"]
    log("  " + " ".join(cmd))
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=3600)
    if p.returncode != 0:
        log(f"  insert_load failed: {p.stderr.strip()[-2000:]}")
        return {"error": p.stderr.strip().splitlines()[-1] if p.stderr.strip() else f"rc {p.returncode}"}
    out = {}
    for line in p.stdout.splitlines():
        if line.startswith("RESULT"):
            kv = dict(x.split("=") for x in line.split()[1:])
            out[int(kv["streams"])] = kv
    log("  " + "\n  ".join(l for l in p.stdout.splitlines() if l.startswith("RESULT")))
    return out


def run(kind, args, synth_data, real_data):
    data_dir = tempfile.mkdtemp(prefix=f"bench-data-{kind}-", dir=args.tmp)
    log_path = os.path.join(tempfile.gettempdir(), f"bench-data-{kind}.log")
    srv = Server(kind, data_dir, log_path)
    res = {"insert": {}, "rss": {}}
    log(f"== {kind} (data {data_dir}, log {log_path})")
    t0, c = srv.start()
    c.list_collections()
    res["startup_empty"] = time.perf_counter() - t0
    try:
        vec, ns, ss = synth_data
        rvec, rns, rstrs, _ = real_data
        sets = [("synth", vec, ns, ss, "L2"), ("real", rvec, rns, rstrs, "COSINE")]
        keep = f"synth_b{args.batches[0]}"
        for ds, v, n_, s_, metric in sets:
            if ds == "real" and args.skip_real:
                continue
            for b in args.batches:
                name = f"{ds}_b{b}"
                create(c, name, v.shape[1], metric)
                deadline = time.time() + args.phase_timeout
                done, t_ins, t_enc = insert_all(c, name, v, n_, s_, b, deadline)
                t1 = time.perf_counter()
                c.flush(name)
                t_flush = time.perf_counter() - t1
                res["insert"][(ds, b)] = dict(rows=done, ins=t_ins, enc=t_enc, flush=t_flush)
                log(f"  {name}: {done} rows, insert {done / t_ins:.0f} rows/s, "
                    f"encode-only {done / t_enc:.0f} rows/s, ratio {t_ins / t_enc:.2f}, "
                    f"flush {t_flush:.2f} s, RSS {rss_mb(srv.proc):.0f} MB")
                if name == keep:
                    res["rss"]["after first N rows"] = rss_mb(srv.proc)
        res["rss"]["after all inserts"] = rss_mb(srv.proc)
        n_keep = res["insert"][("synth", args.batches[0])]["rows"]
        res["queries"], res["checks"] = queries(c, keep, n_keep, args.runs)
        for ds, b in list(res["insert"]):
            if f"{ds}_b{b}" != keep:
                c.drop_collection(f"{ds}_b{b}")
        c.flush(keep)
        res["rss"]["before restart (1 collection)"] = rss_mb(srv.proc)
        c.close()
        res["shutdown"] = srv.stop()
        probe = int(ns[: n_keep][n_keep // 3]) if n_keep else 0
        res["restart"], c = first_query(srv, keep, probe)
        res["rss"]["after restart + first query"] = rss_mb(srv.proc)
        res["restart_rows"] = n_keep
        res["restart_load"] = srv.loaded_after_restart
        log(f"  restart to first query: {res['restart']:.3f} s ({n_keep} rows)")
        c.drop_collection(keep)
        res["rust"] = run_rust(srv, args.rust_rows, 128, 10_000)
    finally:
        try:
            c.close()
        except Exception:  # noqa: BLE001
            pass
        if srv.proc and srv.proc.poll() is None:
            srv.stop()
        shutil.rmtree(data_dir, ignore_errors=True)
    return res


def ratio(a, b):
    return a / b if a and b else float("nan")


def report(args, results, real_label):
    kinds = list(results)
    r, l = results.get("rivus"), results.get("lite")
    print(f"data plane through pymilvus {args.pymilvus}, rows={args.rows:,}, runs={args.runs}\n")
    print("Insert (rows/s; encode-only = pymilvus building and serializing the same requests "
          "without sending; x encode = insert time / encode time)\n")
    print("| data set | batch | rivus rows/s | Lite rows/s | rivus/Lite | encode-only rows/s | rivus x encode | Lite x encode |")
    print("|---|---|---|---|---|---|---|---|")
    for key in (r or l)["insert"]:
        ds, b = key
        label = f"{(r or l)['insert'][key]['rows']:,} x 128-d random" if ds == "synth" else \
            f"{(r or l)['insert'][key]['rows']:,} x 384-d {real_label}"
        cells = []
        for res in (r, l):
            if res and key in res["insert"]:
                x = res["insert"][key]
                cells.append((x["rows"] / x["ins"], x["ins"] / x["enc"], x["rows"] / x["enc"]))
            else:
                cells.append(None)
        rv = cells[0][0] if cells[0] else None
        lv = cells[1][0] if cells[1] else None
        enc = cells[0][2] if cells[0] else cells[1][2]
        print(f"| {label} | {b:,} | {rv or float('nan'):,.0f} | {lv or float('nan'):,.0f} | "
              f"{ratio(rv, lv):.1f}x | {enc:,.0f} | "
              f"{cells[0][1] if cells[0] else float('nan'):.2f} | {cells[1][1] if cells[1] else float('nan'):.2f} |")
    flush = {k: results[k]["insert"][("synth", args.batches[0])]["flush"] for k in kinds}
    print(f"\nflush after the {args.rows:,}-row insert: " +
          ", ".join(f"{k} {v:.2f} s" for k, v in flush.items()))

    print(f"\nQueries on the {args.rows:,}-row collection (median ms; ratio = Lite / rivus)\n")
    print("| query | rivus ms | Lite ms | ratio |")
    print("|---|---|---|---|")
    for key in (r or l)["queries"]:
        rv = r["queries"][key][0] if r else float("nan")
        lv = l["queries"][key][0] if l else float("nan")
        print(f"| {key} | {rv:.2f} | {lv:.2f} | {ratio(lv, rv):.1f}x |")

    print("\nStart-up and restart (s; ratio = Lite / rivus)\n")
    print("| | rivus | Lite | ratio |")
    print("|---|---|---|---|")
    for key, label in [("startup_empty", "start-up, empty, to first answer"),
                       ("shutdown", "shutdown (SIGTERM to exit)"),
                       ("restart", f"restart with {args.rows:,} rows to first query")]:
        rv = r[key] if r else float("nan")
        lv = l[key] if l else float("nan")
        print(f"| {label} | {rv:.3f} | {lv:.3f} | {ratio(lv, rv):.1f}x |")
    for k in kinds:
        if results[k].get("restart_load"):
            print(f"\n{k} forgets the load state across restarts: its restart time includes the "
                  "load_collection() the first query asked for.")

    print("\nServer RSS (MB)\n")
    print("| when | rivus | Lite |")
    print("|---|---|---|")
    for key in (r or l)["rss"]:
        print(f"| {key} | {r['rss'][key] if r else float('nan'):.0f} | {l['rss'][key] if l else float('nan'):.0f} |")

    if any(results[k].get("rust") for k in kinds):
        print(f"\nServer alone: Rust client (insert_load), pre-encoded InsertRequests of 10,000 rows, "
              f"{args.rust_rows:,} x 128-d per run (x encode = insert time / the client's encode time)\n")
        print("| server | connections | encode-only rows/s | insert rows/s | x encode | MB/s |")
        print("|---|---|---|---|---|---|")
        for k in kinds:
            rust = results[k].get("rust") or {}
            if "error" in rust:
                print(f"| {k} | - | - | failed: {rust['error'][:80]} | - | - |")
                continue
            for s, kv in sorted(rust.items()):
                print(f"| {k} | {s} | {float(kv['encode_rows_s']):,.0f} | {float(kv['insert_rows_s']):,.0f} | "
                      f"{float(kv['insert_over_encode']):.1f} | {float(kv['mb_s']):.0f} |")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--batches", default="1000,10000")
    ap.add_argument("--runs", type=int, default=20)
    ap.add_argument("--servers", default="rivus,lite")
    ap.add_argument("--skip-real", action="store_true")
    ap.add_argument("--rust-rows", type=int, default=None, help="rows per insert_load run (0: skip)")
    ap.add_argument("--phase-timeout", type=float, default=3600.0, help="seconds per insert phase")
    ap.add_argument("--tmp", default=None, help="parent of the data directories")
    args = ap.parse_args()
    args.batches = [int(b) for b in args.batches.split(",")]
    if args.rust_rows is None:
        args.rust_rows = args.rows
    if args.rust_rows and not os.path.exists(LOAD_BIN):
        sys.exit(f"{LOAD_BIN} missing: cargo build --release -p rivus-server --example insert_load")
    import pymilvus
    logging.getLogger("pymilvus").setLevel(logging.CRITICAL)  # expected 101s after restart
    args.pymilvus = pymilvus.__version__

    log("generating data ...")
    vec = synth(args.rows, 128, 1)
    ns, ss = scalars(args.rows, 2)
    rvec, real_label = real_set()
    rns, rstrs = scalars(rvec.shape[0], 5)
    results = {}
    for kind in args.servers.split(","):
        results[kind] = run(kind, args, (vec, ns, ss), (rvec, rns, rstrs, real_label))
    report(args, results, real_label)


if __name__ == "__main__":
    main()
