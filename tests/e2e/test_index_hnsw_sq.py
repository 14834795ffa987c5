"""HNSW_SQ through pymilvus: an HNSW graph walked over scalar-quantized codes (sq_type SQ4U,
SQ6, SQ8, FP16, BF16), with the optional refine step (refine=true + refine_type at build,
refine_k at search). Built per sealed segment like every index; checked against a numpy
oracle.

Semantics follow Milvus 2.6 / knowhere (src/index/hnsw/faiss_hnsw.cc, faiss_hnsw_config.h;
docs userGuide/indexes/floating-vector/hnsw-sq.md): without refine the scores are the codes'
estimates; a refine step runs only when the index was built with one (refine and
refine_type) and the search gives refine_k, re-scoring ceil(limit * refine_k) candidates at
the refine precision (FP32: the vectors themselves, so exact scores)."""

import numpy as np
import pytest
from pymilvus import DataType, MilvusClient

from milvus_errors import milvus_error
from search_helpers import (
    create, float_vectors, hit_dists, hit_ids, insert_batches, oracle, schema_with, scores,
    wait_index,
)

DIM = 16
N = 3000
INVALID_INDEX_PARAMS = "invalid parameter[expected=valid index params][actual=invalid index params]"


def recall(got, want):
    return sum(len(set(g) & set(w)) / max(len(w), 1) for g, w in zip(got, want)) / len(want)


def sealed(client, metric, params, n=N, seed=21, vtype=DataType.FLOAT_VECTOR, name="sq"):
    schema = schema_with(client, ("n", DataType.INT64, {}), ("vec", vtype, {"dim": DIM}))
    create(client, name, schema, [("vec", "HNSW_SQ", metric, params)])
    X = float_vectors(n, DIM, seed)
    if vtype == DataType.FLOAT16_VECTOR:
        X = X.astype(np.float16)
    insert_batches(client, name, [{"id": i, "n": i, "vec": X[i]} for i in range(n)])
    client.flush(name)
    desc = wait_index(client, name, "vec", n)
    assert (desc["indexed_rows"], desc["pending_index_rows"], desc["state"]) == (n, 0, "Finished")
    return X.astype(np.float32)


def search(client, Q, metric, sp, limit=10, name="sq", **kw):
    return client.search(name, Q.tolist(), limit=limit,
                         search_params={"metric_type": metric, "params": sp}, **kw)


FLOORS = {"SQ4U": 0.45, "SQ6": 0.8, "SQ8": 0.9, "FP16": 0.95, "BF16": 0.9}
# How far a code's estimate may stray from the exact score (L2 and IP relative, COSINE
# absolute).
TOLERANCE = {"SQ4U": 1.0, "SQ6": 0.2, "SQ8": 0.08, "FP16": 0.01, "BF16": 0.05}


@pytest.mark.parametrize("metric", ["L2", "IP", "COSINE"])
@pytest.mark.parametrize("sq_type", ["SQ4U", "SQ6", "SQ8", "FP16", "BF16"])
def test_every_quantizer_on_sealed_rows(client, metric, sq_type):
    X = sealed(client, metric, {"M": 16, "efConstruction": 100, "sq_type": sq_type})
    Q = float_vectors(20, DIM, seed=22)
    res = search(client, Q, metric, {"ef": 100})
    got, want = [], []
    estimates_differ = False
    for q, hits in zip(Q, res):
        assert len(hits) == 10
        exact = {i: float(s) for i, s in enumerate(scores(metric, X, q))}
        got.append(hit_ids(hits))
        want.append([i for i, _ in oracle(metric, X, q, range(N), k=10)])
        for i, d in zip(hit_ids(hits), hit_dists(hits)):
            scale = {"L2": max(abs(exact[i]), 0.1), "IP": max(abs(exact[i]), 1.0)}.get(metric, 1.0)
            assert abs(d - exact[i]) <= TOLERANCE[sq_type] * scale, (i, d, exact[i])
            estimates_differ |= abs(d - exact[i]) > 1e-6 * max(abs(exact[i]), 1.0)
        d = hit_dists(hits)
        assert d == sorted(d, reverse=(metric != "L2"))
    assert recall(got, want) >= FLOORS[sq_type], (sq_type, metric, recall(got, want))
    # Without refine the scores are the codes' estimates, not the exact scores.
    assert estimates_differ


