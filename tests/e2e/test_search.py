"""Vector search through MilvusClient.search: exact results against a brute-force numpy oracle
(FLAT, IVF at full probe, binary and sparse), recall for HNSW/AUTOINDEX, every metric's score
convention, output fields, filters and filter templates, partitions and partition keys,
aliases, nq > 1, offset paging, round_decimal, range search, group-by, and Milvus's
refusals with their codes and messages.

Expectations follow Milvus 2.5/2.6 (proxy task_search.go / search_util.go / util.go, segcore,
knowhere; pymilvus 3.0.2 for what the client checks itself); the sources of every rule are in
/tmp/notes/milvus-search.md. Where Milvus Lite (the oracle used with RIVUS_TEST_URI) differs,
the test follows Milvus and says so in a comment ("Lite differs")."""

import math

import numpy as np
import pytest
from pymilvus import DataType, MilvusException

from milvus_errors import milvus_error
from search_helpers import (
    assert_exact_topk, assert_sorted, binary_vectors, close, create, float_vectors,
    hit_dists, hit_ids, insert_batches, oracle, ranked, raw_search, raw_stub, recall,
    schema_with, scores, sparse_ip, sparse_vectors,
)

DIM = 16
N = 1000
CATS = [f"c{i}" for i in range(10)]


def rows_for(X, start=0, **extra):
    out = []
    for j, v in enumerate(X):
        i = start + j
        row = {"id": i, "vec": v.tolist(), "cat": CATS[i % len(CATS)], "n": i,
               "score": float(np.float32(i / 4))}
        for k, f in extra.items():
            row[k] = f(i)
        out.append(row)
    return out


def build(client, name="s", metric="L2", index="FLAT", params=None, n=N, dim=DIM, seed=0,
          dynamic=False, load=True, extra_fields=(), **extra):
    """pk `id`, cat VARCHAR, n INT64, score FLOAT, vec FLOAT_VECTOR(dim); n rows of seeded
    gaussian vectors; one index on vec. Returns (X, rows)."""
    schema = schema_with(client, ("cat", DataType.VARCHAR, {"max_length": 16}),
                         ("n", DataType.INT64, {}), ("score", DataType.FLOAT, {}),
                         *extra_fields, ("vec", DataType.FLOAT_VECTOR, {"dim": dim}),
                         dynamic=dynamic)
    create(client, name, schema, [("vec", index, metric, params)], load=load)
    X = float_vectors(n, dim, seed)
    rows = rows_for(X, **extra)
    insert_batches(client, name, rows)
    return X, rows


def all_scores(metric, X, q, ids=None, mask=None):
    ids = range(len(X)) if ids is None else ids
    s = scores(metric, X, q)
    return {int(i): float(v) for k, (i, v) in enumerate(zip(ids, s))
            if mask is None or mask[k]}


def queries(nq, dim=DIM, seed=99):
    return float_vectors(nq, dim, seed)


# ============================================================================================
# exact results and score conventions


@pytest.mark.parametrize("metric", ["L2", "IP", "COSINE"])
@pytest.mark.parametrize("pass_metric", [True, False], ids=["metric_given", "metric_from_index"])
def test_flat_search_is_exact(client, metric, pass_metric):
    X, _ = build(client, metric=metric)
    Q = queries(3)
    sp = {"metric_type": metric} if pass_metric else {}
    res = client.search("s", Q.tolist(), limit=10, search_params=sp)
    assert len(res) == 3
    for q, hits in zip(Q, res):
        assert_exact_topk(metric, hits, all_scores(metric, X, q), 10)


def test_l2_distance_is_squared_euclidean(client):
    # Milvus's L2 "distance" is the squared Euclidean distance (no square root).
    schema = schema_with(client, ("vec", DataType.FLOAT_VECTOR, {"dim": 4}))
    create(client, "s", schema, [("vec", "FLAT", "L2", None)])
    client.insert("s", [{"id": 1, "vec": [3.0, 4.0, 0.0, 0.0]},
                        {"id": 2, "vec": [1.0, 1.0, 1.0, 1.0]}])
    res = client.search("s", [[0.0, 0.0, 0.0, 0.0]], limit=2)
    assert [(h["id"], h["distance"]) for h in res[0]] == [(2, 4.0), (1, 25.0)]


