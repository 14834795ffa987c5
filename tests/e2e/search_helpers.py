"""Helpers the vector-search e2e files share: seeded data, brute-force oracles with Milvus's
score conventions, top-k assertions that tolerate float32 rounding and exact ties, index
building/loading, and a raw gRPC search for checks pymilvus would refuse client-side.

Milvus's score conventions (what `hit["distance"]` carries):
  L2      squared Euclidean distance, ascending (smaller is closer)
  IP      inner product, descending
  COSINE  cosine similarity, descending (vectors are normalised by the server)
  HAMMING number of differing bits, ascending
  JACCARD 1 - |a & b| / |a | b|, ascending
The semantic notes (with sources) are in /tmp/notes/milvus-search.md.
"""

import json
import math
import time
from urllib.parse import urlparse

import grpc
import numpy as np
from pymilvus import DataType
from pymilvus.grpc_gen import common_pb2, milvus_pb2, milvus_pb2_grpc

POSITIVE = {"IP", "COSINE", "BM25"}  # larger score = closer
TOL = 1e-4


# --------------------------------------------------------------------------------------------
# data


def float_vectors(n, dim, seed=0):
    return np.random.default_rng(seed).standard_normal((n, dim)).astype(np.float32)


def binary_vectors(n, dim, seed=0):
    """(packed bytes per row, unpacked 0/1 matrix); dim is a multiple of 8."""
    bits = np.random.default_rng(seed).integers(0, 2, size=(n, dim), dtype=np.uint8)
    packed = np.packbits(bits, axis=1)
    return [bytes(row) for row in packed], bits


def sparse_vectors(n, vocab=50, nnz=6, seed=0, common_dim=0):
    """Sparse rows as {index: value}; every row has `common_dim` (so every row overlaps every
    query that uses it: scores are never 0 and the top-k is always full)."""
    rng = np.random.default_rng(seed)
    rows = []
    for _ in range(n):
        idx = rng.choice(np.arange(1, vocab), size=nnz - 1, replace=False)
        row = {int(i): float(np.float32(rng.uniform(0.05, 1.0))) for i in idx}
        row[common_dim] = float(np.float32(rng.uniform(0.05, 1.0)))
        rows.append(row)
    return rows


# --------------------------------------------------------------------------------------------
# oracles


def scores(metric, X, q):
    """Milvus's score of every row of X for the query q (float64)."""
    X = np.asarray(X, dtype=np.float64)
    q = np.asarray(q, dtype=np.float64)
    if metric == "L2":
        return ((X - q) ** 2).sum(axis=1)
    if metric == "IP":
        return X @ q
    if metric == "COSINE":
        return (X @ q) / (np.linalg.norm(X, axis=1) * np.linalg.norm(q))
    if metric == "HAMMING":
        return (X.astype(np.uint8) != q.astype(np.uint8)).sum(axis=1).astype(np.float64)
    if metric == "JACCARD":
        a, b = X.astype(bool), q.astype(bool)
        inter = (a & b).sum(axis=1)
        union = (a | b).sum(axis=1)
        return 1.0 - inter / np.maximum(union, 1)
    raise ValueError(metric)


def sparse_ip(rows, q):
    return np.array([sum(v * q.get(k, 0.0) for k, v in r.items()) for r in rows])


def ranked(metric, score_by_id, k=None):
    """[(id, score)] best first; ties by smaller id (Milvus's reduce picks the smaller pk)."""
    sign = -1.0 if metric in POSITIVE else 1.0
    out = sorted(score_by_id.items(), key=lambda kv: (sign * kv[1], kv[0]))
    return out if k is None else out[:k]


def oracle(metric, X, q, ids, k=None, mask=None):
    s = scores(metric, X, q)
    pairs = {int(i): float(v) for i, v, m in zip(ids, s, mask if mask is not None else
                                                  [True] * len(ids)) if m}
    return ranked(metric, pairs, k)


def close(a, b, tol=TOL):
    return abs(a - b) <= tol * max(1.0, abs(b))


# --------------------------------------------------------------------------------------------
# result accessors and assertions


def hit_ids(hits, pk="id"):
    return [h[pk] for h in hits]


def hit_dists(hits):
    return [h["distance"] for h in hits]


def assert_sorted(metric, dists):
    for a, b in zip(dists, dists[1:]):
        if metric in POSITIVE:
            assert a >= b - 1e-6, f"{metric} scores not descending: {dists}"
        else:
            assert a <= b + 1e-6, f"{metric} distances not ascending: {dists}"


