"""Partitions and index declarations, checked against Milvus 2.5/2.6's codes and messages
(milvus-semantics notes §5; partition rules from Milvus 2.5/2.6 proxy task.go / util.go
validatePartitionTag and rootcoord create/drop partition tasks)."""


import pytest
from pymilvus import DataType, MilvusException
from pymilvus.client.types import LoadState
from milvus_errors import milvus_error


def plain_collection(client, name="c"):
    s = client.create_schema(enable_dynamic_field=False)
    s.add_field("id", DataType.INT64, is_primary=True)
    s.add_field("v", DataType.FLOAT_VECTOR, dim=4)
    client.create_collection(name, schema=s)


def partition_key_collection(client, name="pk"):
    s = client.create_schema()
    s.add_field("id", DataType.INT64, is_primary=True)
    s.add_field("tenant", DataType.VARCHAR, max_length=16, is_partition_key=True)
    s.add_field("v", DataType.FLOAT_VECTOR, dim=4)
    client.create_collection(name, schema=s, num_partitions=3)


def full_collection(client, name="full"):
    s = client.create_schema(enable_dynamic_field=True)
    s.add_field("id", DataType.INT64, is_primary=True)
    s.add_field("tag", DataType.VARCHAR, max_length=32)
    s.add_field("n", DataType.INT64)
    s.add_field("score", DataType.FLOAT)
    s.add_field("doc", DataType.JSON)
    s.add_field("fv", DataType.FLOAT_VECTOR, dim=8)
    s.add_field("hv", DataType.FLOAT16_VECTOR, dim=8)
    s.add_field("bv", DataType.BINARY_VECTOR, dim=16)
    s.add_field("sv", DataType.SPARSE_FLOAT_VECTOR)
    client.create_collection(name, schema=s)


def index(client, collection, field, index_name="", **kw):
    params = client.prepare_index_params()
    params.add_index(field, index_name=index_name, **kw)
    client.create_index(collection, params)


# ============================================================================================
# partitions


def test_partition_lifecycle(client):
    plain_collection(client)
    assert client.list_partitions("c") == ["_default"]
    assert client.has_partition("c", "_default")
    assert not client.has_partition("c", "p1")

    client.create_partition("c", "p1")
    client.create_partition("c", "p2")
    assert client.list_partitions("c") == ["_default", "p1", "p2"]
    assert client.has_partition("c", "p1")
    assert client.describe_collection("c")["num_partitions"] == 3

    client.drop_partition("c", "p1")
    assert client.list_partitions("c") == ["_default", "p2"]
    assert not client.has_partition("c", "p1")


def test_create_existing_partition_succeeds(client):
    plain_collection(client)
    client.create_partition("c", "p1")
    client.create_partition("c", "p1")
    client.create_partition("c", "_default")
    assert client.list_partitions("c") == ["_default", "p1"]


def test_drop_missing_partition_succeeds(client):
    plain_collection(client)
    client.drop_partition("c", "never")
    client.create_partition("c", "p1")
    client.drop_partition("c", "p1")
    client.drop_partition("c", "p1")
    assert client.list_partitions("c") == ["_default"]


def test_cannot_drop_default_partition(client):
    plain_collection(client)
    with milvus_error(65535, "default partition cannot be deleted"):
        client.drop_partition("c", "_default")
    assert client.list_partitions("c") == ["_default"]


def test_partition_key_collection_refuses_create_and_drop(client):
    partition_key_collection(client)
    parts = ["_default_0", "_default_1", "_default_2"]
    assert client.list_partitions("pk") == parts
    assert client.has_partition("pk", "_default_1")
    with milvus_error(65535, "disable create partition if partition key mode is used"):
        client.create_partition("pk", "p1")
    with milvus_error(65535, "disable drop partition if partition key mode is used"):
        client.drop_partition("pk", "_default_1")
    assert client.list_partitions("pk") == parts


def test_partitions_are_per_collection(client):
    plain_collection(client, "a")
    plain_collection(client, "b")
    client.create_partition("a", "only_a")
    assert client.list_partitions("b") == ["_default"]
    assert not client.has_partition("b", "only_a")


