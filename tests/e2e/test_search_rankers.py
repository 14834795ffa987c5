"""Function rankers (pymilvus `Function(..., FunctionType.RERANK, params={"reranker": ...})`
given as `ranker=` to search and hybrid_search) and group-by in hybrid_search.

Milvus 2.6 (internal/util/function/rerank: function_score.go, rerank_base.go, decay_function.go,
rrf_function.go, weighted_function.go, util.go; internal/proxy task_search.go /
search_pipeline.go; docs decay-ranker-overview.md), with numpy oracles:
  * decay: each score made larger-is-closer (COSINE/IP as is, distances 1 - 2*atan(x)/pi), the
    best across the sub-searches kept, times gauss/exp/linear of the row's numeric field;
    sorted descending, ties by the smaller pk. In a plain search the page the search's offset
    and limit select is reranked (the offset is applied before the ranker). Decay cannot group.
  * rrf / weighted as functions: the same scores as RRFRanker / WeightedRanker.
  * hybrid group-by: every sub-search is a group-by search (its limit in groups, group_size
    and strict from the rank params), RRF ranks are positions in those grouped lists; the fused
    rows are grouped again (max/sum/avg group score), offset/limit count groups, strict drops
    short groups afterwards.
  * model rerankers call external services: rivus refuses them (3000, unsupported operation).
Errors from the function checks are plain Milvus errors (65535) with Milvus's texts."""

import math

import numpy as np
import pytest
from pymilvus import (
    AnnSearchRequest, DataType, Function, FunctionType, RRFRanker, WeightedRanker,
)

from milvus_errors import milvus_error
from search_helpers import (
    create, decay_fuse, float_vectors, fused_order, grouped_fused_order, grouped_sub_oracle,
    insert_batches, normalize, oracle, ranked, rrf_fuse, schema_with, scores, to_greater,
    weighted_fuse,
)

DIM = 12
N = 600
METRICS = {"a": "L2", "b": "COSINE"}
CATS = ["w", "x", "y", "z"]


def build(client, n=N, load=True):
    """id; ts INT64, price FLOAT, d DOUBLE, i8 INT8, cat VARCHAR, maybe INT64 (nullable);
    vectors a (L2) and b (COSINE), FLAT."""
    schema = schema_with(client, ("ts", DataType.INT64, {}), ("price", DataType.FLOAT, {}),
                         ("d", DataType.DOUBLE, {}), ("i8", DataType.INT8, {}),
                         ("cat", DataType.VARCHAR, {"max_length": 4}),
                         ("maybe", DataType.INT64, {"nullable": True}),
                         *[(f, DataType.FLOAT_VECTOR, {"dim": DIM}) for f in METRICS])
    create(client, "r", schema, [(f, "FLAT", m, None) for f, m in METRICS.items()], load=load)
    data = {f: float_vectors(n, DIM, seed=40 + k) for k, f in enumerate(METRICS)}
    rng = np.random.default_rng(7)
    ts = rng.integers(0, 1000, size=n)
    price = rng.uniform(0, 50, size=n).astype(np.float32)
    rows = [{"id": i, "ts": int(ts[i]), "price": float(price[i]), "d": float(i) / 3.0,
             "i8": int(i % 100) - 50, "cat": CATS[i % 4], "maybe": None,
             **{f: data[f][i].tolist() for f in METRICS}} for i in range(n)]
    insert_batches(client, "r", rows, batch=300)
    return data, rows


def q(seed):
    return float_vectors(1, DIM, seed)[0]


def decay(function, field="ts", origin=500, scale=100, offset=0, decay=0.5, **extra):
    """A decay Function; a parameter given as None is left out."""
    params = {"reranker": "decay", "function": function, "origin": origin, "scale": scale,
              "offset": offset, "decay": decay, **extra}
    params = {k: v for k, v in params.items() if v is not None}
    return Function("dr", input_field_names=[field], function_type=FunctionType.RERANK,
                    params=params)


def function(reranker, inputs=(), **params):
    return Function("fr", input_field_names=list(inputs), function_type=FunctionType.RERANK,
                    params={"reranker": reranker, **params})


