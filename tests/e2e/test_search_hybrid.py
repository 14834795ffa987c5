"""hybrid_search (RRFRanker, WeightedRanker) and search_iterator, against brute-force oracles.

Milvus 2.5/2.6 rules (proxy reScorer / internal/util/function/rerank, task_search.go
checkNq, pymilvus 3.0.2 SearchIteratorV2 with its V1 fallback); sources in
/tmp/notes/milvus-search.md:
  * every sub-request is an ordinary search (its own anns_field, metric, filter and limit);
  * RRF: score(id) = sum over sub-results of 1 / (k + rank), rank from 1 (default k = 60);
  * Weighted (norm_score=True, pymilvus's default): score(id) = sum w_i * norm_i(score_i) with
    norm COSINE (1+x)/2, IP 0.5 + atan(x)/pi, L2 (and other distances) 1 - 2*atan(x)/pi;
  * fused scores sorted descending, ties by the smaller pk; then offset, limit, round_decimal.
Where Milvus Lite differs the test follows Milvus and says so ("Lite differs")."""

import math

import pytest
from pymilvus import AnnSearchRequest, DataType, MilvusException, RRFRanker, WeightedRanker

from milvus_errors import milvus_error
from search_helpers import (
    assert_sorted, create, float_vectors, fused_order, insert_batches, oracle, rrf_fuse,
    schema_with, weighted_fuse,
)

DIM = 16
N = 500
METRICS = {"a": "L2", "b": "IP", "c": "COSINE"}


def build(client, n=N, load=True):
    """pk id, n INT64, cat VARCHAR and three vector fields a (L2), b (IP), c (COSINE), FLAT."""
    schema = schema_with(client, ("n", DataType.INT64, {}),
                         ("cat", DataType.VARCHAR, {"max_length": 8}),
                         *[(f, DataType.FLOAT_VECTOR, {"dim": DIM}) for f in METRICS])
    create(client, "h", schema, [(f, "FLAT", m, None) for f, m in METRICS.items()], load=load)
    data = {f: float_vectors(n, DIM, seed=10 + k) for k, f in enumerate(METRICS)}
    rows = [{"id": i, "n": i, "cat": f"c{i % 4}", **{f: data[f][i].tolist() for f in METRICS}}
            for i in range(n)]
    insert_batches(client, "h", rows)
    return data, rows


def sub_oracle(data, field, q, limit, mask=None):
    return oracle(METRICS[field], data[field], q, range(len(data[field])), limit, mask)


def qv(seed, nq=1):
    return float_vectors(nq, DIM, seed)


def req(field, q, limit, expr=None):
    return AnnSearchRequest(q.tolist(), field, {"metric_type": METRICS[field]}, limit, expr=expr)


def assert_fused(hits, want, tol=1e-5):
    assert [h["id"] for h in hits] == [i for i, _ in want], (
        [(h["id"], h["distance"]) for h in hits], want)
    for h, (_, s) in zip(hits, want):
        assert abs(h["distance"] - s) <= tol, (h["id"], h["distance"], s)


# ============================================================================================
# RRF


@pytest.mark.parametrize("k", [60, 10])
def test_rrf_matches_oracle(client, k):
    data, _ = build(client)
    qa, qb = qv(1)[0], qv(2)[0]
    ranker = RRFRanker() if k == 60 else RRFRanker(k)
    res = client.hybrid_search("h", [req("a", qa[None], 20), req("b", qb[None], 15)], ranker,
                               limit=10)
    want = fused_order(rrf_fuse([sub_oracle(data, "a", qa, 20), sub_oracle(data, "b", qb, 15)],
                                k), 10)
    assert len(res) == 1
    assert_fused(res[0], want, tol=1e-6)


