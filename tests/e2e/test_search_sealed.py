"""Search over sealed segments: after a flush every index type is actually built (describe_index
reaches Finished with every row indexed) and searched through its structure, with filters, deletes,
rows still in memory next to sealed ones, and a restart in between. Checked against a numpy
oracle: exact where the index is exact (full probe, sparse inverted index), recall floors
otherwise."""

import numpy as np
import pytest
from pymilvus import DataType, MilvusClient

from search_helpers import (
    assert_exact_topk, binary_vectors, create, float_vectors, hit_ids, insert_batches,
    oracle, schema_with, scores, sparse_ip, sparse_vectors, wait_index,
)


def recall(got, want):
    """Mean recall over queries (each a list of ids)."""
    return sum(len(set(g) & set(w)) / max(len(w), 1) for g, w in zip(got, want)) / len(want)

DIM = 16
N = 3000


def sealed(client, index, metric, params, n=N, seed=11):
    schema = schema_with(client, ("n", DataType.INT64, {}),
                         ("vec", DataType.FLOAT_VECTOR, {"dim": DIM}))
    create(client, "s", schema, [("vec", index, metric, params)])
    X = float_vectors(n, DIM, seed)
    insert_batches(client, "s", [{"id": i, "n": i, "vec": X[i].tolist()} for i in range(n)])
    client.flush("s")
    desc = wait_index(client, "s", "vec", n)
    assert (desc["indexed_rows"], desc["pending_index_rows"], desc["state"]) == (n, 0, "Finished")
    return X


CASES = [
    # (index, params, search params, recall floor; 1.0 = exact)
    ("HNSW", {"M": 16, "efConstruction": 100}, {"ef": 200}, 0.97),
    ("IVF_FLAT", {"nlist": 16}, {"nprobe": 16}, 1.0),
    ("IVF_FLAT", {"nlist": 16}, {"nprobe": 4}, 0.6),
    ("IVF_SQ8", {"nlist": 16}, {"nprobe": 16}, 0.85),
    ("IVF_PQ", {"nlist": 16, "m": 8, "nbits": 8}, {"nprobe": 16}, 0.5),
    ("AUTOINDEX", None, {}, 0.9),
]


@pytest.mark.parametrize("metric", ["L2", "IP", "COSINE"])
@pytest.mark.parametrize("index,params,sp,floor", CASES,
                         ids=[f"{c[0]}-{c[2]}" for c in CASES])
def test_every_dense_index_on_sealed_rows(client, metric, index, params, sp, floor):
    X = sealed(client, index, metric, params)
    Q = float_vectors(20, DIM, seed=12)
    res = client.search("s", Q.tolist(), limit=10,
                        search_params={"metric_type": metric, "params": sp})
    got, want = [], []
    for q, hits in zip(Q, res):
        assert len(hits) == 10
        got.append(hit_ids(hits))
        want.append([i for i, _ in oracle(metric, X, q, range(len(X)), k=10)])
        if floor == 1.0 and index == "IVF_FLAT":
            s = {i: float(v) for i, v in enumerate(scores(metric, X, q))}
            assert_exact_topk(metric, hits, s, 10)
    assert recall(got, want) >= floor, (index, metric, recall(got, want))


@pytest.mark.parametrize("index,params,sp", [("HNSW", {"M": 16, "efConstruction": 100}, {"ef": 64}),
                                             ("IVF_FLAT", {"nlist": 16}, {"nprobe": 4})])
