"""The data plane through MilvusClient: insert, get, query (filters, output fields, limit and
offset, count(*), filter templates, the query iterator), upsert, delete, flush and statistics,
partitions and partition keys, aliases, read-your-writes, concurrent writers, and durability
across a clean restart and across kill -9.

Expectations follow Milvus 2.5/2.6 (proxy task_insert.go / task_query.go / task_delete.go /
task_upsert.go, validate_util.go; pymilvus 3.0.2 for what the client does itself). Where Milvus
Lite (used as an oracle with RIVUS_TEST_URI) differs from Milvus, a comment says so. Field types
round-trip in test_data_types.py; refused input is in test_data_errors.py."""

import os
import random
import threading
import time

import grpc
import pytest
from pymilvus import DataType, MilvusClient
from pymilvus.grpc_gen import milvus_pb2, milvus_pb2_grpc, schema_pb2

from data_helpers import by_id, count, ids, make, vec


EXTERNAL = bool(os.environ.get("RIVUS_TEST_URI"))
rivus_only = pytest.mark.skipif(EXTERNAL, reason="restarts the server: only with rivus itself")


# --------------------------------------------------------------------------------------------
# helpers


def all_ids(client, name, upper, window=10000, field="batch"):
    """{id: value of `field`} for every row with 0 <= id < upper, read in pk windows (Milvus caps
    limit + offset at 16384)."""
    out = {}
    for lo in range(0, upper, window):
        rows = client.query(name, filter=f"id >= {lo} and id < {lo + window}", limit=window,
                            output_fields=[field])
        for r in rows:
            assert r["id"] not in out, f"id {r['id']} returned twice"
            out[r["id"]] = r[field]
    return out


def rows_for(id_list, **extra):
    return [{"id": i, "vec": vec(i), **{k: (v(i) if callable(v) else v) for k, v in extra.items()}}
            for i in id_list]


# ============================================================================================
# insert


def test_insert_quick_setup_returns_count_and_ids(client):
    client.create_collection("qs", dimension=4)
    data = [{"id": i, "vector": vec(i), "color": f"c{i % 3}"} for i in range(10)]
    res = client.insert("qs", data)
    assert res["insert_count"] == 10
    assert res["ids"] == list(range(10))  # the given pks, in input order
    assert count(client, "qs") == 10
    got = by_id(client.query("qs", filter="id >= 0", output_fields=["*"]))
    assert got == {d["id"]: d for d in data}


def test_insert_single_dict_and_several_batches(client):
    client.create_collection("qs", dimension=4)
    assert client.insert("qs", {"id": 7, "vector": vec(7)})["ids"] == [7]
    assert client.insert("qs", [{"id": i, "vector": vec(i)} for i in (1, 2)])["insert_count"] == 2
    assert client.insert("qs", [{"id": i, "vector": vec(i)} for i in (3,)])["insert_count"] == 1
    assert ids(client.query("qs", filter="id > 0", output_fields=["id"])) == [1, 2, 3, 7]


def test_insert_empty_list_sends_nothing(client):
    # pymilvus answers an empty insert itself ({"insert_count": 0, "ids": []}), no RPC.
    client.create_collection("qs", dimension=4)
    assert client.insert("qs", []) == {"insert_count": 0, "ids": []}
    assert count(client, "qs") == 0


def test_insert_full_schema_and_get(client):
    make(client, "docs", ("title", DataType.VARCHAR, {"max_length": 64}),
         ("score", DataType.DOUBLE, {}), ("tags", DataType.ARRAY,
                                          {"element_type": DataType.VARCHAR, "max_capacity": 4,
                                           "max_length": 8}))
    data = rows_for(range(100, 150), title=lambda i: f"doc {i}", score=lambda i: i / 4,
                    tags=lambda i: [f"t{i % 5}", "all"])
    res = client.insert("docs", data)
    assert (res["insert_count"], res["ids"]) == (50, list(range(100, 150)))
    got = by_id(client.get("docs", ids=[100, 125, 149]))
    assert got == {i: data[i - 100] for i in (100, 125, 149)}


