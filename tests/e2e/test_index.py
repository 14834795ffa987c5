"""Index management with rows: build progress (indexed_rows / total_rows /
pending_index_rows / state), list/describe/drop/re-create, alter_index_properties and
drop_index_properties, knowhere's build-parameter ranges, vector index types on the wrong
kind of vector, and which scalar index types each field type accepts.

Expectations follow Milvus 2.5/2.6 (proxy task_index.go createIndexTask.parseIndexParams /
checkTrain / alterIndexTask, internal/util/indexparamcheck/*_checker.go, knowhere config
ranges, datacoord DescribeIndex); sources in /tmp/notes/milvus-search.md. Declarations on
empty collections and name rules are in test_partitions_indexes.py. Where Milvus Lite
differs, the test follows Milvus and says so ("Lite differs")."""

import pytest
from pymilvus import DataType, MilvusException

from milvus_errors import milvus_error
from search_helpers import (
    assert_exact_topk, float_vectors, insert_batches, schema_with, scores, wait_index,
)

DIM = 16


EXTRA_VALUES = {"tag": lambda i: f"t{i % 4}", "score": lambda i: i / 8}


def vec_collection(client, name="ix", n=0, dim=DIM, extra=()):
    """pk id, n INT64, the extra (name, type, kwargs) fields (values from EXTRA_VALUES) and
    vec FLOAT_VECTOR(dim) with n seeded rows; no index, not loaded."""
    schema = schema_with(client, ("n", DataType.INT64, {}), *extra,
                         ("vec", DataType.FLOAT_VECTOR, {"dim": dim}))
    client.create_collection(name, schema=schema, consistency_level="Strong")
    X = float_vectors(n, dim, seed=7)
    if n:
        insert_batches(client, name, [
            {"id": i, "n": i, "vec": X[i].tolist(),
             **{f: EXTRA_VALUES[f](i) for f, _, _ in extra}} for i in range(n)])
    return X


def add_index(client, collection, field, index_name="", **kw):
    ip = client.prepare_index_params()
    ip.add_index(field, index_name=index_name, **kw)
    client.create_index(collection, ip, sync=False)  # progress is polled where it matters


# ============================================================================================
# progress fields with rows


@pytest.mark.parametrize("index_type,params", [
    ("FLAT", {}), ("HNSW", {"M": 8, "efConstruction": 64}), ("IVF_FLAT", {"nlist": 16}),
])
def test_index_progress_after_insert_and_flush(client, index_type, params):
    vec_collection(client)
    add_index(client, "ix", "vec", index_type=index_type, metric_type="L2", params=params)
    empty = client.describe_index("ix", "vec")
    assert (empty["total_rows"], empty["indexed_rows"], empty["pending_index_rows"],
            empty["state"]) == (0, 0, 0, "Finished")
    X = float_vectors(2000, DIM, seed=7)
    insert_batches(client, "ix", [{"id": i, "n": i, "vec": X[i].tolist()} for i in range(2000)])
    client.flush("ix")
    desc = wait_index(client, "ix", "vec", 2000)
    want = {"index_type": index_type, "metric_type": "L2", "field_name": "vec",
            "index_name": "vec", "total_rows": 2000, "indexed_rows": 2000,
            "pending_index_rows": 0, "state": "Finished"}
    want.update({k: str(v) for k, v in params.items()})
    assert desc == want


def test_index_declared_after_the_rows(client):
    vec_collection(client, n=1500)
    client.flush("ix")
    add_index(client, "ix", "vec", "v_idx", index_type="HNSW", metric_type="IP",
              params={"M": 16, "efConstruction": 100})
    desc = wait_index(client, "ix", "v_idx", 1500)
    assert (desc["total_rows"], desc["indexed_rows"], desc["pending_index_rows"],
            desc["state"]) == (1500, 1500, 0, "Finished")
    assert (desc["index_type"], desc["metric_type"], desc["M"], desc["efConstruction"]) == (
        "HNSW", "IP", "16", "100")


