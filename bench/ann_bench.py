#!/usr/bin/env python3
"""rivus HNSW (rivus-index, engine level) against hnswlib and faiss on the same data.

Each library builds an HNSW graph with M=16, efConstruction=200 with 1 and 2 threads (build
time, wall and process CPU), then answers the queries at ef 16..256 with 1 and 2 threads
(recall@10 against the exact ground truth, queries/s) over the graph built with 1 thread.
Search rounds alternate between the libraries (--rounds, default 3) and every cell keeps
its best round; within a round each figure is the best of five passes of >= 0.3 s. Batch
calls, no per-query Python. One-thread figures also come as queries per second of the
searching thread's CPU time, which other processes on a shared machine cannot inflate.
rivus runs as `crates/rivus-index/examples/ann_bench.rs` (release build).

    python3 -m venv /tmp/bench-venv
    /tmp/bench-venv/bin/pip install hnswlib faiss-cpu numpy
    /tmp/bench-venv/bin/python bench/ann_bench.py                 # both data sets
    /tmp/bench-venv/bin/python bench/ann_bench.py --datasets synth --libs rivus,hnswlib

Data sets: ``real`` = bench/data/wordnet_minilm_{base,queries,gt}.npy (116,659 x 384, unit
vectors; rivus uses COSINE, hnswlib "cosine", faiss inner product), ``synth`` = the
200,000 x 128 gaussian mixture of ../shared/bench/common.py (L2, ground truth cached in
$RIVUS_BENCH_CACHE).
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO.parent / "shared" / "bench"))
import common  # noqa: E402

M = 16
EF_CONSTRUCTION = 200
K = 10
TARGET_DIR = os.environ.get("CARGO_TARGET_DIR", "/tmp/target-hnsw")


def dataset_files(name, rows=None):
    """(base, queries, gt) .npy paths and the metric for a data set; with `rows`, a smaller
    copy (the first rows, exact ground truth recomputed) for trying the harness out."""
    if rows:
        base_f, queries_f, _, metric = dataset_files(name)
        base = np.ascontiguousarray(np.load(base_f, mmap_mode="r")[:rows])
        queries = np.load(queries_f)
        d = Path(tempfile.mkdtemp(prefix="ann-bench-"))
        np.save(d / "base.npy", base)
        np.save(d / "queries.npy", queries)
        np.save(d / "gt.npy", common.exact_knn(base, queries, k=100, metric=metric))
        return d / "base.npy", d / "queries.npy", d / "gt.npy", metric
    if name == "real":
        d = REPO / "bench" / "data"
        return (d / "wordnet_minilm_base.npy", d / "wordnet_minilm_queries.npy",
                d / "wordnet_minilm_gt.npy", "COSINE")
    if name == "synth":
        common.synth_dataset(n=200_000, d=128)  # generates and caches on first use
        c = common.CACHE_DIR / "synth_n200000_d128_q1000_k100_v1"
        return c / "base.npy", c / "queries.npy", c / "gt.npy", "L2"
    raise SystemExit(f"unknown data set {name!r}")


def recall(found, gt):
    return common.recall_at_k(found, gt, k=K)


def time_passes(f, nq):
    """Best of 5 passes of >= 0.3 s (the query set repeated as needed): queries per
    wall-clock second and per second of this thread's CPU time (meaningful when the library
    searches on the calling thread, i.e. with one thread). Best-of because the machine is
    shared: an interrupted pass is slower, never faster."""
    t = time.perf_counter()
    out = f()
    repeat = max(1, int(0.3 / max(time.perf_counter() - t, 1e-6)) + 1)
    wall = cpu = float("inf")
    for _ in range(5):
        t, c = time.perf_counter(), time.thread_time()
        for _ in range(repeat):
            out = f()
        wall = min(wall, (time.perf_counter() - t) / repeat)
        cpu = min(cpu, (time.thread_time() - c) / repeat)
    return out, nq / wall, nq / max(cpu, 1e-9)


class Hnswlib:
    name = "hnswlib"

    def __init__(self, base, queries, gt, metric, threads):
        import hnswlib
        space = "l2" if metric == "L2" else "cosine"
        self.queries, self.gt, self.builds, self.graph = queries, gt, [], None
        for t in threads:
            idx = hnswlib.Index(space=space, dim=base.shape[1])
            idx.init_index(max_elements=base.shape[0], M=M, ef_construction=EF_CONSTRUCTION,
                           random_seed=100)
            start, cpu = time.perf_counter(), time.process_time()
            idx.add_items(base, np.arange(base.shape[0]), num_threads=t)
            self.builds.append((t, time.perf_counter() - start, time.process_time() - cpu))
            log(self.name, f"build with {t} thread(s): {self.builds[-1][1]:.2f} s "
                f"({self.builds[-1][2]:.2f} s CPU)")
            if self.graph is None:
                self.graph = idx

    def search(self, threads, efs):
        rows = []
        for ef in efs:
            self.graph.set_ef(ef)
            for t in threads:
                (labels, _), qps, cpu_qps = time_passes(
                    lambda: self.graph.knn_query(self.queries, k=K, num_threads=t),
                    len(self.queries))
                rows.append((ef, t, recall(labels, self.gt), qps, cpu_qps if t == 1 else None))
        return rows


class Faiss:
    name = "faiss"

    def __init__(self, base, queries, gt, metric, threads):
        import faiss
        self.faiss = faiss
        kind = faiss.METRIC_L2 if metric == "L2" else faiss.METRIC_INNER_PRODUCT
        self.queries, self.gt, self.builds, self.graph = queries, gt, [], None
        for t in threads:
            faiss.omp_set_num_threads(t)
            idx = faiss.IndexHNSWFlat(base.shape[1], M, kind)
            idx.hnsw.efConstruction = EF_CONSTRUCTION
            start, cpu = time.perf_counter(), time.process_time()
            idx.add(base)
            self.builds.append((t, time.perf_counter() - start, time.process_time() - cpu))
            log(self.name, f"build with {t} thread(s): {self.builds[-1][1]:.2f} s "
                f"({self.builds[-1][2]:.2f} s CPU)")
            if self.graph is None:
                self.graph = idx

    def search(self, threads, efs):
        rows = []
        for ef in efs:
            self.graph.hnsw.efSearch = ef
            for t in threads:
                self.faiss.omp_set_num_threads(t)
                (_, labels), qps, cpu_qps = time_passes(
                    lambda: self.graph.search(self.queries, K), len(self.queries))
                rows.append((ef, t, recall(labels, self.gt), qps, cpu_qps if t == 1 else None))
        return rows


class Rivus:
    """The example binary: the first run builds (and saves the graph built with the first
    thread count), later runs load that graph and only search."""
    name = "rivus"

    def __init__(self, files, metric, threads):
        subprocess.run(["cargo", "build", "--release", "-q", "-p", "rivus-index", "--example",
                        "ann_bench"], cwd=REPO, check=True,
                       env={**os.environ, "CARGO_TARGET_DIR": TARGET_DIR})
        self.exe = Path(TARGET_DIR) / "release" / "examples" / "ann_bench"
        self.files, self.metric = files, metric
        self.graph = Path(tempfile.gettempdir()) / f"rivus-ann-bench-{os.getpid()}.graph"
        self.graph.unlink(missing_ok=True)
        result = self.run(threads, [])
        self.builds = [(b["threads"], b["seconds"], b["cpu_seconds"]) for b in result["builds"]]
        for t, secs, cpu in self.builds:
            log(self.name, f"build with {t} thread(s): {secs:.2f} s ({cpu:.2f} s CPU)")

    def run(self, threads, efs):
        base, queries, gt = self.files
        with tempfile.NamedTemporaryFile(suffix=".json") as out:
            subprocess.run([str(self.exe), "--base", str(base), "--queries", str(queries),
                            "--gt", str(gt), "--metric", self.metric, "--m", str(M),
                            "--ef-construction", str(EF_CONSTRUCTION),
                            "--threads", ",".join(map(str, threads)),
                            "--ef", ",".join(map(str, efs)), "--k", str(K),
                            "--graph", str(self.graph), "--json", out.name],
                           check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            return json.load(open(out.name))

    def search(self, threads, efs):
        return [(r["ef"], r["threads"], r["recall"], r["qps"], r["cpu_qps"])
                for r in self.run(threads, efs)["search"]]

    def close(self):
        self.graph.unlink(missing_ok=True)


def log(lib, text):
    print(f"[{lib}] {text}", flush=True)


def best_rows(rounds):
    """Per (ef, threads): the best q/s (and best CPU q/s) over the rounds."""
    best = {}
    for rows in rounds:
        for ef, t, rc, qps, cpu in rows:
            old = best.get((ef, t))
            if old is None:
                best[(ef, t)] = (ef, t, rc, qps, cpu)
            else:
                best[(ef, t)] = (ef, t, rc, max(qps, old[3]),
                                 max(cpu, old[4]) if cpu is not None else None)
    return list(best.values())


def table(name, shape, results, threads, efs):
    """Markdown tables: build times, then recall@10 and queries/s per ef and thread count.
    One-thread rows give wall-clock q/s and, in parentheses, q/s of the searching thread's
    CPU time."""
    libs = list(results)
    print(f"\n### {name}: {shape[0]:,} x {shape[1]}, M={M}, efConstruction={EF_CONSTRUCTION}\n")
    print("| build | " + " | ".join(libs) + " |")
    print("|---|" + "---|" * len(libs))
    for t in threads:
        cells = []
        for lib in libs:
            secs, cpu = {b[0]: b[1:] for b in results[lib][0]}[t]
            cells.append(f"{secs:.1f} s" + (f" ({cpu:.1f} s CPU)" if t == 1 else ""))
        print(f"| {t} thread{'s' if t > 1 else ''} | " + " | ".join(cells) + " |")
    print()
    print("| ef | threads | " + " | ".join(f"{lib} recall@{K} | {lib} q/s" for lib in libs) + " |")
    print("|---|---|" + "---|---|" * len(libs))
    for ef in efs:
        for t in threads:
            cells = []
            for lib in libs:
                r = {(row[0], row[1]): row[2:] for row in results[lib][1]}[(ef, t)]
                rc, qps, cpu_qps = r
                q = f"{qps:,.0f}" + (f" ({cpu_qps:,.0f})" if cpu_qps else "")
                cells.append(f"{rc:.4f} | {q}")
            print(f"| {ef} | {t} | " + " | ".join(cells) + " |")
    print()
    for lib in libs:
        ok = sorted((row for row in results[lib][1] if row[1] == 1 and row[2] >= 0.95),
                    key=lambda row: row[0])
        if ok:
            ef, _, rc, qps, cpu = ok[0]
            print(f"- {lib}: recall@{K} >= 0.95 from ef={ef} ({rc:.4f}): {qps:,.0f} q/s on 1 thread"
                  + (f" ({cpu:,.0f} per CPU second)" if cpu else ""))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--datasets", default="real,synth")
    ap.add_argument("--libs", default="rivus,hnswlib,faiss")
    ap.add_argument("--threads", default="1,2")
    ap.add_argument("--ef", default="16,32,64,128,256")
    ap.add_argument("--rounds", type=int, default=3, help="search rounds per library")
    ap.add_argument("--rows", type=int, help="only the first ROWS base vectors (a quick try)")
    args = ap.parse_args()
    threads = [int(t) for t in args.threads.split(",")]
    efs = [int(e) for e in args.ef.split(",")]
    print(f"# {common.hw_note()}", flush=True)
    for name in args.datasets.split(","):
        base_f, queries_f, gt_f, metric = dataset_files(name, args.rows)
        base = np.ascontiguousarray(np.load(base_f), dtype=np.float32)
        queries = np.ascontiguousarray(np.load(queries_f), dtype=np.float32)
        gt = np.load(gt_f)
        libs = []
        for lib in args.libs.split(","):
            if lib == "rivus":
                libs.append(Rivus((base_f, queries_f, gt_f), metric, threads))
            elif lib == "hnswlib":
                libs.append(Hnswlib(base, queries, gt, metric, threads))
            elif lib == "faiss":
                libs.append(Faiss(base, queries, gt, metric, threads))
            else:
                raise SystemExit(f"unknown library {lib!r}")
        # Search rounds alternate between the libraries, so a busy spell on the shared
        # machine hits all of them; each cell keeps its best round.
        rounds = {lib.name: [] for lib in libs}
        for r in range(args.rounds):
            for lib in libs:
                rows = lib.search(threads, efs)
                rounds[lib.name].append(rows)
                log(lib.name, f"round {r + 1}: " + ", ".join(
                    f"ef={ef}/t={t} {rc:.4f} {qps:,.0f} q/s" for ef, t, rc, qps, _ in rows))
        results = {lib.name: (lib.builds, best_rows(rounds[lib.name])) for lib in libs}
        for lib in libs:
            if isinstance(lib, Rivus):
                lib.close()
        table(f"{name} ({metric})", base.shape, results, threads, efs)


if __name__ == "__main__":
    main()