def test_auto_id_int64_unique_and_increasing(client):
    client.create_collection("auto", dimension=4, auto_id=True)
    first = client.insert("auto", [{"vector": vec(i), "n": i} for i in range(20)])
    second = client.insert("auto", [{"vector": vec(i), "n": 100 + i} for i in range(20)])
    assert first["insert_count"] == second["insert_count"] == 20
    a, b = list(first["ids"]), list(second["ids"])
    assert all(isinstance(x, int) for x in a + b)
    assert len(set(a + b)) == 40
    assert a == sorted(a) and b == sorted(b)  # allocated in order within a batch
    assert min(b) > max(a)  # and across batches
    # each generated id names the row it was returned for
    got = by_id(client.get("auto", ids=[a[3], b[5]], output_fields=["n"]))
    assert got == {a[3]: {"id": a[3], "n": 3}, b[5]: {"id": b[5], "n": 105}}
    assert count(client, "auto") == 40


def test_varchar_primary_key(client):
    client.create_collection("vc", dimension=4, id_type="string", max_length=16)
    keys = ["alpha", "béta", "x" * 16, "42"]
    res = client.insert("vc", [{"id": k, "vector": vec(n), "n": n} for n, k in enumerate(keys)])
    assert (res["insert_count"], res["ids"]) == (4, keys)
    got = by_id(client.get("vc", ids=["béta", "42", "missing"], output_fields=["n"]))
    assert got == {"béta": {"id": "béta", "n": 1}, "42": {"id": "42", "n": 3}}
    assert ids(client.query("vc", filter='id like "a%"', output_fields=["id"])) == ["alpha"]
    assert client.delete("vc", ids=["alpha", "42"])["delete_count"] == 2
    assert ids(client.query("vc", filter='id != "zzz"')) == ["béta", "x" * 16]


# ============================================================================================
# get and query


@pytest.fixture
def people(client):
    """30 rows in a collection with the dynamic field on: `age` and `city` live in $meta."""
    make(client, "people", dynamic=True)
    data = [{"id": i, "vec": vec(i), "age": 20 + i, "city": ["paris", "oslo", "rome"][i % 3]}
            for i in range(30)]
    client.insert("people", data)
    return {d["id"]: d for d in data}


def test_get_without_output_fields_returns_every_field(client, people):
    got = by_id(client.get("people", ids=[0, 5, 29]))
    assert got == {i: people[i] for i in (0, 5, 29)}


def test_get_with_output_fields(client, people):
    assert by_id(client.get("people", ids=[4, 7], output_fields=["age"])) == {
        4: {"id": 4, "age": 24}, 7: {"id": 7, "age": 27}}
    # the pk comes back even when not asked for; a vector only when asked for
    assert by_id(client.get("people", ids=[4], output_fields=["vec"])) == {
        4: {"id": 4, "vec": vec(4)}}
    assert by_id(client.get("people", ids=[4], output_fields=["id"])) == {4: {"id": 4}}


def test_get_single_id_and_missing_ids(client, people):
    assert [dict(r) for r in client.get("people", ids=3, output_fields=["age"])] == [
        {"id": 3, "age": 23}]
    assert list(client.get("people", ids=[1000, 1001])) == []
    assert ids(client.get("people", ids=[2, 1000, 9])) == [2, 9]


def test_query_filter_and_output_fields(client, people):
    res = client.query("people", filter="age >= 40 and city == 'rome'", output_fields=["age"])
    assert by_id(res) == {i: {"id": i, "age": 20 + i} for i in (20, 23, 26, 29)}


def test_query_star_returns_all_fields_and_dynamic_keys(client, people):
    res = client.query("people", filter="id in [1, 2]", output_fields=["*"])
    assert by_id(res) == {1: people[1], 2: people[2]}


def test_query_empty_output_fields_returns_everything(client, people):
    # pymilvus 3.0.2 turns None and [] into ["*"] before sending (MilvusClient.query/get); the
    # bare RPC with no output fields would give the pk only (Milvus translateToOutputFieldIDs).
    for of in (None, []):
        res = client.query("people", filter="id == 8", output_fields=of)
        assert [dict(r) for r in res] == [people[8]]