def test_scalar_index_progress(client):
    vec_collection(client, n=800, extra=(("tag", DataType.VARCHAR, {"max_length": 8}),))
    add_index(client, "ix", "n", "n_idx", index_type="STL_SORT")
    client.flush("ix")
    desc = wait_index(client, "ix", "n_idx", 800)
    assert desc == {"index_type": "STL_SORT", "field_name": "n", "index_name": "n_idx",
                    "total_rows": 800, "indexed_rows": 800, "pending_index_rows": 0,
                    "state": "Finished"}


def test_list_and_describe_several_indexes(client):
    vec_collection(client, n=300, extra=(("tag", DataType.VARCHAR, {"max_length": 8}),
                                         ("score", DataType.DOUBLE, {})))
    add_index(client, "ix", "vec", index_type="IVF_FLAT", metric_type="COSINE",
              params={"nlist": 8})
    add_index(client, "ix", "tag", "tag_trie", index_type="Trie")
    add_index(client, "ix", "score", index_type="INVERTED")
    assert sorted(client.list_indexes("ix")) == ["score", "tag_trie", "vec"]
    assert client.list_indexes("ix", field_name="tag") == ["tag_trie"]
    assert client.list_indexes("ix", field_name="n") == []
    assert client.describe_index("ix", "tag_trie")["index_type"] == "Trie"
    assert client.describe_index("ix", "score")["field_name"] == "score"
    assert client.describe_index("ix", "vec")["nlist"] == "8"


def test_autoindex_defaults_to_cosine_for_float_vectors(client):
    # proxy parseIndexParams: no metric given -> the autoIndex default metric (COSINE).
    vec_collection(client, n=200)
    add_index(client, "ix", "vec", index_type="AUTOINDEX")
    desc = client.describe_index("ix", "vec")
    assert (desc["index_type"], desc["metric_type"]) == ("AUTOINDEX", "COSINE")
    client.load_collection("ix")
    X = float_vectors(200, DIM, seed=7)
    hits = client.search("ix", [X[3].tolist()], limit=1)[0]
    assert hits[0]["id"] == 3 and abs(hits[0]["distance"] - 1.0) <= 1e-5


# ============================================================================================
# drop and re-create


def test_drop_and_recreate_with_another_metric(client):
    X = vec_collection(client, n=400)
    add_index(client, "ix", "vec", index_type="FLAT", metric_type="L2")
    client.load_collection("ix")
    q = float_vectors(1, DIM, seed=70)[0]
    s_l2 = {i: float(v) for i, v in enumerate(scores("L2", X, q))}
    assert_exact_topk("L2", client.search("ix", [q.tolist()], limit=5)[0], s_l2, 5)

    with milvus_error(65535, "index cannot be dropped, collection is loaded, please release it "
                             "first"):
        client.drop_index("ix", "vec")
    client.release_collection("ix")
    client.drop_index("ix", "vec")
    assert client.list_indexes("ix") == []
    with milvus_error(700, "index not found[collection=ix]"):
        client.load_collection("ix")

    add_index(client, "ix", "vec", "by_ip", index_type="FLAT", metric_type="IP")
    client.load_collection("ix")
    s_ip = {i: float(v) for i, v in enumerate(scores("IP", X, q))}
    assert_exact_topk("IP", client.search("ix", [q.tolist()], limit=5)[0], s_ip, 5)
    assert client.list_indexes("ix") == ["by_ip"]


def test_scalar_index_drop_while_loaded_refused(client):
    vec_collection(client, n=50, extra=(("tag", DataType.VARCHAR, {"max_length": 8}),))
    add_index(client, "ix", "vec", index_type="FLAT", metric_type="L2")
    add_index(client, "ix", "tag", index_type="INVERTED")
    client.load_collection("ix")
    with milvus_error(65535, "index cannot be dropped, collection is loaded, please release it "
                             "first"):
        client.drop_index("ix", "tag")
    client.release_collection("ix")
    client.drop_index("ix", "tag")
    assert client.list_indexes("ix") == ["vec"]
    client.load_collection("ix")  # scalar indexes are optional


