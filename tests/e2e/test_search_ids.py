"""Search by primary keys: MilvusClient.search(collection, ids=[...], anns_field=...), which
pymilvus 3.0.2 sends as the SearchRequest `ids` input instead of query vectors.

Milvus 2.6.9+ (docs primary-key-search.md; tests/python_client test_milvus_client_search_by_pk.py;
issue #46740) reads each key's vector from the searched field and searches with it, one query
per key in request order; every other search parameter (filter, output fields, limit/offset,
group-by, range search, partitions) applies as usual. The filter never restricts which keys
may be used. Refusals (code 1100, ": invalid parameter"):
  * a key with no visible row in the searched (loaded / named) partitions ->
    "some of the provided primary key IDs do not exist: missing IDs = [1 4 7]";
  * the same key twice -> "duplicate IDs found in search request" (the fix of #46740);
  * keys of the other type -> "primary key is int64, but IDs type mismatch" (varchar: "primary
    key is varchar, ...");
  * several vector fields and no anns_field ->
    "multiple vector fields exist, please specify anns_field in search_params".
Answers are checked against numpy brute force over the stored vectors."""

import numpy as np
import pytest
from pymilvus import DataType

from milvus_errors import milvus_error
from search_helpers import (
    assert_exact_topk, binary_vectors, close, create, float_vectors, hit_ids, insert_batches,
    ranked, schema_with, scores, sparse_ip, sparse_vectors, wait_index,
)

DIM = 16
N = 400
CATS = ["a", "b", "c", "d"]


def build(client, n=N, load=True, index="FLAT"):
    """id, n INT64, cat VARCHAR; vec FLOAT(16) COSINE, bv BINARY(32) HAMMING,
    sv SPARSE IP, hv FLOAT16(8) L2."""
    schema = schema_with(client, ("n", DataType.INT64, {}),
                         ("cat", DataType.VARCHAR, {"max_length": 4}),
                         ("vec", DataType.FLOAT_VECTOR, {"dim": DIM}),
                         ("bv", DataType.BINARY_VECTOR, {"dim": 32}),
                         ("sv", DataType.SPARSE_FLOAT_VECTOR, {}),
                         ("hv", DataType.FLOAT16_VECTOR, {"dim": 8}))
    create(client, "k", schema, [
        ("vec", index, "COSINE", None), ("bv", "BIN_FLAT", "HAMMING", None),
        ("sv", "SPARSE_INVERTED_INDEX", "IP", {"drop_ratio_build": 0.0}), ("hv", "FLAT", "L2", None),
    ], load=load)
    X = float_vectors(n, DIM, seed=1)
    packed, bits = binary_vectors(n, 32, seed=2)
    S = sparse_vectors(n, vocab=40, nnz=5, seed=3)
    H = float_vectors(n, 8, seed=4).astype(np.float16)
    rows = [{"id": i, "n": i, "cat": CATS[i % 4], "vec": X[i].tolist(), "bv": packed[i],
             "sv": S[i], "hv": H[i]} for i in range(n)]
    insert_batches(client, "k", rows, batch=200)
    return {"vec": X, "bits": bits, "sv": S, "hv": H.astype(np.float32)}, rows


def by_id(metric, X, i, mask=None):
    s = scores(metric, X, X[i])
    return {j: float(v) for j, v in enumerate(s) if mask is None or mask[j]}


def test_float_vectors_each_key_searches_with_its_own_vector(client):
    data, _ = build(client)
    ids = [17, 3, 250]
    res = client.search("k", ids=ids, anns_field="vec", limit=10)
    assert len(res) == len(ids)
    for i, hits in zip(ids, res):
        assert_exact_topk("COSINE", hits, by_id("COSINE", data["vec"], i), 10)
        assert hits[0]["id"] == i and close(hits[0]["distance"], 1.0)


def test_binary_sparse_and_float16_fields(client):
    data, _ = build(client)
    ids = [5, 123]
    res = client.search("k", ids=ids, anns_field="bv", limit=12,
                        search_params={"metric_type": "HAMMING"})
    for i, hits in zip(ids, res):
        assert_exact_topk("HAMMING", hits, by_id("HAMMING", data["bits"], i), 12)
        assert hits[0]["distance"] == 0.0
    res = client.search("k", ids=ids, anns_field="sv", limit=8,
                        search_params={"metric_type": "IP", "params": {"drop_ratio_search": 0.0}})
    for i, hits in zip(ids, res):
        s = {j: float(v) for j, v in enumerate(sparse_ip(data["sv"], data["sv"][i]))}
        assert_exact_topk("IP", hits, s, 8)
    res = client.search("k", ids=ids, anns_field="hv", limit=8)
    for i, hits in zip(ids, res):
        assert_exact_topk("L2", hits, by_id("L2", data["hv"], i), 8)
        assert hits[0]["id"] == i and hits[0]["distance"] == 0.0