def test_query_dynamic_keys_by_name_and_in_filters(client, people):
    res = client.query("people", filter="city == 'oslo' and id < 10", output_fields=["city"])
    assert by_id(res) == {i: {"id": i, "city": "oslo"} for i in (1, 4, 7)}
    res = client.query("people", filter='$meta["age"] == 25', output_fields=["age", "city"])
    assert [dict(r) for r in res] == [{"id": 5, "age": 25, "city": "rome"}]


def test_query_limit_and_offset_pages(client, people):
    pages = [client.query("people", filter="id >= 0", limit=7, offset=o, output_fields=["id"])
             for o in range(0, 35, 7)]
    assert [len(p) for p in pages] == [7, 7, 7, 7, 2]
    seen = [r["id"] for p in pages for r in p]
    assert sorted(seen) == list(range(30))  # pages are disjoint and cover everything
    assert len(client.query("people", filter="age > 45", limit=100)) == 4
    assert list(client.query("people", filter="id >= 0", limit=5, offset=30)) == []


def test_query_empty_filter_with_limit(client, people):
    res = client.query("people", filter="", limit=4, output_fields=["age"])
    assert len(res) == 4
    assert all(r["age"] == people[r["id"]]["age"] for r in res)


def test_count_star(client, people):
    assert count(client, "people") == 30
    assert count(client, "people", filter="city == 'paris'") == 10
    assert count(client, "people", filter="age > 1000") == 0
    assert count(client, "people", filter="id in [1, 2, 3, 99]") == 3


def test_count_star_of_empty_collection(client):
    client.create_collection("empty", dimension=4)
    assert count(client, "empty") == 0


def test_filter_params_templates(client, people):
    res = client.query("people", filter="id in {ids} and city == {city}",
                       filter_params={"ids": [1, 2, 3, 4, 5, 6, 7], "city": "oslo"},
                       output_fields=["id"])
    assert ids(res) == [1, 4, 7]
    res = client.query("people", filter="age > {lo} and age < {hi}",
                       filter_params={"lo": 44, "hi": 48}, output_fields=["age"])
    assert by_id(res) == {i: {"id": i, "age": 20 + i} for i in (25, 26, 27)}
    assert count(client, "people", filter="age >= {a}", filter_params={"a": 40}) == 10
    deleted = client.delete("people", filter="id in {ids}", filter_params={"ids": [0, 1]})
    assert deleted["delete_count"] == 2
    assert count(client, "people") == 28


def test_query_iterator_every_row_once(client):
    make(client, "big", ("n", DataType.INT64, {}))
    total = 2500
    for lo in range(0, total, 500):
        client.insert("big", rows_for(range(lo, lo + 500), n=lambda i: i * 3))
    it = client.query_iterator("big", batch_size=300, filter="id >= 0", output_fields=["n"])
    seen, batches = [], 0
    try:
        while True:
            batch = it.next()
            if not batch:
                break
            batches += 1
            assert len(batch) <= 300
            seen.extend((r["id"], r["n"]) for r in batch)
    finally:
        it.close()
    assert batches == 9  # 8 full batches of 300 and one of 100
    assert len(seen) == total
    assert sorted(seen) == [(i, i * 3) for i in range(total)]


def test_query_iterator_with_filter_and_limit(client):
    make(client, "big", ("n", DataType.INT64, {}))
    client.insert("big", rows_for(range(1000), n=lambda i: i % 10))
    it = client.query_iterator("big", batch_size=64, limit=150, filter="n == 3",
                               output_fields=["n"])
    seen = []
    try:
        while True:
            batch = it.next()
            if not batch:
                break
            seen.extend(r["id"] for r in batch)
    finally:
        it.close()
    assert len(seen) == len(set(seen)) == 100  # only 100 rows match: the limit is not reached
    assert sorted(seen) == list(range(3, 1000, 10))


# ============================================================================================
# upsert