def test_ip_and_cosine_scores(client):
    schema = schema_with(client, ("a", DataType.FLOAT_VECTOR, {"dim": 2}),
                         ("b", DataType.FLOAT_VECTOR, {"dim": 2}))
    create(client, "s", schema, [("a", "FLAT", "IP", None), ("b", "FLAT", "COSINE", None)])
    client.insert("s", [{"id": 1, "a": [2.0, 0.0], "b": [2.0, 0.0]},
                        {"id": 2, "a": [1.0, 1.0], "b": [1.0, 1.0]},
                        {"id": 3, "a": [-3.0, 0.0], "b": [-3.0, 0.0]}])
    ip = client.search("s", [[3.0, 1.0]], anns_field="a", limit=3)[0]
    assert [(h["id"], h["distance"]) for h in ip] == [(1, 6.0), (2, 4.0), (3, -9.0)]
    cos = client.search("s", [[3.0, 1.0]], anns_field="b", limit=3)[0]
    assert hit_ids(cos) == [1, 2, 3]
    want = [3 / math.sqrt(10), 4 / (math.sqrt(10) * math.sqrt(2)), -3 / math.sqrt(10)]
    for d, w in zip(hit_dists(cos), want):
        assert close(d, w, 1e-5), (hit_dists(cos), want)


@pytest.mark.parametrize("metric", ["L2", "IP", "COSINE"])
def test_hnsw_recall_and_exact_distances(client, metric):
    X, _ = build(client, metric=metric, index="HNSW", params={"M": 16, "efConstruction": 200})
    Q = queries(5)
    res = client.search("s", Q.tolist(), limit=10,
                        search_params={"metric_type": metric, "params": {"ef": 200}})
    total = 0.0
    for q, hits in zip(Q, res):
        s = all_scores(metric, X, q)
        assert len(hits) == 10
        for i, d in zip(hit_ids(hits), hit_dists(hits)):
            assert close(d, s[i]), (i, d, s[i])
        assert_sorted(metric, hit_dists(hits))
        total += recall(hit_ids(hits), [i for i, _ in ranked(metric, s, 10)])
    assert total / len(Q) >= 0.9


def test_ivf_flat_with_every_list_probed_is_exact(client):
    X, _ = build(client, metric="L2", index="IVF_FLAT", params={"nlist": 8})
    Q = queries(4)
    res = client.search("s", Q.tolist(), limit=10,
                        search_params={"metric_type": "L2", "params": {"nprobe": 8}})
    for q, hits in zip(Q, res):
        assert_exact_topk("L2", hits, all_scores("L2", X, q), 10)


def test_ivf_sq8_recall(client):
    X, _ = build(client, metric="IP", index="IVF_SQ8", params={"nlist": 8})
    Q = queries(4)
    res = client.search("s", Q.tolist(), limit=10,
                        search_params={"metric_type": "IP", "params": {"nprobe": 8}})
    total = 0.0
    for q, hits in zip(Q, res):
        assert len(hits) == 10
        assert_sorted("IP", hit_dists(hits))  # quantised scores: order only
        total += recall(hit_ids(hits), [i for i, _ in ranked("IP", all_scores("IP", X, q), 10)])
    assert total / len(Q) >= 0.8


def test_autoindex_search(client):
    X, _ = build(client, metric="COSINE", index="AUTOINDEX")
    Q = queries(4)
    res = client.search("s", Q.tolist(), limit=10)
    total = 0.0
    for q, hits in zip(Q, res):
        s = all_scores("COSINE", X, q)
        for i, d in zip(hit_ids(hits), hit_dists(hits)):
            assert close(d, s[i]), (i, d, s[i])
        assert_sorted("COSINE", hit_dists(hits))
        total += recall(hit_ids(hits), [i for i, _ in ranked("COSINE", s, 10)])
    assert total / len(Q) >= 0.9


@pytest.mark.parametrize("metric", ["HAMMING", "JACCARD"])
@pytest.mark.parametrize("index,params,sp", [("BIN_FLAT", None, {}),
                                             ("BIN_IVF_FLAT", {"nlist": 4}, {"nprobe": 4})])
def test_binary_vectors_exact(client, metric, index, params, sp):
    schema = schema_with(client, ("bv", DataType.BINARY_VECTOR, {"dim": 64}))
    create(client, "s", schema, [("bv", index, metric, params)])
    packed, bits = binary_vectors(600, 64, seed=3)
    insert_batches(client, "s", [{"id": i, "bv": b} for i, b in enumerate(packed)])
    qpacked, qbits = binary_vectors(3, 64, seed=4)
    res = client.search("s", qpacked, limit=15,
                        search_params={"metric_type": metric, "params": sp})
    for qb, hits in zip(qbits, res):
        # HAMMING has many exact ties: the helper checks the score multiset, not tie order
        assert_exact_topk(metric, hits, all_scores(metric, bits, qb), 15, tol=1e-5)