def test_filter_output_fields_offset_and_string_ids(client):
    data, rows = build(client)
    mask = [r["n"] >= 200 for r in rows]
    # Key 7 is outside the filter: keys only give vectors, they are not filtered themselves.
    res = client.search("k", ids=[7], anns_field="vec", limit=6, offset=3, filter="n >= 200",
                        output_fields=["n", "cat"])
    want = ranked("COSINE", by_id("COSINE", data["vec"], 7, mask))[3:9]
    assert hit_ids(res[0]) == [i for i, _ in want]
    for h in res[0]:
        assert h["entity"] == {"n": h["id"], "cat": CATS[h["id"] % 4]}


def test_varchar_keys(client):
    schema = schema_with(client, ("vec", DataType.FLOAT_VECTOR, {"dim": 4}),
                         pk_type=DataType.VARCHAR, max_length=8)
    create(client, "k", schema, [("vec", "FLAT", "L2", None)])
    X = float_vectors(50, 4, seed=9)
    client.insert("k", [{"id": f"k{i}", "vec": X[i].tolist()} for i in range(50)])
    res = client.search("k", ids=["k9", "k30"], limit=5)
    for i, hits in zip([9, 30], res):
        want = ranked("L2", {f"k{j}": float(v) for j, v in enumerate(scores("L2", X, X[i]))})[:5]
        assert [h["id"] for h in hits] == [j for j, _ in want]
    with milvus_error(1100, "primary key is varchar, but IDs type mismatch: invalid parameter"):
        client.search("k", ids=[9], limit=5)
    with milvus_error(1100, "some of the provided primary key IDs do not exist: missing IDs = "
                            "[nope k77]: invalid parameter"):
        client.search("k", ids=["k1", "nope", "k77"], limit=5)


def test_group_by_and_range_search(client):
    data, rows = build(client)
    s = by_id("COSINE", data["vec"], 11)
    hits = client.search("k", ids=[11], anns_field="vec", limit=3, group_by_field="cat",
                         group_size=2, strict_group_size=True, output_fields=["cat"])[0]
    groups, order = {}, []
    for i, v in ranked("COSINE", s):
        g = CATS[i % 4]
        if g not in groups:
            if len(order) == 3:
                continue
            groups[g], _ = [], order.append(g)
        if len(groups[g]) < 2:
            groups[g].append(i)
    assert hit_ids(hits) == [i for g in order for i in groups[g]]
    hits = client.search("k", ids=[11], anns_field="vec", limit=50,
                         search_params={"params": {"radius": 0.3, "range_filter": 0.9}})[0]
    want = {i: v for i, v in s.items() if 0.3 < v <= 0.9}
    assert_exact_topk("COSINE", hits, want, min(50, len(want)))


def test_missing_duplicate_and_mistyped_keys_are_refused(client):
    build(client, n=50)
    with milvus_error(1100, "some of the provided primary key IDs do not exist: missing IDs = "
                            "[1000 1001]: invalid parameter"):
        client.search("k", ids=[1, 1000, 2, 1001], anns_field="vec", limit=5)
    with milvus_error(1100, "duplicate IDs found in search request: invalid parameter"):
        client.search("k", ids=[1, 2, 1], anns_field="vec", limit=5)
    with milvus_error(1100, "primary key is int64, but IDs type mismatch: invalid parameter"):
        client.search("k", ids=["1", "2"], anns_field="vec", limit=5)
    with milvus_error(1100, "multiple vector fields exist, please specify anns_field in "
                            "search_params: invalid parameter"):
        client.search("k", ids=[1], limit=5)