def test_upsert_replaces_by_pk_and_keeps_row_count(client):
    client.create_collection("qs", dimension=4)
    client.insert("qs", [{"id": i, "vector": vec(i), "v": "old", "gone": True} for i in range(5)])
    res = client.upsert("qs", [{"id": 1, "vector": vec(11), "v": "new"},
                               {"id": 3, "vector": vec(13), "v": "new"},
                               {"id": 9, "vector": vec(19), "v": "fresh"}])
    assert (res["upsert_count"], res["ids"]) == (3, [1, 3, 9])
    assert count(client, "qs") == 6
    got = by_id(client.query("qs", filter="id >= 0", output_fields=["*"]))
    assert got[1] == {"id": 1, "vector": vec(11), "v": "new"}  # whole row replaced: "gone" too
    assert got[3] == {"id": 3, "vector": vec(13), "v": "new"}
    assert got[9] == {"id": 9, "vector": vec(19), "v": "fresh"}
    assert got[0] == {"id": 0, "vector": vec(0), "v": "old", "gone": True}
    # upserting the same rows again changes nothing in the count
    client.upsert("qs", [{"id": 1, "vector": vec(1), "v": "again"}])
    assert count(client, "qs") == 6
    assert count(client, "qs", filter="v == 'again'") == 1


def test_upsert_full_schema_many_rows(client):
    make(client, "u", ("n", DataType.INT64, {}))
    client.insert("u", rows_for(range(200), n=0))
    client.upsert("u", rows_for(range(100, 300), n=1))
    assert count(client, "u") == 300
    assert count(client, "u", filter="n == 1") == 200
    assert ids(client.query("u", filter="n == 0", output_fields=["id"])) == list(range(100))


def test_upsert_partial_update_changes_only_given_fields(client):
    # partial_update is Milvus 2.6 (upsert with partial_update=true merges with the stored row).
    make(client, "pu", ("title", DataType.VARCHAR, {"max_length": 32}),
         ("score", DataType.DOUBLE, {}))
    client.insert("pu", rows_for(range(3), title=lambda i: f"t{i}", score=lambda i: float(i)))
    # (pymilvus requires every row of one partial upsert to carry the same fields)
    res = client.upsert("pu", [{"id": 1, "score": 9.5}], partial_update=True)
    assert (res["upsert_count"], list(res["ids"])) == (1, [1])
    client.upsert("pu", [{"id": 2, "title": "renamed"}], partial_update=True)
    got = by_id(client.query("pu", filter="id >= 0", output_fields=["*"]))
    assert got == {0: {"id": 0, "vec": vec(0), "title": "t0", "score": 0.0},
                   1: {"id": 1, "vec": vec(1), "title": "t1", "score": 9.5},
                   2: {"id": 2, "vec": vec(2), "title": "renamed", "score": 2.0}}
    assert count(client, "pu") == 3


# ============================================================================================
# delete, flush, statistics


def test_delete_by_ids(client, people):
    res = client.delete("people", ids=[3, 4, 5])
    assert res["delete_count"] == 3
    assert count(client, "people") == 27
    assert list(client.get("people", ids=[3, 4, 5])) == []
    assert ids(client.query("people", filter="id < 7", output_fields=["id"])) == [0, 1, 2, 6]


def test_delete_by_ids_counts_the_given_keys(client, people):
    # Milvus: a delete by primary keys (`pk in [...]`, what delete(ids=...) sends) is a "simple
    # delete" whose delete_count is the number of keys in the expression, present or not
    # (proxy task_delete.go simpleDelete; by design, milvus-io/milvus#23648 and #51566).
    res = client.delete("people", ids=[1, 1000])
    assert res["delete_count"] == 2
    assert count(client, "people") == 29


def test_delete_by_filter(client, people):
    res = client.delete("people", filter="city == 'rome'")
    assert res["delete_count"] == 10  # a filter delete counts the rows it matched
    assert count(client, "people") == 20
    assert count(client, "people", filter="city == 'rome'") == 0
    res = client.delete("people", filter="age > 1000")
    assert res["delete_count"] == 0
    client.delete("people", filter="id in [0, 1, 2]")  # 2 is a rome row, already gone
    assert count(client, "people") == 18
    assert ids(client.query("people", filter="id < 6", output_fields=["id"])) == [3, 4]


def test_delete_everything_then_reinsert(client, people):
    client.delete("people", filter="id >= 0")
    assert count(client, "people") == 0
    assert list(client.query("people", filter="id >= 0")) == []
    client.insert("people", [{"id": 5, "vec": vec(50), "age": 1}])
    assert [dict(r) for r in client.query("people", filter="id >= 0", output_fields=["*"])] == [
        {"id": 5, "vec": vec(50), "age": 1}]
    assert count(client, "people") == 1