def test_sparse_inverted_index_ip_exact(client):
    schema = schema_with(client, ("sv", DataType.SPARSE_FLOAT_VECTOR, {}))
    create(client, "s", schema,
           [("sv", "SPARSE_INVERTED_INDEX", "IP", {"drop_ratio_build": 0.0})])
    rows = sparse_vectors(500, vocab=60, nnz=6, seed=5)
    insert_batches(client, "s", [{"id": i, "sv": r} for i, r in enumerate(rows)])
    Q = sparse_vectors(3, vocab=60, nnz=5, seed=6)
    # (anns_field may be left out for a sole sparse field in Milvus; Lite insists on it)
    res = client.search("s", Q, limit=10, anns_field="sv",
                        search_params={"metric_type": "IP", "params": {"drop_ratio_search": 0.0}})
    for q, hits in zip(Q, res):
        s = {i: float(v) for i, v in enumerate(sparse_ip(rows, q))}
        assert_exact_topk("IP", hits, s, 10)


def test_search_empty_collection_returns_empty_lists(client):
    build(client, n=0)
    res = client.search("s", queries(2).tolist(), limit=5)
    assert [list(r) for r in res] == [[], []]


def test_limit_above_row_count_returns_every_row(client):
    X, _ = build(client, n=7)
    q = queries(1)[0]
    res = client.search("s", [q.tolist()], limit=100)
    assert_exact_topk("L2", res[0], all_scores("L2", X, q), 7)


def test_deleted_and_upserted_rows(client):
    X, rows = build(client, n=300, dynamic=False)
    q = queries(1)[0]
    top = [i for i, _ in oracle("L2", X, q, range(300), 5)]
    client.delete("s", ids=top[:2])
    moved = rows[299]
    moved["vec"] = q.tolist()  # now an exact match
    client.upsert("s", [moved])
    s = all_scores("L2", X, q)
    del s[top[0]], s[top[1]]
    s[299] = 0.0
    res = client.search("s", [q.tolist()], limit=10)
    assert_exact_topk("L2", res[0], s, 10)
    assert res[0][0]["id"] == 299
    assert not set(top[:2]) & set(hit_ids(res[0]))


# ============================================================================================
# metric and field selection errors


def test_metric_type_mismatch_refused(client):
    # Milvus: querynode plan check (internal/util/segcore/plan.go NewSearchRequest):
    # merr.WrapErrParameterInvalid(indexMetric, requested, "metric type not match") -> 1100,
    # "metric type not match: invalid parameter[expected=L2][actual=IP]". Lite differs (answers).
    build(client, metric="L2", n=50)
    with milvus_error(1100, contains=("metric type not match", "L2", "IP")):
        client.search("s", queries(1).tolist(), limit=5, search_params={"metric_type": "IP"})


def test_several_vector_fields_need_anns_field(client):
    # Milvus task_search.go tryGeneratePlan: plain error (65535). Lite differs (picks one).
    schema = schema_with(client, ("a", DataType.FLOAT_VECTOR, {"dim": 4}),
                         ("b", DataType.FLOAT_VECTOR, {"dim": 4}))
    create(client, "s", schema, [("a", "FLAT", "L2", None), ("b", "FLAT", "IP", None)])
    client.insert("s", [{"id": 1, "a": [1.0, 0, 0, 0], "b": [0, 1.0, 0, 0]}])
    with milvus_error(65535, "multiple anns_fields exist, please specify a anns_field in "
                             "search_params"):
        client.search("s", [[1.0, 0, 0, 0]], limit=1)
    assert hit_ids(client.search("s", [[1.0, 0, 0, 0]], anns_field="b", limit=1)[0]) == [1]
    assert client.search("s", [[0, 1.0, 0, 0]], anns_field="b", limit=1)[0][0]["distance"] == 1.0


def test_unknown_anns_field_refused(client):
    build(client, n=10)
    with milvus_error(1100, "failed to create query plan: failed to get field schema by name: "
                            "fieldName(nope) not found: invalid parameter"):
        client.search("s", queries(1).tolist(), anns_field="nope", limit=1)


def test_scalar_anns_field_refused(client):
    build(client, n=10)
    with milvus_error(1100, "failed to create query plan: field (n) to search is not of vector "
                            "data type: invalid parameter"):
        client.search("s", queries(1).tolist(), anns_field="n", limit=1)


def test_wrong_query_dimension_refused(client):
    # Milvus e2e (test_search_param_invalid_dim): "vector dimension mismatch". Lite differs
    # (numpy broadcast error).
    build(client, n=10)
    with pytest.raises(MilvusException) as info:
        client.search("s", [[0.5] * (DIM + 1)], limit=1)
    assert "vector dimension mismatch" in info.value.message


def test_search_missing_collection(client):
    with milvus_error(100, "collection not found[database=default][collection=ghost]"):
        client.search("ghost", queries(1).tolist(), limit=1)