def test_rrf_ties_go_to_the_smaller_pk(client):
    # Two requests whose rankings share no row: rank r in either gives 1/(60+r), so every
    # score appears twice and the smaller id comes first (newIDScores / rankSearchResultData).
    schema = schema_with(client, ("a", DataType.FLOAT_VECTOR, {"dim": 2}),
                         ("b", DataType.FLOAT_VECTOR, {"dim": 2}))
    create(client, "h", schema, [("a", "FLAT", "L2", None), ("b", "FLAT", "L2", None)])
    rows = [{"id": i, "a": [float(i), 0.0], "b": [float(i), 0.0]} for i in range(1, 9)]
    client.insert("h", rows)
    ra = AnnSearchRequest([[0.0, 0.0]], "a", {"metric_type": "L2"}, 3)   # ids 1, 2, 3
    rb = AnnSearchRequest([[100.0, 0.0]], "b", {"metric_type": "L2"}, 3)  # ids 8, 7, 6
    hits = client.hybrid_search("h", [ra, rb], RRFRanker(), limit=6)[0]
    assert [h["id"] for h in hits] == [1, 8, 2, 7, 3, 6]
    for h, rank in zip(hits, [1, 1, 2, 2, 3, 3]):
        assert abs(h["distance"] - 1 / (60 + rank)) <= 1e-7


def test_rrf_sub_request_filters_and_output_fields(client):
    data, rows = build(client)
    qa, qc = qv(3)[0], qv(4)[0]
    ma = [r["n"] < 250 for r in rows]
    mc = [r["cat"] in ("c1", "c2") for r in rows]
    res = client.hybrid_search("h", [req("a", qa[None], 25, "n < 250"),
                                     req("c", qc[None], 25, "cat in ['c1', 'c2']")],
                               RRFRanker(), limit=12, output_fields=["n", "cat"])
    want = fused_order(rrf_fuse([sub_oracle(data, "a", qa, 25, ma),
                                 sub_oracle(data, "c", qc, 25, mc)]), 12)
    assert_fused(res[0], want, tol=1e-6)
    for h in res[0]:
        assert h["entity"] == {"n": h["id"], "cat": rows[h["id"]]["cat"]}


def test_hybrid_default_output_is_pk_and_score_only(client):
    # Lite differs: it returns every field.
    build(client, n=50)
    hits = client.hybrid_search("h", [req("a", qv(5), 5), req("b", qv(6), 5)], RRFRanker(),
                                limit=3)[0]
    assert len(hits) == 3
    assert all(h["entity"] == {} for h in hits)


def test_hybrid_offset(client):
    data, _ = build(client)
    qa, qb = qv(7)[0], qv(8)[0]
    subs = [sub_oracle(data, "a", qa, 30), sub_oracle(data, "b", qb, 30)]
    fused = rrf_fuse(subs)
    for off in (0, 5, 20):
        res = client.hybrid_search("h", [req("a", qa[None], 30), req("b", qb[None], 30)],
                                   RRFRanker(), limit=10, offset=off)
        assert_fused(res[0], fused_order(fused, 10, off), tol=1e-6)


def test_hybrid_many_queries(client):
    data, _ = build(client)
    QA, QB = qv(9, nq=3), qv(10, nq=3)
    res = client.hybrid_search("h", [req("a", QA, 10), req("b", QB, 10)], RRFRanker(), limit=5)
    assert len(res) == 3
    for qa, qb, hits in zip(QA, QB, res):
        want = fused_order(rrf_fuse([sub_oracle(data, "a", qa, 10),
                                     sub_oracle(data, "b", qb, 10)]), 5)
        assert_fused(hits, want, tol=1e-6)