def sub_oracle(data, field, qv, limit, mask=None):
    return oracle(METRICS[field], data[field], qv, range(len(data[field])), limit, mask)


def assert_hits(hits, want, tol=1e-5):
    assert [h["id"] for h in hits] == [i for i, _ in want], (
        [(h["id"], h["distance"]) for h in hits], want)
    for h, (_, s) in zip(hits, want):
        assert abs(h["distance"] - s) <= tol * max(1.0, abs(s)), (h["id"], h["distance"], s)


def value_of(rows, field):
    return lambda i: rows[i][field]


# ============================================================================================
# decay in search


@pytest.mark.parametrize("fn", ["gauss", "exp", "linear"])
@pytest.mark.parametrize("field", ["a", "b"])
def test_decay_reranks_the_page(client, fn, field):
    data, rows = build(client)
    qv = q(1)
    page = sub_oracle(data, field, qv, 20)
    params = dict(function=fn, origin=400, scale=150, offset=20, decay=0.3)
    want = fused_order(decay_fuse([page], [METRICS[field]], value_of(rows, "ts"), **params), 20)
    hits = client.search("r", [qv.tolist()], anns_field=field, limit=20, output_fields=["ts"],
                         ranker=decay(fn, origin=400, scale=150, offset=20, decay=0.3))[0]
    assert_hits(hits, want)
    for h in hits:
        assert h["entity"] == {"ts": rows[h["id"]]["ts"]}


@pytest.mark.parametrize("field", ["price", "d", "i8"])
def test_decay_on_float_double_and_int8_fields(client, field):
    data, rows = build(client)
    qv = q(2)
    page = sub_oracle(data, "b", qv, 15)
    params = dict(function="gauss", origin=10, scale=5, offset=0, decay=0.5)
    want = fused_order(decay_fuse([page], ["COSINE"], value_of(rows, field), **params), 15)
    hits = client.search("r", [qv.tolist()], anns_field="b", limit=15,
                         ranker=decay("gauss", field=field, origin=10, scale=5))[0]
    assert_hits(hits, want)


def test_decay_defaults_offset_zero_and_decay_half(client):
    data, rows = build(client)
    qv = q(3)
    page = sub_oracle(data, "a", qv, 10)
    want = fused_order(decay_fuse([page], ["L2"], value_of(rows, "ts"), function="exp",
                                  origin=0, scale=300, offset=0, decay=0.5), 10)
    hits = client.search("r", [qv.tolist()], anns_field="a", limit=10,
                         ranker=decay("exp", origin=0, scale=300, offset=None, decay=None))[0]
    assert_hits(hits, want)


def test_decay_with_offset_filter_round_decimal_and_nq(client):
    data, rows = build(client)
    Q = float_vectors(3, DIM, seed=4)
    mask = [r["cat"] != "w" for r in rows]
    params = dict(function="linear", origin=700, scale=200, offset=0, decay=0.2)
    res = client.search("r", Q.tolist(), anns_field="b", limit=8, offset=5,
                        filter='cat != "w"', round_decimal=3,
                        ranker=decay("linear", origin=700, scale=200, decay=0.2))
    assert len(res) == 3
    for qv, hits in zip(Q, res):
        # The search's page (offset 5, limit 8; segcore rounds to 3 digits), then the ranker.
        page = [(i, round(s, 3)) for i, s in sub_oracle(data, "b", qv, 13, mask)[5:]]
        fused = decay_fuse([page], ["COSINE"], value_of(rows, "ts"), **params)
        order = sorted(fused.items(), key=lambda kv: (-kv[1], kv[0]))
        assert [h["id"] for h in hits] == [i for i, _ in order]
        for h, (_, s) in zip(hits, order):
            assert abs(h["distance"] - math.floor(s * 1e3 + 0.5) / 1e3) <= 1e-6