def test_search_not_loaded_collection_refused(client):
    # Milvus: 101 "collection not loaded[collection=<id>]" (Execute, shard leaders). Lite
    # differs (answers).
    build(client, n=20, load=False)
    with milvus_error(101, contains="collection not loaded"):
        client.search("s", queries(1).tolist(), limit=1)
    client.load_collection("s")
    assert len(client.search("s", queries(1).tolist(), limit=3)[0]) == 3
    client.release_collection("s")
    with milvus_error(101, contains="collection not loaded"):
        client.search("s", queries(1).tolist(), limit=1)


# ============================================================================================
# output fields


def test_default_output_is_pk_and_distance_only(client):
    # pymilvus sends no output fields; Milvus returns none (translateOutputFields of []).
    # Lite differs: it returns every field.
    build(client, n=50)
    hits = client.search("s", queries(1).tolist(), limit=3)[0]
    assert len(hits) == 3
    for h in hits:
        assert set(h.keys()) == {"id", "distance", "entity"}
        assert h["entity"] == {}


def test_output_scalar_fields(client):
    X, rows = build(client, n=200)
    hits = client.search("s", queries(1).tolist(), limit=5, output_fields=["cat", "score"])[0]
    for h in hits:
        r = rows[h["id"]]
        assert h["entity"] == {"cat": r["cat"], "score": r["score"]}


def test_output_vector_field(client):
    X, rows = build(client, n=100)
    hits = client.search("s", queries(1).tolist(), limit=4, output_fields=["vec"])[0]
    for h in hits:
        assert list(h["entity"].keys()) == ["vec"]
        assert np.array_equal(np.asarray(h["entity"]["vec"], dtype=np.float32), X[h["id"]])


def test_output_star_is_every_field(client):
    X, rows = build(client, n=100)
    hits = client.search("s", queries(1).tolist(), limit=3, output_fields=["*"])[0]
    for h in hits:
        r = rows[h["id"]]
        ent = dict(h["entity"])
        assert np.array_equal(np.asarray(ent.pop("vec"), dtype=np.float32), X[h["id"]])
        assert ent == {"id": r["id"], "cat": r["cat"], "n": r["n"], "score": r["score"]}


def test_output_pk_when_named(client):
    build(client, n=50)
    hits = client.search("s", queries(1).tolist(), limit=3, output_fields=["id"])[0]
    assert [h["entity"] for h in hits] == [{"id": h["id"]} for h in hits]


def test_output_dynamic_fields(client):
    build(client, n=60, dynamic=True, tag=lambda i: f"t{i % 3}", rank=lambda i: i * 10)
    hits = client.search("s", queries(1).tolist(), limit=4, output_fields=["tag"])[0]
    assert [h["entity"] for h in hits] == [{"tag": f"t{h['id'] % 3}"} for h in hits]
    hits = client.search("s", queries(1).tolist(), limit=4, output_fields=["$meta"])[0]
    assert [h["entity"] for h in hits] == [{"tag": f"t{h['id'] % 3}", "rank": h["id"] * 10}
                                           for h in hits]
    # a dynamic key no row has: nothing for it, no error
    hits = client.search("s", queries(1).tolist(), limit=2, output_fields=["nokey"])[0]
    assert [h["entity"] for h in hits] == [{}, {}]


def test_output_unknown_field_refused(client):
    # translateOutputFields: plain "field nope not exist" without a dynamic field.
    build(client, n=10)
    with milvus_error(65535, contains="field nope not exist"):
        client.search("s", queries(1).tolist(), limit=1, output_fields=["nope"])


# ============================================================================================
# filters


def test_filter_restricts_candidates(client):
    X, rows = build(client)
    Q = queries(3)
    expr = "n >= 200 and n < 700 and cat in ['c1', 'c2', 'c7'] and score > 60.0"
    mask = [200 <= r["n"] < 700 and r["cat"] in ("c1", "c2", "c7") and r["score"] > 60.0
            for r in rows]
    res = client.search("s", Q.tolist(), limit=10, filter=expr, output_fields=["cat", "n"])
    for q, hits in zip(Q, res):
        assert_exact_topk("L2", hits, all_scores("L2", X, q, mask=mask), 10)
        for h in hits:
            assert h["entity"] == {"cat": rows[h["id"]]["cat"], "n": h["id"]}


def test_filter_templates(client):
    X, rows = build(client)
    q = queries(1)[0]
    res = client.search("s", [q.tolist()], limit=10, filter="n < {hi} and cat == {c}",
                        filter_params={"hi": 500, "c": "c3"})
    mask = [r["n"] < 500 and r["cat"] == "c3" for r in rows]
    assert_exact_topk("L2", res[0], all_scores("L2", X, q, mask=mask), 10)


def test_filter_matching_nothing(client):
    build(client, n=100)
    res = client.search("s", queries(2).tolist(), limit=5, filter="n > 100000")
    assert [list(r) for r in res] == [[], []]