def test_partition_calls_on_missing_collection(client):
    for call, args in [("create_partition", ("p",)), ("drop_partition", ("p",)),
                       ("has_partition", ("p",)), ("list_partitions", ())]:
        with pytest.raises(MilvusException) as info:
            getattr(client, call)("ghost", *args)
        assert info.value.code == 100, (call, info.value.code, info.value.message)


def test_drop_partition_of_loaded_collection_refused(client):
    client.create_collection("loaded", dimension=4)
    client.create_partition("loaded", "p1")
    with milvus_error(65535, "partition cannot be dropped, partition is loaded, please release "
                             "it first"):
        client.drop_partition("loaded", "p1")
    client.release_collection("loaded")
    client.drop_partition("loaded", "p1")
    assert client.list_partitions("loaded") == ["_default"]


LONG_PARTITION = "p" * 256


@pytest.mark.parametrize("name,message", [
    ("", "Invalid partition name: . Partition name should not be empty."),
    ("   ", "Invalid partition name: . Partition name should not be empty."),
    ("%a", "Invalid partition name: %a. The first character of a partition name must be an "
           "underscore or letter."),
    ("中文", "Invalid partition name: 中文. The first character of a partition name must be an "
            "underscore or letter."),
    ("a%b", "Invalid partition name: a%b. Partition name can only contain numbers, letters and "
            "underscores."),
    ("a b", "Invalid partition name: a b. Partition name can only contain numbers, letters and "
            "underscores."),
    (LONG_PARTITION, f"Invalid partition name: {LONG_PARTITION}. The length of a partition "
                     f"name must be less than 255 characters."),
], ids=["empty", "blank", "percent_first", "non_ascii", "percent", "space", "too_long"])
def test_invalid_partition_name(client, name, message):
    # Milvus 2.5/2.6 validatePartitionTag returns plain errors (65535).
    plain_collection(client)
    with milvus_error(65535, message):
        client.create_partition("c", name)
    with milvus_error(65535, message):
        client.has_partition("c", name)
    with milvus_error(65535, message):
        client.drop_partition("c", name)
    assert client.list_partitions("c") == ["_default"]


@pytest.mark.parametrize("name", ["1abc", "9", "_p", "p_1", "P" * 255])
def test_valid_partition_names(client, name):
    # validatePartitionTag lets the first character be a digit, unlike collection names.
    plain_collection(client)
    client.create_partition("c", name)
    assert client.list_partitions("c") == ["_default", name]
    assert client.has_partition("c", name)


def test_partition_limit(client):
    plain_collection(client)
    for i in range(1023):
        client.create_partition("c", f"p{i}")
    assert len(client.list_partitions("c")) == 1024
    # rootcoord create partition: a plain fmt.Errorf in 2.5, 2.6 and later (65535).
    with milvus_error(65535, "partition number (1024) exceeds max configuration (1024), "
                             "collection: c"):
        client.create_partition("c", "one_more")
    assert len(client.list_partitions("c")) == 1024


# ============================================================================================
# indexes