def test_rrf_and_weighted_functions_in_search(client):
    data, _ = build(client)
    qv = q(5)
    page = sub_oracle(data, "a", qv, 10)
    hits = client.search("r", [qv.tolist()], anns_field="a", limit=10,
                         ranker=function("rrf", k=20))[0]
    assert_hits(hits, fused_order(rrf_fuse([page], 20), 10), tol=1e-6)
    hits = client.search("r", [qv.tolist()], anns_field="a", limit=10,
                         ranker=function("weighted", weights=[0.5], norm_score=True))[0]
    assert_hits(hits, fused_order(weighted_fuse([page], ["L2"], [0.5]), 10))
    # Not normalised, one distance metric: raw distances, ascending (newIDScores).
    hits = client.search("r", [qv.tolist()], anns_field="a", limit=10,
                         ranker=function("weighted", weights=[1.0], norm_score=False))[0]
    assert_hits(hits, page)


# ============================================================================================
# function rankers in hybrid search


def reqs(qa, qb, la=20, lb=15):
    return [AnnSearchRequest([qa.tolist()], "a", {"metric_type": "L2"}, la),
            AnnSearchRequest([qb.tolist()], "b", {"metric_type": "COSINE"}, lb)]


def test_decay_in_hybrid_takes_the_best_score_of_the_searches(client):
    data, rows = build(client)
    qa, qb = q(6), q(7)
    subs = [sub_oracle(data, "a", qa, 20), sub_oracle(data, "b", qb, 15)]
    params = dict(function="gauss", origin=300, scale=200, offset=50, decay=0.4)
    fused = decay_fuse(subs, ["L2", "COSINE"], value_of(rows, "ts"), **params)
    for off in (0, 4):
        hits = client.hybrid_search("r", reqs(qa, qb), decay("gauss", origin=300, scale=200,
                                                             offset=50, decay=0.4),
                                    limit=10, offset=off, output_fields=["ts"])[0]
        assert_hits(hits, fused_order(fused, 10, off))


def test_rrf_and_weighted_functions_match_the_classic_rankers(client):
    data, _ = build(client)
    qa, qb = q(8), q(9)
    subs = [sub_oracle(data, "a", qa, 20), sub_oracle(data, "b", qb, 15)]
    classic = client.hybrid_search("r", reqs(qa, qb), RRFRanker(30), limit=12)[0]
    hits = client.hybrid_search("r", reqs(qa, qb), function("rrf", k=30), limit=12)[0]
    want = fused_order(rrf_fuse(subs, 30), 12)
    assert_hits(hits, want, tol=1e-6)
    assert [h["id"] for h in classic] == [h["id"] for h in hits]
    hits = client.hybrid_search("r", reqs(qa, qb),
                                function("weighted", weights=[0.3, 0.7], norm_score=True),
                                limit=12)[0]
    assert_hits(hits, fused_order(weighted_fuse(subs, ["L2", "COSINE"], [0.3, 0.7]), 12))
    # norm_score False with mixed metrics: the L2 distances are flipped, COSINE kept.
    hits = client.hybrid_search("r", reqs(qa, qb),
                                function("weighted", weights=[0.3, 0.7], norm_score=False),
                                limit=12)[0]
    fused = {}
    for res, metric, w in zip(subs, ["L2", "COSINE"], [0.3, 0.7]):
        for i, s in res:
            fused[i] = fused.get(i, 0.0) + w * float(to_greater(metric, s))
    assert_hits(hits, fused_order(fused, 12))


def test_weighted_ranker_without_normalisation_on_distances_sorts_ascending(client):
    data, _ = build(client)
    qa, qa2 = q(10), q(11)
    subs = [sub_oracle(data, "a", qa, 10), sub_oracle(data, "a", qa2, 10)]
    hits = client.hybrid_search(
        "r", [AnnSearchRequest([qa.tolist()], "a", {"metric_type": "L2"}, 10),
              AnnSearchRequest([qa2.tolist()], "a", {"metric_type": "L2"}, 10)],
        WeightedRanker(0.5, 0.5, norm_score=False), limit=8)[0]
    fused = {}
    for res in subs:
        for i, s in res:
            fused[i] = fused.get(i, 0.0) + 0.5 * s
    want = sorted(fused.items(), key=lambda kv: (kv[1], kv[0]))[:8]
    assert_hits(hits, want)