def test_filter_fewer_matches_than_limit(client):
    X, rows = build(client, n=300)
    q = queries(1)[0]
    res = client.search("s", [q.tolist()], limit=50, filter="id in [3, 30, 300, 7]")
    mask = [r["id"] in (3, 30, 7) for r in rows]
    assert_exact_topk("L2", res[0], all_scores("L2", X, q, mask=mask), 3)


def test_invalid_filter_refused(client):
    build(client, n=10)
    with milvus_error(1100, contains=("failed to create query plan", "invalid parameter")):
        client.search("s", queries(1).tolist(), limit=1, filter="nope > 1")


# ============================================================================================
# partitions, partition keys, aliases


def test_partition_names_restrict_search(client):
    schema = schema_with(client, ("vec", DataType.FLOAT_VECTOR, {"dim": DIM}))
    create(client, "s", schema, [("vec", "FLAT", "L2", None)], load=False)
    client.create_partition("s", "p1")
    client.create_partition("s", "p2")
    X = float_vectors(600, DIM, seed=1)
    parts = ["_default", "p1", "p2"]
    for k, p in enumerate(parts):
        client.insert("s", [{"id": i, "vec": X[i].tolist()} for i in range(k, 600, 3)],
                      partition_name=p)
    client.load_collection("s")
    q = queries(1)[0]
    for names in (["p1"], ["p2", "_default"], ["_default", "p1", "p2"]):
        wanted = {parts.index(p) for p in names}
        mask = [i % 3 in wanted for i in range(600)]
        res = client.search("s", [q.tolist()], limit=8, partition_names=names)
        assert_exact_topk("L2", res[0], all_scores("L2", X, q, mask=mask), 8)
    res = client.search("s", [q.tolist()], limit=8)
    assert_exact_topk("L2", res[0], all_scores("L2", X, q), 8)


def test_unknown_partition_refused(client):
    # Milvus getPartitionIDs: plain "partition name nope not found". Lite differs ([]).
    build(client, n=10)
    with milvus_error(65535, "partition name nope not found"):
        client.search("s", queries(1).tolist(), limit=1, partition_names=["nope"])


def test_released_partition_refused(client):
    schema = schema_with(client, ("vec", DataType.FLOAT_VECTOR, {"dim": 4}))
    create(client, "s", schema, [("vec", "FLAT", "L2", None)])
    client.create_partition("s", "p1")
    client.insert("s", [{"id": 1, "vec": [1.0, 0, 0, 0]}], partition_name="p1")
    client.insert("s", [{"id": 2, "vec": [1.0, 0, 0, 0]}])
    client.load_collection("s")
    client.release_partitions("s", ["p1"])
    assert hit_ids(client.search("s", [[1.0, 0, 0, 0]], limit=5)[0]) == [2]
    with milvus_error(201, contains="partition not loaded"):
        client.search("s", [[1.0, 0, 0, 0]], limit=5, partition_names=["p1"])


def test_partition_key_collection(client):
    schema = schema_with(client, ("tenant", DataType.VARCHAR,
                                  {"max_length": 8, "is_partition_key": True}),
                         ("vec", DataType.FLOAT_VECTOR, {"dim": DIM}))
    client.create_collection("s", schema=schema, num_partitions=4, consistency_level="Strong")
    ip = client.prepare_index_params()
    ip.add_index("vec", index_type="FLAT", metric_type="IP")
    client.create_index("s", ip, sync=False)
    client.load_collection("s")
    X = float_vectors(400, DIM, seed=2)
    tenants = [f"t{i % 5}" for i in range(400)]
    client.insert("s", [{"id": i, "tenant": tenants[i], "vec": X[i].tolist()} for i in range(400)])
    q = queries(1)[0]
    res = client.search("s", [q.tolist()], limit=10, filter="tenant == 't3'",
                        output_fields=["tenant"])
    mask = [t == "t3" for t in tenants]
    assert_exact_topk("IP", res[0], all_scores("IP", X, q, mask=mask), 10)
    assert {h["entity"]["tenant"] for h in res[0]} == {"t3"}
    res = client.search("s", [q.tolist()], limit=10)
    assert_exact_topk("IP", res[0], all_scores("IP", X, q), 10)
    with pytest.raises(MilvusException) as info:
        client.search("s", [q.tolist()], limit=1, partition_names=["_default_0"])
    assert "not support manually specifying the partition names if partition key mode is " \
           "used" in info.value.message


def test_search_through_alias(client):
    X, _ = build(client, n=300)
    client.create_alias("s", "al")
    Q = queries(2)
    direct = client.search("s", Q.tolist(), limit=7, output_fields=["n"])
    via = client.search("al", Q.tolist(), limit=7, output_fields=["n"])
    assert [[dict(h) for h in r] for r in via] == [[dict(h) for h in r] for r in direct]
    for q, hits in zip(Q, via):
        assert_exact_topk("L2", hits, all_scores("L2", X, q), 7)