def test_deleted_id_can_be_inserted_again(client):
    make(client, "d", ("n", DataType.INT64, {}))
    client.insert("d", rows_for([1, 2], n=1))
    client.delete("d", ids=[1])
    client.insert("d", rows_for([1], n=2))
    assert by_id(client.query("d", filter="id >= 0", output_fields=["n"])) == {
        1: {"id": 1, "n": 2}, 2: {"id": 2, "n": 1}}
    assert count(client, "d") == 2


def test_flush_keeps_data_readable(client, people):
    assert client.flush("people") is None
    assert count(client, "people") == 30
    client.insert("people", [{"id": 100, "vec": vec(100)}])
    client.flush("people")
    client.delete("people", ids=[100, 0])
    client.flush("people")
    assert count(client, "people") == 29
    assert by_id(client.get("people", ids=[1])) == {1: people[1]}


def test_collection_stats_row_count(client):
    make(client, "st")
    assert client.get_collection_stats("st") == {"row_count": 0}
    client.insert("st", rows_for(range(40)))
    client.insert("st", rows_for(range(40, 50)))
    # Milvus counts unflushed (growing) rows only approximately; after flush it is exact.
    client.flush("st")
    assert client.get_collection_stats("st")["row_count"] == 50


def test_collection_stats_row_count_after_delete(client):
    make(client, "st")
    client.insert("st", rows_for(range(50)))
    client.delete("st", ids=list(range(10)))
    client.delete("st", filter="id >= 45")
    client.flush("st")
    # The live row count. Real Milvus keeps deleted rows in row_count until compaction rewrites
    # the segments (by design, milvus-io/milvus#14435); the count it converges to, and the one
    # Milvus Lite reports at once, is the live count asserted here.
    assert client.get_collection_stats("st")["row_count"] == 35
    assert count(client, "st") == 35


# ============================================================================================
# read your writes


def test_reads_see_writes_immediately(client):
    # Default consistency (Bounded for a quick setup). Milvus guarantees read-your-writes only for
    # Strong/Session; rivus makes a write visible before acknowledging it, which Bounded allows.
    client.create_collection("ryw", dimension=4)
    for i in range(25):
        client.insert("ryw", [{"id": i, "vector": vec(i), "n": i}])
        assert [dict(r) for r in client.get("ryw", ids=[i], output_fields=["n"])] == [
            {"id": i, "n": i}]
        assert count(client, "ryw") == i + 1
        if i % 5 == 4:
            client.upsert("ryw", [{"id": i, "vector": vec(i), "n": -i}])
            assert client.get("ryw", ids=[i], output_fields=["n"])[0]["n"] == -i
            client.delete("ryw", ids=[i - 1])
            assert list(client.get("ryw", ids=[i - 1])) == []
            client.insert("ryw", [{"id": i - 1, "vector": vec(i), "n": 0}])
    assert count(client, "ryw") == 25


# ============================================================================================
# partitions


def test_insert_into_partitions_and_query_by_partition(client):
    make(client, "p", ("n", DataType.INT64, {}))
    client.create_partition("p", "p1")
    client.create_partition("p", "p2")
    client.insert("p", rows_for(range(0, 10), n=0))
    client.insert("p", rows_for(range(10, 15), n=1), partition_name="p1")
    client.insert("p", rows_for(range(15, 18), n=2), partition_name="p2")
    assert ids(client.query("p", filter="id >= 0", partition_names=["p1"])) == list(range(10, 15))
    assert ids(client.query("p", filter="id >= 0", partition_names=["_default"])) == list(range(10))
    assert ids(client.query("p", filter="id >= 0", partition_names=["p1", "p2"])) == list(
        range(10, 18))
    assert ids(client.query("p", filter="id >= 0")) == list(range(18))
    assert count(client, "p", partition_names=["p2"]) == 3
    assert count(client, "p", partition_names=["p1", "_default"]) == 15
    assert count(client, "p") == 18
    assert list(client.get("p", ids=[1, 12], partition_names=["p2"])) == []
    assert ids(client.get("p", ids=[1, 12], partition_names=["p1"])) == [12]