def assert_exact_topk(metric, hits, all_scores, k, pk="id", tol=TOL):
    """hits are an exact top-k of all_scores ({id: score}): right length, every distance is
    that row's true score, sorted the metric's way, and the multiset of scores equals the
    true top-k's (so ties at the cut may pick either row, anything else fails)."""
    want = ranked(metric, all_scores, k)
    got_ids = hit_ids(hits, pk)
    got = hit_dists(hits)
    assert len(hits) == len(want), (len(hits), len(want), got_ids)
    assert len(set(got_ids)) == len(got_ids), f"duplicate ids {got_ids}"
    for i, d in zip(got_ids, got):
        assert i in all_scores, f"id {i} is not a candidate"
        assert close(d, all_scores[i], tol), f"id {i}: distance {d} != {all_scores[i]}"
    assert_sorted(metric, got)
    for g, (_, w) in zip(got, want):
        assert close(g, w, tol), f"returned scores {got} are not the top-k {[s for _, s in want]}"


def recall(got_ids, want_ids):
    want = set(want_ids)
    return len(want & set(got_ids)) / max(1, len(want))


# --------------------------------------------------------------------------------------------
# collections


def schema_with(client, *fields, dynamic=False, pk_type=DataType.INT64, **pk_kw):
    """A schema: pk `id` plus (name, DataType, kwargs) fields."""
    s = client.create_schema(enable_dynamic_field=dynamic)
    s.add_field("id", pk_type, is_primary=True, **pk_kw)
    for name, ftype, kw in fields:
        s.add_field(name, ftype, **kw)
    return s


def create(client, name, schema, indexes=(), load=True):
    """Creates the collection (Strong consistency, so a search right after an insert sees
    it on a real Milvus too), declares the indexes ((field, index_type, metric, params))
    without waiting for a build, and loads it unless load=False."""
    client.create_collection(name, schema=schema, consistency_level="Strong")
    if indexes:
        ip = client.prepare_index_params()
        for field, itype, metric, params in indexes:
            kw = {"index_type": itype}
            if metric:
                kw["metric_type"] = metric
            if params:
                kw["params"] = params
            ip.add_index(field, **kw)
        client.create_index(name, ip, sync=False)  # skips pymilvus's 0.5 s build wait
    if load:
        client.load_collection(name)


def insert_batches(client, name, rows, batch=1000, **kw):
    for i in range(0, len(rows), batch):
        client.insert(name, rows[i:i + batch], **kw)


def wait_index(client, collection, index_name, rows, timeout=30.0):
    """Polls describe_index until indexed_rows reaches `rows` (Milvus builds asynchronously
    after a flush); returns the last description."""
    deadline = time.time() + timeout
    desc = client.describe_index(collection, index_name)
    while time.time() < deadline:
        desc = client.describe_index(collection, index_name)
        if desc and desc.get("indexed_rows") == rows and desc.get("pending_index_rows") == 0:
            return desc
        time.sleep(0.2)
    return desc


# --------------------------------------------------------------------------------------------
# raw gRPC (for server-side checks pymilvus refuses before sending)


def raw_stub(uri):
    u = urlparse(uri)
    channel = grpc.insecure_channel(f"{u.hostname}:{u.port}")
    return milvus_pb2_grpc.MilvusServiceStub(channel)


def raw_search(stub, collection, vectors, params, output_fields=(), dsl=""):
    """A SearchRequest with the given search_params ({key: value}, values sent as JSON text
    like pymilvus does) and float vectors; returns the SearchResults reply."""
    ph = common_pb2.PlaceholderValue(
        tag="$0", type=common_pb2.PlaceholderType.FloatVector,
        values=[np.asarray(v, dtype=np.float32).tobytes() for v in vectors])
    group = common_pb2.PlaceholderGroup(placeholders=[ph]).SerializeToString()
    kvs = [common_pb2.KeyValuePair(key=k, value=v if isinstance(v, str) else json.dumps(v))
           for k, v in params.items()]
    req = milvus_pb2.SearchRequest(
        collection_name=collection, dsl=dsl, dsl_type=common_pb2.DslType.BoolExprV1,
        placeholder_group=group, search_params=kvs, output_fields=list(output_fields),
        nq=len(vectors), use_default_consistency=True)
    return stub.Search(req)


# --------------------------------------------------------------------------------------------
# hybrid-search oracles (Milvus 2.5/2.6 proxy reScorer / rerank functions)


def rrf_fuse(sub_results, k=60):
    """sub_results: per request, ranked [(id, score)]. score = sum 1/(k + rank), rank from 1,
    accumulated in float32 in request order (as Milvus does)."""
    fused = {}
    for res in sub_results:
        for rank, (i, _) in enumerate(res, start=1):
            term = np.float32(1.0) / (np.float32(k) + np.float32(rank))
            fused[i] = np.float32(fused.get(i, np.float32(0.0)) + term)
    return {i: float(v) for i, v in fused.items()}