# ============================================================================================
# alter_index_properties / drop_index_properties


def test_alter_and_drop_index_properties(client):
    # Milvus alterIndexTask: only configurable keys (mmap.enabled; 2.6 adds warmup), the
    # collection must be released; describe_index shows the value as sent ("True").
    vec_collection(client, n=100)
    add_index(client, "ix", "vec", index_type="HNSW", metric_type="L2",
              params={"M": 8, "efConstruction": 32})
    assert "mmap.enabled" not in client.describe_index("ix", "vec")
    client.alter_index_properties("ix", "vec", properties={"mmap.enabled": True})
    desc = client.describe_index("ix", "vec")
    assert desc["mmap.enabled"] == "True"
    assert (desc["M"], desc["efConstruction"], desc["index_type"]) == ("8", "32", "HNSW")
    client.alter_index_properties("ix", "vec", properties={"mmap.enabled": False})
    assert client.describe_index("ix", "vec")["mmap.enabled"] == "False"
    client.drop_index_properties("ix", "vec", property_keys=["mmap.enabled"])
    assert "mmap.enabled" not in client.describe_index("ix", "vec")
    client.load_collection("ix")  # still loads and serves
    assert len(client.search("ix", float_vectors(1, DIM, seed=1).tolist(), limit=3)[0]) == 3


def test_alter_index_properties_on_loaded_collection_refused(client):
    # Lite differs (answers).
    vec_collection(client, n=10)
    add_index(client, "ix", "vec", index_type="FLAT", metric_type="L2")
    client.load_collection("ix")
    message = ("can't alter index on loaded collection, please release the collection first: "
               "collection already loaded[collection=ix]")
    with milvus_error(104, message):
        client.alter_index_properties("ix", "vec", properties={"mmap.enabled": True})
    with milvus_error(104, message):
        client.drop_index_properties("ix", "vec", property_keys=["mmap.enabled"])
    assert "mmap.enabled" not in client.describe_index("ix", "vec")


def test_alter_index_non_configurable_key_refused(client):
    # Lite differs (answers).
    vec_collection(client, n=10)
    add_index(client, "ix", "vec", index_type="HNSW", metric_type="L2",
              params={"M": 8, "efConstruction": 32})
    with milvus_error(1100, "M is not configable index param: invalid parameter"):
        client.alter_index_properties("ix", "vec", properties={"M": 16})
    assert client.describe_index("ix", "vec")["M"] == "8"


# ============================================================================================
# build-parameter validation (knowhere config ranges, reached through checkTrain -> 1100
# "<knowhere text>: invalid parameter[expected=valid index params][actual=invalid index params]")


INVALID_INDEX_PARAMS = "invalid parameter[expected=valid index params][actual=invalid index params]"


@pytest.mark.parametrize("index_type,params,fragment", [
    ("HNSW", {"M": 1, "efConstruction": 64}, "param 'M' (1) should be in range [2, 2048]"),
    ("HNSW", {"M": 3000, "efConstruction": 64}, "param 'M' (3000) should be in range [2, 2048]"),
    ("HNSW", {"M": 16, "efConstruction": 0}, "param 'efConstruction' (0) should be in range [1, "),
    ("IVF_FLAT", {"nlist": 0}, "param 'nlist' (0) should be in range [1, 65536]"),
    ("IVF_FLAT", {"nlist": 70000}, "param 'nlist' (70000) should be in range [1, 65536]"),
    ("IVF_SQ8", {"nlist": -1}, "param 'nlist' (-1) should be in range [1, 65536]"),
    ("IVF_PQ", {"nlist": 16, "m": 5}, "The dimension of a vector (dim) should be a multiple of "
                                     "the number of subquantizers (m)"),
], ids=["M_low", "M_high", "efConstruction_low", "nlist_low", "nlist_high", "sq8_nlist",
        "pq_m_not_dividing_dim"])