def test_deleted_and_upserted_keys(client):
    data, rows = build(client, n=60)
    client.delete("k", ids=[4])
    with milvus_error(1100, "some of the provided primary key IDs do not exist: missing IDs = "
                            "[4]: invalid parameter"):
        client.search("k", ids=[3, 4], anns_field="vec", limit=5)
    # An upserted key searches with its new vector.
    new = data["vec"][40]
    row = dict(rows[5], vec=new.tolist())
    client.upsert("k", [row])
    X = data["vec"].copy()
    X[5] = new
    res = client.search("k", ids=[5], anns_field="vec", limit=4)[0]
    s = {j: float(v) for j, v in enumerate(scores("COSINE", X, new)) if j != 4}
    assert_exact_topk("COSINE", res, s, 4)
    assert set(hit_ids(res)[:2]) == {5, 40}


def test_partitions_bound_where_keys_are_read(client):
    schema = schema_with(client, ("vec", DataType.FLOAT_VECTOR, {"dim": 4}))
    create(client, "k", schema, [("vec", "FLAT", "L2", None)], load=False)
    client.create_partition("k", "p1")
    X = float_vectors(30, 4, seed=5)
    client.insert("k", [{"id": i, "vec": X[i].tolist()} for i in range(0, 30, 2)])
    client.insert("k", [{"id": i, "vec": X[i].tolist()} for i in range(1, 30, 2)],
                  partition_name="p1")
    client.load_collection("k")
    res = client.search("k", ids=[3], limit=4, partition_names=["p1"])[0]
    mask = [i % 2 == 1 for i in range(30)]
    want = ranked("L2", {i: float(v) for i, v in enumerate(scores("L2", X, X[3])) if mask[i]})
    assert hit_ids(res) == [i for i, _ in want[:4]]
    # Key 2 lives in _default: not readable from p1.
    with milvus_error(1100, "some of the provided primary key IDs do not exist: missing IDs = "
                            "[2]: invalid parameter"):
        client.search("k", ids=[3, 2], limit=4, partition_names=["p1"])
    # A released partition's keys are missing too (Milvus: "missing IDs = [1 4 7]" once
    # partition_1 is released).
    client.release_partitions("k", ["p1"])
    with milvus_error(1100, "some of the provided primary key IDs do not exist: missing IDs = "
                            "[1 7]: invalid parameter"):
        client.search("k", ids=[0, 1, 2, 7], limit=4)
    res = client.search("k", ids=[0, 2], limit=3)
    for i, hits in zip([0, 2], res):
        want = ranked("L2", {j: float(v) for j, v in enumerate(scores("L2", X, X[i]))
                             if j % 2 == 0})
        assert hit_ids(hits) == [j for j, _ in want[:3]]


def test_not_loaded_collection_is_refused(client):
    build(client, n=20, load=False)
    with milvus_error(101, contains="collection not loaded"):
        client.search("k", ids=[1], anns_field="vec", limit=5)


def test_sealed_rows_through_the_index(client):
    data, _ = build(client, n=1200, index="HNSW")
    client.flush("k")
    desc = wait_index(client, "k", "vec", 1200)
    assert desc["indexed_rows"] == 1200
    ids = [0, 599, 1199]
    res = client.search("k", ids=ids, anns_field="vec", limit=10,
                        search_params={"params": {"ef": 200}})
    for i, hits in zip(ids, res):
        want = [j for j, _ in ranked("COSINE", by_id("COSINE", data["vec"], i))[:10]]
        assert hits[0]["id"] == i
        assert len(set(hit_ids(hits)) & set(want)) >= 9


def test_sole_vector_field_needs_no_anns_field(client):
    client.create_collection("q", dimension=5)  # quick setup: id, vector (COSINE), dynamic
    X = float_vectors(40, 5, seed=8)
    client.insert("q", [{"id": i, "vector": X[i].tolist(), "color": f"c{i % 3}"}
                        for i in range(40)])
    res = client.search("q", ids=[12], limit=5, output_fields=["color"])[0]
    want = ranked("COSINE", {i: float(v) for i, v in enumerate(scores("COSINE", X, X[12]))})[:5]
    assert hit_ids(res) == [i for i, _ in want]
    assert res[0]["entity"] == {"color": "c0"}


def test_nq_limit_checks_apply_to_keys(client):
    build(client, n=20)
    with milvus_error(65535, "topk [16385] is invalid, it should be in range [1, 16384], "
                             "but got 16385"):
        client.search("k", ids=[1], anns_field="vec", limit=16385)


@pytest.mark.parametrize("n_ids", [1, 5])
def test_result_count_per_key_follows_limit(client, n_ids):
    build(client, n=30)
    res = client.search("k", ids=list(range(n_ids)), anns_field="vec", limit=40)
    assert len(res) == n_ids
    assert all(len(hits) == 30 for hits in res)