# ============================================================================================
# group-by in hybrid search


def grouped_subs(data, rows, qa, qb, la, lb, size):
    cat = value_of(rows, "cat")
    sa = {i: float(v) for i, v in enumerate(scores("L2", data["a"], qa))}
    sb = {i: float(v) for i, v in enumerate(scores("COSINE", data["b"], qb))}
    return [grouped_sub_oracle("L2", sa, cat, la, size),
            grouped_sub_oracle("COSINE", sb, cat, lb, size)]


@pytest.mark.parametrize("scorer", [None, "max", "sum", "avg"])
def test_hybrid_group_by_rrf(client, scorer):
    data, rows = build(client)
    qa, qb = q(12), q(13)
    subs = grouped_subs(data, rows, qa, qb, 3, 4, 2)
    kw = {} if scorer is None else {"rank_group_scorer": scorer}
    hits = client.hybrid_search("r", reqs(qa, qb, 3, 4), RRFRanker(), limit=3,
                                group_by_field="cat", group_size=2, strict_group_size=True,
                                output_fields=["cat"], **kw)[0]
    want = grouped_fused_order(rrf_fuse(subs), value_of(rows, "cat"), 3, 2,
                               scorer=scorer or "max", strict=True)
    assert_hits(hits, want, tol=1e-6)
    for h in hits:
        assert h["entity"] == {"cat": rows[h["id"]]["cat"]}


def test_hybrid_group_by_weighted_offset_and_strict(client):
    data, rows = build(client)
    qa, qb = q(14), q(15)
    subs = grouped_subs(data, rows, qa, qb, 4, 4, 3)
    fused = weighted_fuse(subs, ["L2", "COSINE"], [0.6, 0.4])
    for off in (0, 1, 3):
        hits = client.hybrid_search("r", reqs(qa, qb, 4, 4), WeightedRanker(0.6, 0.4),
                                    limit=2, offset=off, group_by_field="cat", group_size=3,
                                    strict_group_size=True)[0]
        assert_hits(hits, grouped_fused_order(fused, value_of(rows, "cat"), 2, 3, offset=off,
                                              strict=True))


def test_hybrid_group_by_with_an_rrf_function(client):
    data, rows = build(client)
    qa, qb = q(16), q(17)
    subs = grouped_subs(data, rows, qa, qb, 4, 2, 1)
    hits = client.hybrid_search("r", reqs(qa, qb, 4, 2), function("rrf", k=10), limit=4,
                                group_by_field="cat", strict_group_size=True)[0]
    assert_hits(hits, grouped_fused_order(rrf_fuse(subs, 10), value_of(rows, "cat"), 4, 1,
                                          strict=True), tol=1e-6)
    assert len({rows[h["id"]]["cat"] for h in hits}) == len(hits)


def test_hybrid_group_by_refusals(client):
    build(client, n=40)
    qa, qb = q(18), q(19)
    with milvus_error(1700, "groupBy field not found in schema: field not found[field=nope]"):
        client.hybrid_search("r", reqs(qa, qb), RRFRanker(), limit=3, group_by_field="nope")
    with milvus_error(1100, "input group size:11 exceeds configured max group size:10: "
                            "invalid parameter"):
        client.hybrid_search("r", reqs(qa, qb), RRFRanker(), limit=3, group_by_field="cat",
                             group_size=11)
    with milvus_error(1100, "input group scorer type: median is not supported!: "
                            "invalid parameter"):
        client.hybrid_search("r", reqs(qa, qb), RRFRanker(), limit=3, group_by_field="cat",
                             rank_group_scorer="median")
    with milvus_error(1100, "Current rerank does not support grouping search: "
                            "invalid parameter"):
        client.hybrid_search("r", reqs(qa, qb), decay("gauss"), limit=3, group_by_field="cat")
    with milvus_error(65535, contains="unsupported data type FLOAT for group by operator"):
        client.hybrid_search("r", reqs(qa, qb), RRFRanker(), limit=3, group_by_field="price")


# ============================================================================================
# refusals