def test_vector_index_params_out_of_range(client, index_type, params, fragment):
    # Lite differs (it accepts every value).
    vec_collection(client)
    with milvus_error(1100, contains=(fragment, INVALID_INDEX_PARAMS)):
        add_index(client, "ix", "vec", index_type=index_type, metric_type="L2", params=params)
    assert client.list_indexes("ix") == []


def test_sparse_drop_ratio_build_out_of_range(client):
    schema = schema_with(client, ("sv", DataType.SPARSE_FLOAT_VECTOR, {}))
    client.create_collection("ix", schema=schema)
    with milvus_error(1100, contains=("Out of range in json: param 'drop_ratio_build'",
                                      INVALID_INDEX_PARAMS)):
        add_index(client, "ix", "sv", index_type="SPARSE_INVERTED_INDEX", metric_type="IP",
                  params={"drop_ratio_build": 1.0})
    assert client.list_indexes("ix") == []


@pytest.mark.parametrize("field,ftype,kw,index_type,metric", [
    ("fv", DataType.FLOAT_VECTOR, {"dim": 16}, "BIN_FLAT", "HAMMING"),
    ("fv", DataType.FLOAT_VECTOR, {"dim": 16}, "BIN_IVF_FLAT", "JACCARD"),
    ("sv", DataType.SPARSE_FLOAT_VECTOR, {}, "IVF_FLAT", "IP"),
    ("sv", DataType.SPARSE_FLOAT_VECTOR, {}, "HNSW", "IP"),
    ("n", DataType.INT64, {}, "HNSW", "L2"),
], ids=["bin_flat_on_float", "bin_ivf_on_float", "ivf_on_sparse", "hnsw_on_sparse",
        "hnsw_on_int64"])
def test_index_type_for_another_kind_of_field_refused(client, field, ftype, kw, index_type,
                                                      metric):
    # checkTrain -> the checker's CheckValidDataType; the checker's own text differs between
    # versions ("binary vector is only supported", "data type X can't build with this index
    # Y", "index Y do not support data type: X"); the wrapper and the code (1100) do not.
    # Lite differs.
    fields = [(field, ftype, kw)]
    if not ftype.name.endswith("VECTOR"):
        # A collection needs a vector field (Milvus validateSchema).
        fields.append(("v", DataType.FLOAT_VECTOR, {"dim": 8}))
    schema = schema_with(client, *fields)
    client.create_collection("ix", schema=schema)
    with milvus_error(1100, contains=INVALID_INDEX_PARAMS):
        add_index(client, "ix", field, index_type=index_type, metric_type=metric)
    assert client.list_indexes("ix") == []


# ============================================================================================
# scalar index types per field type (internal/util/indexparamcheck: inverted_checker.go,
# stl_sort_checker.go, trie_checker.go, bitmap_index_checker.go)


SCALAR_FIELDS = [
    ("b", DataType.BOOL, {}),
    ("i8", DataType.INT8, {}),
    ("i32", DataType.INT32, {}),
    ("i64", DataType.INT64, {}),
    ("f", DataType.FLOAT, {}),
    ("d", DataType.DOUBLE, {}),
    ("s", DataType.VARCHAR, {"max_length": 16}),
    ("ai", DataType.ARRAY, {"element_type": DataType.INT64, "max_capacity": 4}),
    ("as_", DataType.ARRAY, {"element_type": DataType.VARCHAR, "max_capacity": 4,
                             "max_length": 8}),
    ("af", DataType.ARRAY, {"element_type": DataType.FLOAT, "max_capacity": 4}),
]


def scalar_collection(client):
    schema = schema_with(client, *SCALAR_FIELDS, ("vec", DataType.FLOAT_VECTOR, {"dim": 4}))
    client.create_collection("sc", schema=schema)
    rows = [{"id": i, "b": i % 2 == 0, "i8": i % 100, "i32": i * 3, "i64": i * 7,
             "f": i / 2, "d": i / 3, "s": f"s{i % 5}", "ai": [i, i + 1], "as_": [f"t{i % 3}"],
             "af": [i / 4], "vec": [float(i), 1.0, 0.0, 0.0]} for i in range(60)]
    client.insert("sc", rows)
    return rows