def normalize(metric, d):
    """WeightedRanker's score normalisation (norm_score=True, pymilvus's default)."""
    if metric == "COSINE":
        return (1.0 + d) * 0.5
    if metric == "IP":
        return 0.5 + math.atan(d) / math.pi
    if metric == "BM25":
        return 2.0 * math.atan(d) / math.pi
    return 1.0 - 2.0 * math.atan(d) / math.pi  # L2, HAMMING, JACCARD, ...


def weighted_fuse(sub_results, metrics, weights):
    fused = {}
    for res, metric, w in zip(sub_results, metrics, weights):
        for i, s in res:
            fused[i] = fused.get(i, 0.0) + w * normalize(metric, s)
    return fused


def fused_order(fused, limit, offset=0):
    """Descending by fused score, ties by smaller id; then offset/limit."""
    order = sorted(fused.items(), key=lambda kv: (-kv[1], kv[0]))
    return order[offset:offset + limit]


# --------------------------------------------------------------------------------------------
# function rankers and hybrid group-by (Milvus 2.6 internal/util/function/rerank: util.go,
# decay_function.go; all arithmetic in float32 as Milvus does)


def to_greater(metric, s):
    """A score made larger-is-closer (toGreaterScore): distances through 1 - 2*atan(x)/pi."""
    if metric in POSITIVE:
        return np.float32(s)
    return np.float32(1.0) - np.float32(2.0) * np.float32(math.atan(float(np.float32(s)))) / \
        np.float32(math.pi)


def decay_factor(function, origin, scale, offset, decay, value):
    """gauss exp(ln(decay) d^2 / scale^2), exp exp(ln(decay) / scale * d), linear
    max(decay, 1 - (1 - decay) / scale * d), d = max(0, |value - origin| - offset)."""
    d = max(0.0, abs(float(value) - origin) - offset)
    if function == "gauss":
        return math.exp(d * d / (scale * scale / math.log(decay)))
    if function == "exp":
        return math.exp(math.log(decay) / scale * d)
    if function == "linear":
        return max(decay, 1.0 - (1.0 - decay) / scale * d)
    raise ValueError(function)


def decay_fuse(sub_results, metrics, value_of, **decay):
    """Best larger-is-closer score across the sub-results, times the decay factor (float32)."""
    best = {}
    for res, metric in zip(sub_results, metrics):
        for i, s in res:
            g = to_greater(metric, s)
            best[i] = g if i not in best else max(best[i], g)
    return {i: float(np.float32(g) * np.float32(decay_factor(value=value_of(i), **decay)))
            for i, g in best.items()}


def grouped_fused_order(fused, group_of, limit, group_size, offset=0, scorer="max",
                        strict=False):
    """newGroupingIDScores: rows by fused score (desc, ties smaller id) into groups of at most
    group_size; groups by max/sum/avg score (ties: larger group, then smaller first id); offset
    and limit count groups; strict drops short groups afterwards. [(id, score)] in order."""
    buckets, order = {}, []
    for i, s in sorted(fused.items(), key=lambda kv: (-kv[1], kv[0])):
        g = group_of(i)
        if g not in buckets:
            buckets[g] = []
            order.append(g)
        if len(buckets[g]) < group_size:
            buckets[g].append((i, s))

    def group_score(rows):
        vals = [np.float32(s) for _, s in rows]
        if scorer == "max":
            return float(max([np.float32(0.0)] + vals))
        total = np.float32(0.0)
        for v in vals:
            total = np.float32(total + v)
        return float(total) if scorer == "sum" else float(np.float32(total / np.float32(len(rows))))

    order.sort(key=lambda g: (-group_score(buckets[g]), -len(buckets[g]), buckets[g][0][0]))
    chosen = order[offset:offset + limit]
    if strict:
        chosen = [g for g in chosen if len(buckets[g]) >= group_size]
    return [row for g in chosen for row in buckets[g]]


def grouped_sub_oracle(metric, score_by_id, group_of, limit, group_size):
    """A group-by search's hits (strict answer): the first `limit` groups in ranking order,
    each with its best `group_size` rows, flattened group after group."""
    groups, order = {}, []
    for i, v in ranked(metric, score_by_id):
        g = group_of(i)
        if g not in groups:
            if len(order) == limit:
                continue
            groups[g] = []
            order.append(g)
        if len(groups[g]) < group_size:
            groups[g].append((i, v))
    return [row for g in order for row in groups[g]]