@pytest.mark.parametrize("metric", ["L2", "IP", "COSINE"])
@pytest.mark.parametrize("refine_type", ["FP32", "FLAT"])
def test_fp32_refine_returns_exact_scores(client, metric, refine_type):
    X = sealed(client, metric, {"M": 16, "efConstruction": 100, "sq_type": "SQ4U",
                                "refine": True, "refine_type": refine_type})
    desc = client.describe_index("sq", "vec")
    assert (desc["sq_type"], desc["refine"], desc["refine_type"]) == (
        "SQ4U", "True", refine_type)
    Q = float_vectors(20, DIM, seed=23)
    plain = search(client, Q, metric, {"ef": 64})
    refined = search(client, Q, metric, {"ef": 64, "refine_k": 4})
    want = [[i for i, _ in oracle(metric, X, q, range(N), k=10)] for q in Q]
    for q, hits in zip(Q, refined):
        exact = scores(metric, X, q)
        for i, d in zip(hit_ids(hits), hit_dists(hits)):
            assert d == pytest.approx(float(exact[i]), rel=1e-5, abs=1e-5)
    r_plain = recall([hit_ids(h) for h in plain], want)
    r_refined = recall([hit_ids(h) for h in refined], want)
    assert r_refined >= 0.97 and r_refined > r_plain, (r_refined, r_plain)


def test_refine_over_codes_and_refine_k_without_refine(client):
    X = sealed(client, "L2", {"M": 16, "efConstruction": 100, "sq_type": "SQ4U",
                              "refine": "true", "refine_type": "SQ8"})
    Q = float_vectors(20, DIM, seed=24)
    want = [[i for i, _ in oracle("L2", X, q, range(N), k=10)] for q in Q]
    plain = recall([hit_ids(h) for h in search(client, Q, "L2", {"ef": 64})], want)
    refined = recall([hit_ids(h) for h in search(client, Q, "L2", {"ef": 64, "refine_k": 3})],
                     want)
    assert refined >= 0.85 and refined > plain, (refined, plain)
    # refine_type without refine=true builds no refine step: refine_k changes nothing.
    client.drop_collection("sq")
    sealed(client, "L2", {"M": 16, "efConstruction": 100, "sq_type": "SQ4U",
                          "refine_type": "FP32"})
    a = search(client, Q, "L2", {"ef": 64})
    b = search(client, Q, "L2", {"ef": 64, "refine_k": 5})
    assert [hit_ids(h) for h in a] == [hit_ids(h) for h in b]
    assert [hit_dists(h) for h in a] == [hit_dists(h) for h in b]


@pytest.mark.parametrize("selective", ["n % 100 == 7", "n % 10 < 3", "n < 5"])
def test_filtered_search_returns_limit_hits(client, selective):
    X = sealed(client, "L2", {"M": 16, "efConstruction": 100, "refine": True,
                              "refine_type": "FP32"})
    mask = np.array([eval(selective.replace("n", str(i)).replace(" == ", "==")) for i in range(N)])
    allowed = np.nonzero(mask)[0]
    Q = float_vectors(10, DIM, seed=25)
    res = search(client, Q, "L2", {"ef": 64, "refine_k": 2}, filter=selective)
    got, want = [], []
    for q, hits in zip(Q, res):
        assert len(hits) == min(10, len(allowed)), selective
        assert all(mask[h] for h in hit_ids(hits))
        got.append(hit_ids(hits))
        want.append([i for i, _ in oracle("L2", X[allowed], q, allowed, k=10)])
    assert recall(got, want) >= 0.95, recall(got, want)