def test_create_and_describe_indexes_on_full_schema(client):
    full_collection(client)
    index(client, "full", "fv", "vidx", index_type="HNSW", metric_type="L2",
          params={"M": 8, "efConstruction": 64})
    index(client, "full", "hv", index_type="AUTOINDEX", metric_type="IP")
    index(client, "full", "tag", "tag_idx", index_type="INVERTED")
    index(client, "full", "bv", index_type="BIN_IVF_FLAT", metric_type="HAMMING",
          params={"nlist": 16})
    index(client, "full", "sv", "sparse_idx", index_type="SPARSE_INVERTED_INDEX",
          metric_type="IP", params={"drop_ratio_build": 0.2})

    assert client.describe_index("full", "vidx") == {
        "M": "8", "efConstruction": "64", "metric_type": "L2", "index_type": "HNSW",
        "field_name": "fv", "index_name": "vidx", "total_rows": 0, "indexed_rows": 0,
        "pending_index_rows": 0, "state": "Finished"}
    assert client.describe_index("full", "hv") == {
        "index_type": "AUTOINDEX", "metric_type": "IP", "field_name": "hv", "index_name": "hv",
        "total_rows": 0, "indexed_rows": 0, "pending_index_rows": 0, "state": "Finished"}
    assert client.describe_index("full", "tag_idx") == {
        "index_type": "INVERTED", "field_name": "tag", "index_name": "tag_idx",
        "total_rows": 0, "indexed_rows": 0, "pending_index_rows": 0, "state": "Finished"}
    assert client.describe_index("full", "bv") == {
        "nlist": "16", "metric_type": "HAMMING", "index_type": "BIN_IVF_FLAT",
        "field_name": "bv", "index_name": "bv", "total_rows": 0, "indexed_rows": 0,
        "pending_index_rows": 0, "state": "Finished"}
    sparse = client.describe_index("full", "sparse_idx")
    assert (sparse["index_type"], sparse["metric_type"], sparse["drop_ratio_build"],
            sparse["field_name"], sparse["state"]) == (
        "SPARSE_INVERTED_INDEX", "IP", "0.2", "sv", "Finished")

    assert sorted(client.list_indexes("full")) == ["bv", "hv", "sparse_idx", "tag_idx", "vidx"]
    assert client.list_indexes("full", field_name="fv") == ["vidx"]
    assert client.list_indexes("full", field_name="n") == []

    # Every vector field is indexed now, so the collection loads.
    client.load_collection("full")
    assert client.get_load_state("full") == {"state": LoadState.Loaded}


def test_scalar_autoindex(client):
    full_collection(client)
    index(client, "full", "n", index_type="AUTOINDEX")
    desc = client.describe_index("full", "n")
    assert desc["field_name"] == "n"
    assert desc["index_name"] == "n"
    assert desc["index_type"] in ("AUTOINDEX", "INVERTED")
    assert desc["state"] == "Finished"


def test_autoindex_on_json_refused(client):
    full_collection(client)
    with milvus_error(1100, "invalid parameter[expected=supported field][actual=create auto "
                            "index on JSON field is not supported]"):
        index(client, "full", "doc", index_type="AUTOINDEX")
    assert client.list_indexes("full") == []


def test_same_index_again_succeeds(client):
    full_collection(client)
    for _ in range(2):
        index(client, "full", "fv", "vidx", index_type="HNSW", metric_type="L2",
              params={"M": 8, "efConstruction": 64})
    assert client.list_indexes("full") == ["vidx"]


def test_default_name_reuses_the_existing_index(client):
    full_collection(client)
    index(client, "full", "fv", "vidx", index_type="HNSW", metric_type="L2",
          params={"M": 8, "efConstruction": 64})
    index(client, "full", "fv", index_type="HNSW", metric_type="L2",
          params={"M": 8, "efConstruction": 64})
    assert client.list_indexes("full") == ["vidx"]


def test_same_name_different_params_refused(client):
    full_collection(client)
    index(client, "full", "fv", "vidx", index_type="HNSW", metric_type="L2",
          params={"M": 8, "efConstruction": 64})
    with milvus_error(65535, "CreateIndex failed: at most one distinct index is allowed per "
                             "field"):
        index(client, "full", "fv", "vidx", index_type="HNSW", metric_type="L2",
              params={"M": 16, "efConstruction": 64})
    assert client.describe_index("full", "vidx")["M"] == "8"


def test_same_name_on_another_field_refused(client):
    full_collection(client)
    index(client, "full", "fv", "shared", index_type="HNSW", metric_type="L2",
          params={"M": 8, "efConstruction": 64})
    with milvus_error(65535, "CreateIndex failed: at most one distinct index is allowed per "
                             "field"):
        index(client, "full", "hv", "shared", index_type="HNSW", metric_type="L2",
              params={"M": 8, "efConstruction": 64})


def test_second_index_on_same_field_refused(client):
    full_collection(client)
    index(client, "full", "fv", "first", index_type="HNSW", metric_type="L2",
          params={"M": 8, "efConstruction": 64})
    with milvus_error(65535, "CreateIndex failed: creating multiple indexes on same field is "
                             "not supported"):
        index(client, "full", "fv", "second", index_type="HNSW", metric_type="L2",
              params={"M": 8, "efConstruction": 64})
    assert client.list_indexes("full") == ["first"]