# ============================================================================================
# nq, limit, offset


def test_many_queries_are_independent(client):
    X, _ = build(client, metric="IP")
    Q = queries(20)
    res = client.search("s", Q.tolist(), limit=6)
    assert len(res) == 20
    for q, hits in zip(Q, res):
        assert_exact_topk("IP", hits, all_scores("IP", X, q), 6)


def test_offset_pages_the_ranking(client):
    X, _ = build(client, metric="COSINE")
    q = queries(1)[0]
    full = ranked("COSINE", all_scores("COSINE", X, q), 60)
    seen = []
    for off in range(0, 60, 15):
        res = client.search("s", [q.tolist()], limit=15, offset=off)
        hits = res[0]
        assert len(hits) == 15
        for h, (i, sc) in zip(hits, full[off:off + 15]):
            assert close(h["distance"], sc)
        seen += hit_ids(hits)
    assert seen == [i for i, _ in full]
    assert list(client.search("s", [q.tolist()], limit=10, offset=N)[0]) == []
    tail = client.search("s", [q.tolist()], limit=10, offset=N - 4)[0]
    assert len(tail) == 4


def test_limit_above_topk_limit_refused(client):
    # parseSearchInfo: validateLimit -> plain error. Lite differs (answers).
    build(client, n=10)
    with milvus_error(65535, "topk [16385] is invalid, it should be in range [1, 16384], "
                             "but got 16385"):
        client.search("s", queries(1).tolist(), limit=16385)
    assert len(client.search("s", queries(1).tolist(), limit=16384)[0]) == 10


def test_offset_plus_limit_above_window_refused(client):
    build(client, n=10)
    with milvus_error(65535, "offset+topk [16390] is invalid, it should be in range [1, 16384], "
                             "but got 16390"):
        client.search("s", queries(1).tolist(), limit=10, offset=16380)
    with milvus_error(65535, "offset [16385] is invalid, it should be in range [1, 16384], "
                             "but got 16385"):
        client.search("s", queries(1).tolist(), limit=1, offset=16385)
    assert list(client.search("s", queries(1).tolist(), limit=4, offset=16380)[0]) == []


def test_nq_above_limit_refused(client):
    build(client, n=10, dim=8)
    with milvus_error(65535, "nq [16385] is invalid, nq (number of search vector per search "
                             "request) should be in range [1, 16384], but got 16385"):
        client.search("s", np.zeros((16385, 8), dtype=np.float32).tolist(), limit=1)


def test_server_side_parameter_checks(client, server):
    # pymilvus refuses these before sending; a raw request shows the server's own checks
    # (Milvus parseSearchInfo, all plain errors).
    build(client, n=10)
    stub = raw_stub(server.uri)
    q = queries(1)
    base = {"anns_field": "vec", "metric_type": "L2", "params": "{}", "round_decimal": "-1"}
    cases = [
        ({"topk": "0"}, "topk [0] is invalid, it should be in range [1, 16384], but got 0"),
        ({"topk": "-3"}, "topk [-3] is invalid, it should be in range [1, 16384], but got -3"),
        ({"topk": "x"}, "topk [x] is invalid"),
        ({"topk": "5", "offset": "-1"},
         "offset [-1] is invalid, it should be in range [1, 16384], but got -1"),
        ({"topk": "5", "round_decimal": "7"},
         "round_decimal [7] is invalid, should be -1 or an integer in range [0, 6]"),
        ({"topk": "5", "round_decimal": "-2"},
         "round_decimal [-2] is invalid, should be -1 or an integer in range [0, 6]"),
    ]
    for extra, message in cases:
        reply = raw_search(stub, "s", q, {**base, **extra})
        assert (reply.status.code, reply.status.reason) == (65535, message), extra
    ok = raw_search(stub, "s", q, {**base, "topk": "3"})
    assert ok.status.code == 0 and list(ok.results.topks) == [3]


# ============================================================================================
# round_decimal


def test_round_decimal(client):
    # segcore rounds every distance with std::round(d * 10^r) / 10^r (half away from zero)
    # after the top-k is chosen; pymilvus additionally rounds client-side only when r > 0, so
    # r = 0 shows the server's rounding alone.
    X, _ = build(client, n=400, dim=8)
    q = queries(1, dim=8)[0]
    s = all_scores("L2", X, q)
    for r in (0, 1, 3):
        hits = client.search("s", [q.tolist()], limit=20, round_decimal=r)[0]
        assert len(hits) == 20
        m = 10 ** r
        got = []
        for h in hits:
            scaled = h["distance"] * m
            assert abs(scaled - round(scaled)) <= 1e-3 * max(1.0, scaled), (r, h["distance"])
            # the nearest multiple of 10^-r (either side when the true value sits on a half)
            assert abs(scaled - s[h["id"]] * m) <= 0.5 + 1e-3, (r, h["id"], h["distance"])
            got.append(round(scaled))
        assert got == sorted(got)
        # the rows are the true top 20: every other row is at least as far after rounding
        cut = ranked("L2", s, 20)[-1][1]
        assert all(s[i] <= cut + 1e-5 or abs(s[i] - cut) * m <= 1.0 for i in hit_ids(hits))