def test_range_search_on_hnsw_sq(client):
    X = sealed(client, "L2", {"sq_type": "SQ8", "refine": True, "refine_type": "FP32"})
    q = float_vectors(1, DIM, seed=26)[0]
    exact = sorted(float(s) for s in scores("L2", X, q))
    radius, range_filter = exact[60], exact[3]
    res = search(client, np.array([q]), "L2",
                 {"ef": 64, "refine_k": 2, "radius": radius, "range_filter": range_filter},
                 limit=30)
    d = hit_dists(res[0])
    assert 0 < len(d) <= 30
    assert all(range_filter <= x < radius for x in d)


def test_float16_vectors_and_a_restart(tmp_path, fresh_server):
    srv = fresh_server(tmp_path / "data")
    client = MilvusClient(uri=srv.uri)
    X = sealed(client, "COSINE", {"M": 16, "efConstruction": 100, "sq_type": "SQ8",
                                  "refine": True, "refine_type": "FP16"},
               vtype=DataType.FLOAT16_VECTOR)
    Q = float_vectors(10, DIM, seed=27)
    want = [[i for i, _ in oracle("COSINE", X, q, range(N), k=10)] for q in Q]
    before = search(client, Q, "COSINE", {"ef": 64, "refine_k": 3})
    assert recall([hit_ids(h) for h in before], want) >= 0.9
    client.close()
    srv.stop()
    srv = fresh_server(tmp_path / "data")
    client = MilvusClient(uri=srv.uri)
    client.load_collection("sq")
    desc = wait_index(client, "sq", "vec", N)
    assert desc["state"] == "Finished"
    after = search(client, Q, "COSINE", {"ef": 64, "refine_k": 3})
    assert [hit_ids(h) for h in after] == [hit_ids(h) for h in before]
    flat = lambda res: [d for h in res for d in hit_dists(h)]  # noqa: E731
    assert flat(after) == pytest.approx(flat(before))
    client.close()


@pytest.mark.parametrize("params,fragment", [
    ({"sq_type": "SQ4"}, "invalid scalar quantizer type"),
    ({"sq_type": "PQ"}, "invalid scalar quantizer type"),
    ({"refine": True, "refine_type": "SQ4U"}, "invalid refine type type"),
    ({"refine": "yes"}, "Type conflict in json: param 'refine' (yes) should be a boolean"),
    ({"M": 1}, "param 'M' (1) should be in range [2, 2048]"),
])
def test_build_params_refused(client, params, fragment):
    schema = schema_with(client, ("vec", DataType.FLOAT_VECTOR, {"dim": DIM}))
    client.create_collection("sq", schema=schema)
    ip = client.prepare_index_params()
    ip.add_index("vec", index_type="HNSW_SQ", metric_type="L2", params=params)
    with milvus_error(1100, contains=(fragment, INVALID_INDEX_PARAMS)):
        client.create_index("sq", ip)
    assert client.list_indexes("sq") == []


def test_half_precision_data_refuses_a_wider_refine(client):
    schema = schema_with(client, ("vec", DataType.FLOAT16_VECTOR, {"dim": DIM}))
    client.create_collection("sq", schema=schema)
    ip = client.prepare_index_params()
    ip.add_index("vec", index_type="HNSW_SQ", metric_type="L2",
                 params={"refine": True, "refine_type": "FP32"})
    with milvus_error(1100, contains="fp16 input data does not accept bf16 or fp32 as a "
                                     "refine index."):
        client.create_index("sq", ip)


@pytest.mark.parametrize("value", [0.5, 0, -1, "x"])
def test_refine_k_out_of_range_refused(client, value):
    sealed(client, "L2", {"refine": True, "refine_type": "FP32"}, n=200)
    q = float_vectors(1, DIM, seed=28)
    with pytest.raises(Exception) as info:
        search(client, q, "L2", {"refine_k": value})
    assert "refine_k" in str(info.value)