def test_delete_in_partition_only_touches_that_partition(client):
    # Milvus: a delete with partition_name carries that partition id and removes matching rows
    # of that partition only. (Milvus Lite ignores partition_name here.)
    make(client, "p")
    client.create_partition("p", "p1")
    client.insert("p", rows_for(range(0, 5)))
    client.insert("p", rows_for(range(5, 10)), partition_name="p1")
    client.delete("p", ids=[1, 6], partition_name="p1")
    assert ids(client.query("p", filter="id >= 0")) == [0, 1, 2, 3, 4, 5, 7, 8, 9]
    client.delete("p", filter="id >= 0", partition_name="p1")
    assert ids(client.query("p", filter="id >= 0")) == [0, 1, 2, 3, 4]


def test_upsert_into_partition(client):
    make(client, "p", ("n", DataType.INT64, {}))
    client.create_partition("p", "p1")
    client.insert("p", rows_for(range(3), n=0), partition_name="p1")
    client.upsert("p", rows_for([1, 7], n=1), partition_name="p1")
    assert by_id(client.query("p", filter="id >= 0", partition_names=["p1"],
                              output_fields=["n"])) == {
        0: {"id": 0, "n": 0}, 1: {"id": 1, "n": 1}, 2: {"id": 2, "n": 0}, 7: {"id": 7, "n": 1}}
    assert count(client, "p", partition_names=["_default"]) == 0


def test_dropping_a_partition_drops_its_rows(client):
    make(client, "p", load=False)
    client.create_partition("p", "p1")
    client.insert("p", rows_for(range(5)))
    client.insert("p", rows_for(range(5, 8)), partition_name="p1")
    client.drop_partition("p", "p1")  # Milvus refuses to drop a loaded partition
    client.load_collection("p")
    assert ids(client.query("p", filter="id >= 0")) == [0, 1, 2, 3, 4]


def partition_key_collection(client, name="pk", num_partitions=4):
    make(client, name, ("tenant", DataType.VARCHAR, {"max_length": 16, "is_partition_key": True}),
         ("n", DataType.INT64, {}), num_partitions=num_partitions)


def test_partition_key_routing(client):
    partition_key_collection(client)
    data = rows_for(range(60), tenant=lambda i: f"t{i % 6}", n=lambda i: i)
    assert client.insert("pk", data)["insert_count"] == 60
    assert ids(client.query("pk", filter="tenant == 't2'")) == list(range(2, 60, 6))
    assert count(client, "pk", filter="tenant in ['t0', 't1']") == 20
    assert count(client, "pk") == 60
    got = by_id(client.get("pk", ids=[7, 8]))
    assert got == {7: data[7], 8: data[8]}
    assert client.delete("pk", filter="tenant == 't5'")["delete_count"] == 10
    assert count(client, "pk") == 50
    client.upsert("pk", rows_for([0], tenant="t9", n=-1))  # the key may change on upsert
    assert by_id(client.query("pk", filter="tenant == 't9'", output_fields=["n"])) == {
        0: {"id": 0, "n": -1}}
    assert count(client, "pk", filter="tenant == 't0'") == 9
    assert count(client, "pk") == 50


# ============================================================================================
# aliases


def test_alias_insert_query_delete_hit_the_target(client):
    make(client, "target", ("n", DataType.INT64, {}))
    make(client, "other", ("n", DataType.INT64, {}))
    client.create_alias("target", "al")
    assert client.insert("al", rows_for(range(5), n=1))["insert_count"] == 5
    client.upsert("al", rows_for([4, 5], n=2))
    assert count(client, "target") == 6
    assert count(client, "al") == 6
    assert by_id(client.get("al", ids=[4], output_fields=["n"])) == {4: {"id": 4, "n": 2}}
    assert client.delete("al", ids=[0])["delete_count"] == 1
    client.delete("al", filter="n == 2")
    assert ids(client.query("target", filter="id >= 0")) == [1, 2, 3]
    assert count(client, "other") == 0
    client.flush("al")
    assert client.get_collection_stats("al")["row_count"] == 3

    client.alter_alias("other", "al")  # the alias follows: writes land in "other" now
    client.insert("al", rows_for([100], n=3))
    assert ids(client.query("other", filter="id >= 0")) == [100]
    assert ids(client.query("target", filter="id >= 0")) == [1, 2, 3]