# ============================================================================================
# range search (radius / range_filter)


@pytest.mark.parametrize("metric", ["L2", "IP", "COSINE"])
def test_range_search(client, metric):
    X, _ = build(client, metric=metric)
    q = queries(1)[0]
    s = all_scores(metric, X, q)
    order = ranked(metric, s)
    # pick bounds between ranked neighbours (no row sits on a bound)
    inner = (order[5][1] + order[6][1]) / 2
    outer = (order[60][1] + order[61][1]) / 2
    radius, range_filter = outer, inner
    params = {"metric_type": metric, "params": {"radius": radius, "range_filter": range_filter}}
    hits = client.search("s", [q.tolist()], limit=100, search_params=params)[0]
    want = [(i, v) for i, v in order[6:61]]
    assert hit_ids(hits) == [i for i, _ in want]
    for h, (_, v) in zip(hits, want):
        assert close(h["distance"], v)
    # limit caps the range result, best first
    hits = client.search("s", [q.tolist()], limit=10, search_params=params)[0]
    assert hit_ids(hits) == [i for i, _ in want[:10]]
    # radius alone: everything closer than the radius
    only = {"metric_type": metric, "params": {"radius": radius}}
    hits = client.search("s", [q.tolist()], limit=100, search_params=only)[0]
    assert hit_ids(hits) == [i for i, _ in order[:61]]


@pytest.mark.parametrize("metric,radius,range_filter,fragment", [
    ("L2", 1.0, 3.0, "must be less than"),
    ("L2", 2.0, 2.0, "must be less than"),
    ("IP", 3.0, 1.0, "must be greater than"),
    ("COSINE", 0.5, 0.5, "must be greater than"),
])
def test_range_search_bounds_in_the_wrong_order_refused(client, metric, radius, range_filter,
                                                        fragment):
    # L2-like: range_filter < radius; IP/COSINE: radius < range_filter (segcore
    # CheckRangeSearchParam; 2.4's proxy checkRangeSearchParams had the same rule). The text
    # differs between versions; all name range_filter and radius. Lite differs (empty result).
    build(client, metric=metric, n=50)
    params = {"metric_type": metric, "params": {"radius": radius, "range_filter": range_filter}}
    with pytest.raises(MilvusException) as info:
        client.search("s", queries(1).tolist(), limit=5, search_params=params)
    msg = info.value.message
    assert "range_filter" in msg and "radius" in msg and fragment in msg, msg


def test_range_filter_without_radius_refused(client):
    # Milvus (search_util.go parseSearchInfo, after issue #48915): 1100 "range_filter requires
    # radius to be set; range_filter alone is not a valid range search parameter". Older
    # releases silently ignored it. Lite differs (answers).
    build(client, n=50)
    with milvus_error(1100, contains="range_filter requires radius to be set"):
        client.search("s", queries(1).tolist(), limit=5,
                      search_params={"metric_type": "L2", "params": {"range_filter": 1.0}})


# ============================================================================================
# group by


def group_oracle(metric, s, cat_of, limit, group_size):
    """The first `limit` distinct groups in ranking order, each with its best `group_size`
    rows (the strict answer)."""
    groups, order = {}, []
    for i, v in ranked(metric, s):
        g = cat_of(i)
        if g not in groups:
            if len(order) == limit:
                continue
            groups[g] = []
            order.append(g)
        if len(groups[g]) < group_size:
            groups[g].append((i, v))
    return [(g, groups[g]) for g in order]


def split_groups(hits, key):
    out = []
    for h in hits:
        g = h["entity"][key]
        if not out or out[-1][0] != g:
            assert g not in [x[0] for x in out], f"group {g} is not contiguous"
            out.append((g, []))
        out[-1][1].append(h)
    return out


def test_group_by_default_one_hit_per_group(client):
    X, rows = build(client, metric="IP")
    q = queries(1)[0]
    s = all_scores("IP", X, q)
    hits = client.search("s", [q.tolist()], limit=4, group_by_field="cat",
                         output_fields=["cat"])[0]
    want = group_oracle("IP", s, lambda i: rows[i]["cat"], 4, 1)
    assert [(h["entity"]["cat"], h["id"]) for h in hits] == [(g, m[0][0]) for g, m in want]
    for h in hits:
        assert close(h["distance"], s[h["id"]])