def test_hybrid_round_decimal(client):
    # round_decimal goes to every sub-request (segcore rounds their scores) and to the rank
    # params (the fused score is rounded with floor(x * 10^r + 0.5) / 10^r after sorting).
    data, _ = build(client)
    qa, qb = qv(11)[0], qv(12)[0]
    want = fused_order(rrf_fuse([sub_oracle(data, "a", qa, 20), sub_oracle(data, "b", qb, 20)]),
                       8)
    hits = client.hybrid_search("h", [req("a", qa[None], 20), req("b", qb[None], 20)],
                                RRFRanker(), limit=8, round_decimal=4)[0]
    assert [h["id"] for h in hits] == [i for i, _ in want]
    for h, (_, s) in zip(hits, want):
        assert abs(h["distance"] - math.floor(s * 1e4 + 0.5) / 1e4) <= 1e-7


def test_hybrid_partitions(client):
    schema = schema_with(client, ("a", DataType.FLOAT_VECTOR, {"dim": DIM}),
                         ("b", DataType.FLOAT_VECTOR, {"dim": DIM}))
    create(client, "h", schema, [("a", "FLAT", "L2", None), ("b", "FLAT", "IP", None)],
           load=False)
    client.create_partition("h", "p1")
    A, B = float_vectors(300, DIM, 20), float_vectors(300, DIM, 21)
    for part, ids in (("_default", range(0, 300, 2)), ("p1", range(1, 300, 2))):
        client.insert("h", [{"id": i, "a": A[i].tolist(), "b": B[i].tolist()} for i in ids],
                      partition_name=part)
    client.load_collection("h")
    qa, qb = qv(13)[0], qv(14)[0]
    mask = [i % 2 == 1 for i in range(300)]
    subs = [oracle("L2", A, qa, range(300), 10, mask), oracle("IP", B, qb, range(300), 10, mask)]
    res = client.hybrid_search("h", [AnnSearchRequest([qa.tolist()], "a", {"metric_type": "L2"}, 10),
                                     AnnSearchRequest([qb.tolist()], "b", {"metric_type": "IP"}, 10)],
                               RRFRanker(), limit=8, partition_names=["p1"])
    assert_fused(res[0], fused_order(rrf_fuse(subs), 8), tol=1e-6)


# ============================================================================================
# Weighted


@pytest.mark.parametrize("fields,weights", [
    (("a", "b"), (0.3, 0.7)),
    (("a", "c"), (1.0, 0.25)),
    (("b", "c", "a"), (0.2, 0.5, 0.3)),
], ids=["L2+IP", "L2+COSINE", "IP+COSINE+L2"])
def test_weighted_matches_oracle(client, fields, weights):
    data, _ = build(client)
    qs = {f: qv(30 + k)[0] for k, f in enumerate(fields)}
    subs = [sub_oracle(data, f, qs[f], 15) for f in fields]
    want = fused_order(weighted_fuse(subs, [METRICS[f] for f in fields], weights), 10)
    res = client.hybrid_search("h", [req(f, qs[f][None], 15) for f in fields],
                               WeightedRanker(*weights), limit=10)
    assert_fused(res[0], want)


def test_weighted_single_request_orders_like_the_search(client):
    # One request with weight 1: the order is the plain search's, scores normalised.
    data, _ = build(client)
    qa = qv(40)[0]
    sub = sub_oracle(data, "a", qa, 10)
    hits = client.hybrid_search("h", [req("a", qa[None], 10)], WeightedRanker(1.0), limit=10)[0]
    assert [h["id"] for h in hits] == [i for i, _ in sub]
    for h, (_, d) in zip(hits, sub):
        assert abs(h["distance"] - (1 - 2 * math.atan(d) / math.pi)) <= 1e-5
    assert_sorted("IP", [h["distance"] for h in hits])


# ============================================================================================
# refusals


def test_weights_count_must_match_requests(client):
    # Milvus: 1100 "the length of weights param mismatch with ann search requests:
    # invalid parameter[expected=2][actual=1]". Lite differs (code 1, its own text).
    build(client, n=20)
    with milvus_error(1100, "the length of weights param mismatch with ann search requests: "
                            "invalid parameter[expected=2][actual=1]"):
        client.hybrid_search("h", [req("a", qv(1), 5), req("b", qv(2), 5)],
                             WeightedRanker(0.5), limit=5)