def test_decay_with_group_by_in_search_is_refused(client):
    build(client, n=40)
    with milvus_error(1100, "Current rerank does not support grouping search: "
                            "invalid parameter"):
        client.search("r", [q(20).tolist()], anns_field="a", limit=3, group_by_field="cat",
                      ranker=decay("exp"))


@pytest.mark.parametrize("ranker,message", [
    (decay("gauss", origin=None), "Decay function lost param: origin"),
    (decay("gauss", scale=None), "Decay function lost param: scale"),
    (decay("gauss", scale=0), "Decay function param: scale must > 0, but got 0.000000"),
    (decay("gauss", offset=-1), "Decay function param: offset must >= 0, but got -1.000000"),
    (decay("gauss", decay=1), "Decay function param: decay must 0 < decay < 1, but got 1.000000"),
    (decay("gauss", origin="soon"), "Param origin:soon is not a number"),
    (decay("cubic"), "Invaild decay function: decay, only support [gauss,linear,exp]"),
    (decay("gauss", field="cat"),
     "Decay rerank: unsupported input field type:VarChar, only support numberic field"),
    (decay("gauss", field="nope"), "Function input field not found: nope"),
    (decay("gauss", field="maybe"), "Function input field cannot be nullable: field maybe"),
    (function("decay", ["ts", "price"], function="gauss", origin=1, scale=1),
     "Decay function only supoorts single input, but gets [[ts price]] input"),
    (function("rrf", ["ts"]), "The rrf function does not support input parameters, but got [ts]"),
    (function("rrf", k=0), "The rank params k should be in range (0, 16384)"),
    (function("weighted"), "weights not found"),
    (function("weighted", weights=[2.0]), "rank param weight should be in range [0, 1]"),
    (function("cohere"),
     "Unsupported rerank function: [cohere] , list of supported [decay,model,rrf,weighted]"),
])
def test_function_ranker_checks(client, ranker, message):
    build(client, n=30)
    with milvus_error(65535, message):
        client.search("r", [q(21).tolist()], anns_field="a", limit=5, ranker=ranker)


def test_decay_parameters_rivus_does_not_read_are_refused(client):
    build(client, n=30)
    with milvus_error(65535, contains="parameter score_mode of the decay reranker is not "
                                      "supported by rivus"):
        client.search("r", [q(22).tolist()], anns_field="a", limit=5,
                      ranker=decay("gauss", score_mode="max"))


def test_model_rerankers_are_refused(client):
    build(client, n=30)
    model = Function("m", input_field_names=["cat"], function_type=FunctionType.RERANK,
                     params={"reranker": "model", "provider": "tei", "queries": ["q"],
                             "endpoint": "http://localhost:8080"})
    with milvus_error(3000, contains="rivus does not support them"):
        client.search("r", [q(23).tolist()], anns_field="a", limit=5, ranker=model)
    with milvus_error(3000, contains="rivus does not support them"):
        client.hybrid_search("r", reqs(q(24), q(25)), model, limit=5)


def test_weighted_function_needs_one_weight_per_request(client):
    build(client, n=30)
    with milvus_error(1100, "the length of weights param mismatch with ann search requests: "
                            "invalid parameter[expected=2][actual=1]"):
        client.hybrid_search("r", reqs(q(26), q(27)), function("weighted", weights=[0.5]),
                             limit=5)


def test_rankers_on_an_unloaded_collection(client):
    build(client, n=20, load=False)
    with milvus_error(101, contains="collection not loaded"):
        client.search("r", [q(28).tolist()], anns_field="a", limit=5, ranker=decay("exp"))


def test_normalisation_helper_matches_milvus():
    # The oracle's own sanity: COSINE (1+x)/2, IP 0.5+atan(x)/pi, L2 1-2atan(x)/pi.
    assert normalize("COSINE", 0.5) == 0.75
    assert abs(normalize("L2", 1.0) - 0.5) < 1e-12
    assert abs(float(to_greater("L2", 1.0)) - 0.5) < 1e-6
    assert ranked("L2", {1: 0.5, 2: 0.5}) == [(1, 0.5), (2, 0.5)]