def test_group_by_strict_group_size(client):
    X, rows = build(client)
    q = queries(1)[0]
    s = all_scores("L2", X, q)
    hits = client.search("s", [q.tolist()], limit=3, group_by_field="cat", group_size=4,
                         strict_group_size=True, output_fields=["cat"])[0]
    want = group_oracle("L2", s, lambda i: rows[i]["cat"], 3, 4)
    got = split_groups(hits, "cat")
    assert [g for g, _ in got] == [g for g, _ in want]
    for (g, members), (_, wm) in zip(got, want):
        assert hit_ids(members) == [i for i, _ in wm], g
        assert_sorted("L2", hit_dists(members))


def test_group_by_non_strict_group_size(client):
    # Without strict_group_size a group may hold fewer than group_size rows (segcore stops
    # once `limit` groups exist); groups, their order and each group's best row are exact.
    X, rows = build(client, metric="COSINE")
    q = queries(1)[0]
    s = all_scores("COSINE", X, q)
    hits = client.search("s", [q.tolist()], limit=3, group_by_field="cat", group_size=3,
                         output_fields=["cat"])[0]
    want = group_oracle("COSINE", s, lambda i: rows[i]["cat"], 3, 3)
    got = split_groups(hits, "cat")
    assert [g for g, _ in got] == [g for g, _ in want]
    for (g, members), (_, wm) in zip(got, want):
        assert 1 <= len(members) <= 3
        assert members[0]["id"] == wm[0][0]
        assert all(rows[h["id"]]["cat"] == g for h in members)
        assert_sorted("COSINE", hit_dists(members))


def test_group_by_int_and_bool_fields(client):
    X, rows = build(client, n=600, extra_fields=(("flag", DataType.BOOL, {}),
                                                 ("bucket", DataType.INT32, {})),
                    flag=lambda i: i % 2 == 0, bucket=lambda i: i % 6)
    q = queries(1)[0]
    s = all_scores("L2", X, q)
    hits = client.search("s", [q.tolist()], limit=10, group_by_field="flag",
                         output_fields=["flag"])[0]
    want = group_oracle("L2", s, lambda i: i % 2 == 0, 10, 1)
    assert [h["id"] for h in hits] == [m[0][0] for _, m in want]  # only two groups exist
    hits = client.search("s", [q.tolist()], limit=4, group_by_field="bucket",
                         output_fields=["bucket"])[0]
    want = group_oracle("L2", s, lambda i: i % 6, 4, 1)
    assert [(h["entity"]["bucket"], h["id"]) for h in hits] == [(g, m[0][0]) for g, m in want]


def test_group_by_errors(client):
    extra = (("dbl", DataType.DOUBLE, {}),)
    build(client, n=50, extra_fields=extra, dbl=lambda i: i / 3)
    q = queries(1).tolist()
    # parseGroupByInfo (proxy)
    with milvus_error(1700, "groupBy field not found in schema: field not found[field=nope]"):
        client.search("s", q, limit=3, group_by_field="nope")
    with milvus_error(1100, "input group size:0 is negative, failed to do search_groupby: "
                            "invalid parameter"):
        client.search("s", q, limit=3, group_by_field="cat", group_size=0)
    with milvus_error(1100, "input group size:11 exceeds configured max group size:10: "
                            "invalid parameter"):
        client.search("s", q, limit=3, group_by_field="cat", group_size=11)
    with milvus_error(1100, contains="Not allowed to do range-search when doing "
                                     "search-group-by"):
        client.search("s", q, limit=3, group_by_field="cat",
                      search_params={"metric_type": "L2", "params": {"radius": 10.0}})
    # segcore group-by operator: FLOAT/DOUBLE (and vectors, JSON in 2.5) are not groupable
    for field, type_name in (("score", "FLOAT"), ("dbl", "DOUBLE")):
        with pytest.raises(MilvusException) as info:
            client.search("s", q, limit=3, group_by_field=field)
        assert f"unsupported data type {type_name} for group by operator" in info.value.message


def test_group_by_on_binary_vector_refused(client):
    schema = schema_with(client, ("cat", DataType.VARCHAR, {"max_length": 8}),
                         ("bv", DataType.BINARY_VECTOR, {"dim": 16}))
    create(client, "s", schema, [("bv", "BIN_FLAT", "HAMMING", None)])
    packed, _ = binary_vectors(20, 16)
    client.insert("s", [{"id": i, "cat": f"c{i % 2}", "bv": b} for i, b in enumerate(packed)])
    with milvus_error(65535, "not support search_group_by operation based on binary vector "
                             "column"):
        client.search("s", [packed[0]], limit=2, group_by_field="cat",
                      search_params={"metric_type": "HAMMING"})