@pytest.mark.parametrize("selective", ["n % 100 == 7", "n % 10 < 3", "n < 5"])
def test_filtered_search_on_an_index_returns_limit_hits(client, index, params, sp, selective):
    X = sealed(client, index, "L2", params)
    mask = np.array([eval(selective.replace("n", str(i)).replace(" == ", "==")) for i in range(N)])
    allowed = np.nonzero(mask)[0]
    Q = float_vectors(10, DIM, seed=13)
    res = client.search("s", Q.tolist(), limit=10, filter=selective,
                        search_params={"metric_type": "L2", "params": sp})
    got, want = [], []
    for q, hits in zip(Q, res):
        assert len(hits) == min(10, len(allowed)), selective
        assert all(mask[h] for h in hit_ids(hits))
        got.append(hit_ids(hits))
        want.append([i for i, _ in oracle("L2", X[allowed], q, allowed, k=10)])
    assert recall(got, want) >= 0.95, recall(got, want)


def test_sealed_and_growing_rows_with_deletes_and_restart(tmp_path, fresh_server):
    srv = fresh_server(tmp_path / "data")
    client = MilvusClient(uri=srv.uri)
    X = sealed(client, "HNSW", "L2", {"M": 16, "efConstruction": 100})
    extra = float_vectors(200, DIM, seed=14)
    insert_batches(client, "s", [{"id": N + i, "n": N + i, "vec": extra[i].tolist()}
                                 for i in range(200)])
    client.delete("s", ids=list(range(0, N + 200, 7)))
    allX = np.vstack([X, extra])
    alive = np.array([i for i in range(N + 200) if i % 7 != 0])
    Q = float_vectors(10, DIM, seed=15)

    def check(c):
        res = c.search("s", Q.tolist(), limit=10,
                       search_params={"metric_type": "L2", "params": {"ef": 200}})
        got = [hit_ids(h) for h in res]
        want = [[i for i, _ in oracle("L2", allX[alive], q, alive, k=10)] for q in Q]
        assert not any(i % 7 == 0 for g in got for i in g)
        assert recall(got, want) >= 0.97

    check(client)
    client.close()
    srv.stop()
    srv = fresh_server(tmp_path / "data")
    client = MilvusClient(uri=srv.uri)
    check(client)
    client.close()


@pytest.mark.parametrize("metric", ["HAMMING", "JACCARD"])
def test_bin_ivf_flat_on_sealed_rows_full_probe_is_exact(client, metric):
    schema = schema_with(client, ("bv", DataType.BINARY_VECTOR, {"dim": 64}))
    create(client, "s", schema, [("bv", "BIN_IVF_FLAT", metric, {"nlist": 8})])
    packed, bits = binary_vectors(1500, 64, seed=16)
    insert_batches(client, "s", [{"id": i, "bv": b} for i, b in enumerate(packed)])
    client.flush("s")
    wait_index(client, "s", "bv", 1500)
    qpacked, qbits = binary_vectors(5, 64, seed=17)
    res = client.search("s", qpacked, limit=10,
                        search_params={"metric_type": metric, "params": {"nprobe": 8}})
    for qb, hits in zip(qbits, res):
        s = {i: float(v) for i, v in enumerate(scores(metric, bits, qb))}
        assert_exact_topk(metric, hits, s, 10, tol=1e-5)


def test_sparse_inverted_index_on_sealed_rows_is_exact(client):
    schema = schema_with(client, ("sv", DataType.SPARSE_FLOAT_VECTOR, {}))
    create(client, "s", schema, [("sv", "SPARSE_INVERTED_INDEX", "IP", {"drop_ratio_build": 0.0})])
    rows = sparse_vectors(1500, vocab=60, nnz=6, seed=18)
    insert_batches(client, "s", [{"id": i, "sv": r} for i, r in enumerate(rows)])
    client.flush("s")
    wait_index(client, "s", "sv", 1500)
    Q = sparse_vectors(5, vocab=60, nnz=5, seed=19)
    res = client.search("s", Q, limit=10, anns_field="sv",
                        search_params={"metric_type": "IP", "params": {"drop_ratio_search": 0.0}})
    for q, hits in zip(Q, res):
        s = {i: float(v) for i, v in enumerate(sparse_ip(rows, q))}
        assert_exact_topk("IP", hits, s, 10)