@pytest.mark.parametrize("index_type,field", [
    ("INVERTED", "b"), ("INVERTED", "i8"), ("INVERTED", "i64"), ("INVERTED", "f"),
    ("INVERTED", "d"), ("INVERTED", "s"), ("INVERTED", "ai"), ("INVERTED", "as_"),
    ("INVERTED", "af"),
    ("STL_SORT", "i8"), ("STL_SORT", "i32"), ("STL_SORT", "i64"), ("STL_SORT", "f"),
    ("STL_SORT", "d"),
    ("Trie", "s"),
    ("BITMAP", "b"), ("BITMAP", "i8"), ("BITMAP", "i32"), ("BITMAP", "s"), ("BITMAP", "ai"),
    ("BITMAP", "as_"),
])
def test_scalar_index_accepted(client, index_type, field):
    rows = scalar_collection(client)
    add_index(client, "sc", field, f"{field}_idx", index_type=index_type)
    desc = client.describe_index("sc", f"{field}_idx")
    assert (desc["index_type"], desc["field_name"], desc["state"]) == (index_type, field,
                                                                        "Finished")
    assert "metric_type" not in desc
    # the index serves filters on that field
    add_index(client, "sc", "vec", index_type="FLAT", metric_type="L2")
    client.load_collection("sc")
    expr, keep = {
        "b": ("b == true", lambda r: r["b"]),
        "i8": ("i8 < 10", lambda r: r["i8"] < 10),
        "i32": ("i32 >= 90", lambda r: r["i32"] >= 90),
        "i64": ("i64 in [7, 14, 700]", lambda r: r["i64"] in (7, 14, 700)),
        "f": ("f > 20.0", lambda r: r["f"] > 20.0),
        "d": ("d <= 2.0", lambda r: r["d"] <= 2.0),
        "s": ("s == 's3'", lambda r: r["s"] == "s3"),
        "ai": ("array_contains(ai, 10)", lambda r: 10 in r["ai"]),
        "as_": ("array_contains(as_, 't1')", lambda r: "t1" in r["as_"]),
        "af": ("array_length(af) == 1", lambda r: True),
    }[field]
    got = sorted(r["id"] for r in client.query("sc", filter=expr, output_fields=["id"]))
    assert got == [r["id"] for r in rows if keep(r)]
    hits = client.search("sc", [[0.0, 1.0, 0.0, 0.0]], limit=100, filter=expr)[0]
    assert sorted(h["id"] for h in hits) == got


@pytest.mark.parametrize("index_type,field,fragment", [
    ("STL_SORT", "b", "STL_SORT are only supported on numeric"),
    ("STL_SORT", "ai", "STL_SORT are only supported on numeric"),
    ("Trie", "i64", "TRIE are only supported on varchar field"),
    ("Trie", "b", "TRIE are only supported on varchar field"),
    ("BITMAP", "f", "bitmap index are only supported on bool, int, string and array field"),
    ("BITMAP", "d", "bitmap index are only supported on bool, int, string and array field"),
    ("BITMAP", "af", "bitmap index are only supported on bool, int, string for array field"),
    ("BITMAP", "id", "create bitmap index on primary key not supported"),
])
def test_scalar_index_refused(client, index_type, field, fragment):
    # checkTrain -> CheckValidDataType, wrapped as 1100 "...: invalid parameter[expected=valid
    # index params][actual=invalid index params]". Lite differs (accepts them all).
    scalar_collection(client)
    with milvus_error(1100, contains=(fragment, INVALID_INDEX_PARAMS)):
        add_index(client, "sc", field, index_type=index_type)
    assert client.list_indexes("sc") == []


def test_scalar_index_type_on_a_vector_field_refused(client):
    vec_collection(client)
    with pytest.raises(MilvusException) as info:
        add_index(client, "ix", "vec", index_type="STL_SORT", metric_type="L2")
    assert info.value.code == 1100, (info.value.code, info.value.message)
    assert "STL_SORT are only supported on numeric" in info.value.message
    assert client.list_indexes("ix") == []