def test_unknown_index_type(client):
    full_collection(client)
    with milvus_error(1100, "invalid parameter[expected=valid index][actual=invalid index type: "
                            "NOT_AN_INDEX]"):
        index(client, "full", "fv", index_type="NOT_AN_INDEX", metric_type="L2")
    assert client.list_indexes("full") == []


def test_index_type_rivus_does_not_build_is_refused(client):
    full_collection(client)
    with pytest.raises(MilvusException) as info:
        index(client, "full", "fv", index_type="DISKANN", metric_type="L2")
    assert info.value.code != 0
    assert "DISKANN" in info.value.message
    assert client.list_indexes("full") == []


@pytest.mark.parametrize("metric", ["JACCARD", "HAMMING", "BM25", "NOPE"])
def test_bad_metric_for_float_vector(client, metric):
    full_collection(client)
    with milvus_error(1100, contains=(
            f"float vector index does not support metric type: {metric}",
            "invalid parameter[expected=valid index params][actual=invalid index params]")):
        index(client, "full", "fv", index_type="HNSW", metric_type=metric,
              params={"M": 8, "efConstruction": 64})
    assert client.list_indexes("full") == []


def test_bad_metric_for_sparse_vector(client):
    full_collection(client)
    with milvus_error(1100):
        index(client, "full", "sv", index_type="SPARSE_INVERTED_INDEX", metric_type="L2")
    assert client.list_indexes("full") == []


def test_autoindex_accepts_only_metric_type(client):
    full_collection(client)
    with milvus_error(65535, "only metric type can be passed when use AutoIndex"):
        index(client, "full", "fv", index_type="AUTOINDEX", metric_type="L2", params={"M": 8})


def test_index_on_missing_field(client):
    full_collection(client)
    with milvus_error(65535, "cannot create index on non-exist field: nope"):
        index(client, "full", "nope", index_type="AUTOINDEX", metric_type="L2")


@pytest.mark.parametrize("name,message", [
    ("1x", "Invalid index name: 1x. The first character of a index name must be an underscore "
           "or letter."),
    ("a-b", "Invalid index name: a-b. Index name cannot only contain numbers, letters, and "
            "underscores."),
    ("i" * 256, f"Invalid index name: {'i' * 256}. The length of a index name must be less "
                f"than 255 characters."),
], ids=["digit_first", "dash", "too_long"])
def test_invalid_index_name(client, name, message):
    full_collection(client)
    with milvus_error(65535, message):
        index(client, "full", "fv", name, index_type="AUTOINDEX", metric_type="L2")
    assert client.list_indexes("full") == []


def test_create_index_on_missing_collection(client):
    with milvus_error(100, contains="collection not found"):
        index(client, "ghost", "v", index_type="AUTOINDEX", metric_type="L2")


def test_list_and_describe_without_index(client):
    plain_collection(client)
    assert client.list_indexes("c") == []
    assert client.describe_index("c", "v") is None
    assert client.describe_index("c", "") is None


def test_drop_index_refused_while_loaded_then_allowed(client):
    client.create_collection("qs", dimension=4)
    with milvus_error(65535, "index cannot be dropped, collection is loaded, please release it "
                             "first"):
        client.drop_index("qs", "vector")
    assert client.list_indexes("qs") == ["vector"]

    client.release_collection("qs")
    client.drop_index("qs", "vector")
    assert client.list_indexes("qs") == []
    assert client.describe_index("qs", "vector") is None
    with milvus_error(700, "index not found[collection=qs]"):
        client.load_collection("qs")


def test_drop_missing_index_succeeds(client):
    plain_collection(client)
    client.drop_index("c", "never_created")
    index(client, "c", "v", "vi", index_type="AUTOINDEX", metric_type="L2")
    client.drop_index("c", "vi")
    client.drop_index("c", "vi")
    assert client.list_indexes("c") == []


def test_recreate_index_after_drop(client):
    plain_collection(client)
    index(client, "c", "v", "vi", index_type="HNSW", metric_type="L2",
          params={"M": 8, "efConstruction": 64})
    client.drop_index("c", "vi")
    index(client, "c", "v", "other", index_type="AUTOINDEX", metric_type="COSINE")
    assert client.list_indexes("c") == ["other"]
    assert client.describe_index("c", "other")["metric_type"] == "COSINE"