# ============================================================================================
# concurrency


def test_concurrent_writers_and_a_reader(client, server):
    make(client, "conc", ("w", DataType.INT64, {}))
    writers, batches, batch = 8, 10, 50
    total = writers * batches * batch
    errors, counts = [], []
    done = threading.Event()

    def write(w):
        c = MilvusClient(uri=server.uri, dedicated=True)
        try:
            for b in range(batches):
                base = (w * batches + b) * batch
                res = c.insert("conc", rows_for(range(base, base + batch), w=w))
                assert res["insert_count"] == batch and res["ids"] == list(
                    range(base, base + batch))
        except Exception as e:  # noqa: BLE001 - reported below
            errors.append((w, e))
        finally:
            c.close()

    def read():
        c = MilvusClient(uri=server.uri, dedicated=True)
        try:
            while not done.is_set():
                counts.append(count(c, "conc"))
        except Exception as e:  # noqa: BLE001
            errors.append(("reader", e))
        finally:
            c.close()

    reader = threading.Thread(target=read)
    reader.start()
    threads = [threading.Thread(target=write, args=(w,)) for w in range(writers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    done.set()
    reader.join(30)
    assert not errors, errors
    assert counts, "the reader never ran"
    # every count seen is a whole number of batches (an insert is visible whole or not at all)
    # and counts never go down
    assert all(n % batch == 0 and 0 <= n <= total for n in counts), counts
    assert counts == sorted(counts), counts
    assert count(client, "conc") == total
    got = all_ids(client, "conc", total, field="w")
    assert got == {i: i // (batches * batch) for i in range(total)}


# ============================================================================================
# durability (rivus only: these restart the server on the same data directory)


def connect(srv):
    # dedicated: never reuse a channel of an earlier server that happened to have the same port
    return MilvusClient(uri=srv.uri, dedicated=True)


def snapshot(c, name):
    return by_id(c.query(name, filter="id >= 0", output_fields=["*"]))


@rivus_only
def test_data_survives_clean_restart(tmp_path, fresh_server):
    data = tmp_path / "data"
    srv = fresh_server(data)
    c = connect(srv)
    c.create_collection("qs", dimension=4)
    c.insert("qs", [{"id": i, "vector": vec(i), "extra": {"i": i}} for i in range(300)])
    c.delete("qs", ids=list(range(0, 300, 7)))
    c.delete("qs", filter="id >= 290")
    c.upsert("qs", [{"id": i, "vector": vec(i + 1), "extra": "upserted"} for i in (1, 2, 3)])
    make(c, "typed", ("s", DataType.VARCHAR, {"max_length": 16}),
         ("j", DataType.JSON, {"nullable": True}), ("n", DataType.INT32, {"default_value": 5}))
    c.create_partition("typed", "p1")
    c.insert("typed", rows_for(range(10), s=lambda i: f"s{i}", j=lambda i: {"k": [i]}))
    c.insert("typed", rows_for(range(10, 15), s="p", j=None, n=None), partition_name="p1")
    c.flush("typed")  # one collection flushed, the other not
    c.create_collection("auto", dimension=4, auto_id=True)
    first = c.insert("auto", [{"vector": vec(i)} for i in range(10)])["ids"]
    before = {n: snapshot(c, n) for n in ("qs", "typed", "auto")}
    assert sorted(before["qs"]) == [i for i in range(290) if i % 7]
    assert before["typed"][12] == {"id": 12, "vec": vec(12), "s": "p", "j": None, "n": 5}
    c.close()

    assert srv.stop() == 0
    srv = fresh_server(data)
    c = connect(srv)
    assert {n: snapshot(c, n) for n in ("qs", "typed", "auto")} == before
    assert count(c, "qs") == len(before["qs"])
    assert ids(c.query("typed", filter="id >= 0", partition_names=["p1"])) == list(range(10, 15))
    # writing goes on after the restart; generated ids stay unique
    second = c.insert("auto", [{"vector": vec(i)} for i in range(10)])["ids"]
    assert not set(first) & set(second) and min(second) > max(first)
    c.insert("qs", [{"id": 0, "vector": vec(0)}])
    c.delete("qs", ids=[1])
    assert count(c, "qs") == len(before["qs"])
    c.close()

    # and again after a crash right after those writes
    srv.kill9()
    srv = fresh_server(data)
    c = connect(srv)
    assert count(c, "qs") == len(before["qs"])
    assert list(c.get("qs", ids=[1])) == [] and ids(c.get("qs", ids=[0])) == [0]
    assert count(c, "auto") == 20
    c.close()


KILL_BATCH = 100


def insert_request(name, batch_no):
    """An InsertRequest like pymilvus's for batch `batch_no` (ids batch_no*100 ...), sent on a raw
    stub so that a dead server fails the call at once instead of pymilvus retrying it."""
    ids_ = list(range(batch_no * KILL_BATCH, (batch_no + 1) * KILL_BATCH))
    fid = schema_pb2.FieldData(type=DataType.INT64, field_name="id")
    fid.scalars.long_data.data.extend(ids_)
    fbatch = schema_pb2.FieldData(type=DataType.INT64, field_name="batch")
    fbatch.scalars.long_data.data.extend([batch_no] * KILL_BATCH)
    fvec = schema_pb2.FieldData(type=DataType.FLOAT_VECTOR, field_name="vec")
    fvec.vectors.dim = 4
    for i in ids_:
        fvec.vectors.float_vector.data.extend(vec(i))
    return milvus_pb2.InsertRequest(collection_name=name, fields_data=[fid, fbatch, fvec],
                                    num_rows=KILL_BATCH), ids_


def insert_stream(port, first_batch, result):
    channel = grpc.insecure_channel(f"127.0.0.1:{port}")
    stub = milvus_pb2_grpc.MilvusServiceStub(channel)
    b = first_batch
    try:
        while True:
            req, expected = insert_request("crash", b)
            result["pending"] = b
            resp = stub.Insert(req, timeout=5)
            assert resp.status.code == 0 and resp.status.error_code == 0, resp.status
            assert resp.insert_cnt == KILL_BATCH and list(resp.IDs.int_id.data) == expected
            result["acked"].append(b)
            result["pending"] = None
            b += 1
    except (grpc.RpcError, AssertionError) as e:
        result["error"] = e
    finally:
        result["next"] = b + 1
        channel.close()


@rivus_only
def test_kill9_during_insert_stream(tmp_path, fresh_server):
    seed = random.randrange(1 << 30)
    print("seed", seed)
    rng = random.Random(seed)
    data = tmp_path / "data"
    srv = fresh_server(data)
    c = connect(srv)
    make(c, "crash", ("batch", DataType.INT64, {}))
    c.close()
    present, next_batch = set(), 0  # batches known to be stored
    for round_no in range(4):
        result = {"acked": [], "pending": None}
        worker = threading.Thread(target=insert_stream, args=(srv.port, next_batch, result))
        worker.start()
        time.sleep(rng.uniform(0.05, 0.4))
        srv.kill9()
        worker.join(10)
        assert not worker.is_alive()
        # the stream ended because the server died, not because an insert was refused
        assert isinstance(result.get("error"), grpc.RpcError), result.get("error")
        assert result["acked"], f"round {round_no}: nothing acknowledged before the kill"
        present.update(result["acked"])
        pending = result["pending"]
        print(f"round {round_no}: {len(result['acked'])} batches acknowledged, "
              f"in flight: {pending}")

        srv = fresh_server(data)
        c = connect(srv)
        upper = result["next"] * KILL_BATCH
        if pending is not None:
            # the batch in flight is there whole or not at all
            n = count(c, "crash", filter=f"batch == {pending}")
            assert n in (0, KILL_BATCH), f"batch {pending} partly visible: {n} rows"
            if n:
                present.add(pending)
        got = all_ids(c, "crash", upper)
        expected = {b * KILL_BATCH + j: b for b in present for j in range(KILL_BATCH)}
        assert got == expected, f"round {round_no}: rows differ from the acknowledged batches"
        assert count(c, "crash") == len(expected)
        c.close()
        next_batch = result["next"]
    # the last restarted server still takes writes
    c = connect(srv)
    c.insert("crash", [{"id": 10**9, "batch": -1, "vec": vec(0)}])
    assert count(c, "crash") == len(present) * KILL_BATCH + 1
    c.close()