def test_weight_out_of_range_refused(client):
    # Lite differs (answers).
    build(client, n=20)
    with pytest.raises(MilvusException) as info:
        client.hybrid_search("h", [req("a", qv(1), 5), req("b", qv(2), 5)],
                             WeightedRanker(0.5, 1.5), limit=5)
    assert "rank param weight should be in range [0, 1]" in info.value.message


@pytest.mark.parametrize("k", [0, 16384])
def test_rrf_k_out_of_range_refused(client, k):
    # Lite differs (answers).
    build(client, n=20)
    with pytest.raises(MilvusException) as info:
        client.hybrid_search("h", [req("a", qv(1), 5), req("b", qv(2), 5)], RRFRanker(k),
                             limit=5)
    assert "The rank params k should be in range (0, 16384)" in info.value.message


def test_sub_requests_need_the_same_nq(client):
    build(client, n=20)
    with milvus_error(1100, "sub search request nq should be the same: "
                            "invalid parameter[expected=1][actual=2]"):
        client.hybrid_search("h", [req("a", qv(1, nq=1), 5), req("b", qv(2, nq=2), 5)],
                             RRFRanker(), limit=5)


def test_hybrid_sub_request_metric_mismatch_refused(client):
    build(client, n=20)
    bad = AnnSearchRequest(qv(2).tolist(), "b", {"metric_type": "L2"}, 5)  # b is IP
    with milvus_error(1100, contains="metric type not match"):
        client.hybrid_search("h", [req("a", qv(1), 5), bad], RRFRanker(), limit=5)


def test_hybrid_not_loaded_refused(client):
    build(client, n=20, load=False)
    with milvus_error(101, contains="collection not loaded"):
        client.hybrid_search("h", [req("a", qv(1), 5), req("b", qv(2), 5)], RRFRanker(),
                             limit=5)


# ============================================================================================
# search_iterator (pymilvus 3.0.2 tries iterator V2, falling back to V1 range searches)


def iterate(it):
    pages = []
    while True:
        page = it.next()
        # Iterator V2 answers None once `limit` rows were returned, V1 an empty page.
        if page is None or len(page) == 0:
            break
        pages.append(list(page))
        assert len(pages) < 100, "iterator does not end"
    it.close()
    return pages


@pytest.mark.parametrize("metric", ["L2", "IP"])
def test_search_iterator_walks_the_whole_ranking(client, metric):
    field = "a" if metric == "L2" else "b"
    data, _ = build(client, n=300)
    q = qv(50)[0]
    it = client.search_iterator("h", [q.tolist()], batch_size=40, anns_field=field,
                                search_params={"metric_type": metric})
    pages = iterate(it)
    assert [len(p) for p in pages] == [40] * 7 + [20]
    hits = [h for p in pages for h in p]
    want = sub_oracle(data, field, q, None)
    assert [h["id"] for h in hits] == [i for i, _ in want]
    for h, (_, s) in zip(hits, want):
        assert abs(h["distance"] - s) <= 1e-4 * max(1.0, abs(s))


def test_search_iterator_limit_filter_and_output_fields(client):
    data, rows = build(client, n=300)
    q = qv(51)[0]
    it = client.search_iterator("h", [q.tolist()], batch_size=25, limit=60, filter="n >= 100",
                                anns_field="c", search_params={"metric_type": "COSINE"},
                                output_fields=["cat"])
    pages = iterate(it)
    assert [len(p) for p in pages] == [25, 25, 10]
    hits = [h for p in pages for h in p]
    want = sub_oracle(data, "c", q, 60, [r["n"] >= 100 for r in rows])
    assert [h["id"] for h in hits] == [i for i, _ in want]
    assert all(h["entity"]["cat"] == rows[h["id"]]["cat"] for h in hits)
