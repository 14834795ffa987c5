"""Collections: quick setup, describe, has/list/drop/rename, stats, properties, load state and
name rules, checked against Milvus 2.5/2.6's codes and messages (milvus-semantics notes §3, §5)."""


import pytest
from pymilvus import DataType, MilvusException
from pymilvus.client.types import LoadState
from milvus_errors import milvus_error, milvus_error_any


def not_found(name, db="default"):
    return f"collection not found[database={db}][collection={name}]"


def two_vector_schema(client):
    schema = client.create_schema(auto_id=False, enable_dynamic_field=False)
    schema.add_field("id", DataType.INT64, is_primary=True)
    schema.add_field("v1", DataType.FLOAT_VECTOR, dim=4)
    schema.add_field("v2", DataType.FLOAT_VECTOR, dim=4)
    return schema


def indexed_unloaded(client, name):
    """A collection with an index on its only vector field, not loaded."""
    schema = client.create_schema(auto_id=False, enable_dynamic_field=False)
    schema.add_field("id", DataType.INT64, is_primary=True)
    schema.add_field("vec", DataType.FLOAT_VECTOR, dim=4)
    client.create_collection(name, schema=schema)
    params = client.prepare_index_params()
    params.add_index("vec", index_type="AUTOINDEX", metric_type="L2")
    client.create_index(name, params)


# --------------------------------------------------------------------------------------------
# quick setup


def test_quick_setup_defaults(client):
    client.create_collection("qs", dimension=4)
    desc = client.describe_collection("qs")
    assert desc["collection_name"] == "qs"
    assert desc["auto_id"] is False
    assert desc["num_shards"] == 1
    assert desc["description"] == ""
    assert desc["fields"] == [
        {"field_id": 100, "name": "id", "description": "", "type": DataType.INT64,
         "params": {}, "is_primary": True},
        {"field_id": 101, "name": "vector", "description": "", "type": DataType.FLOAT_VECTOR,
         "params": {"dim": 4}},
    ]
    assert desc["functions"] == []
    assert desc["aliases"] == []
    assert desc["consistency_level"] == 2
    assert desc["consistency_level_name"] == "Bounded"
    assert desc["properties"] == {}
    assert desc["num_partitions"] == 1
    assert desc["enable_dynamic_field"] is True
    assert desc["collection_id"] > 0
    assert desc["created_timestamp"] > 0


def test_quick_setup_creates_index_named_after_vector_field_and_loads(client):
    client.create_collection("qs", dimension=4)
    assert client.list_indexes("qs") == ["vector"]
    assert client.describe_index("qs", "vector") == {
        "index_type": "AUTOINDEX", "metric_type": "COSINE", "field_name": "vector",
        "index_name": "vector", "total_rows": 0, "indexed_rows": 0, "pending_index_rows": 0,
        "state": "Finished",
    }
    assert client.get_load_state("qs") == {"state": LoadState.Loaded}


def test_quick_setup_every_option(client):
    client.create_collection(
        "qs_opts", dimension=8, primary_field_name="pk", id_type="string", max_length=32,
        vector_field_name="emb", metric_type="L2", auto_id=True, consistency_level="Strong",
        description="quick setup with options", properties={"collection.ttl.seconds": 100},
        num_shards=2, enable_dynamic_field=False,
    )
    desc = client.describe_collection("qs_opts")
    assert desc["fields"] == [
        {"field_id": 100, "name": "pk", "description": "", "type": DataType.VARCHAR,
         "params": {"max_length": 32}, "auto_id": True, "is_primary": True},
        {"field_id": 101, "name": "emb", "description": "", "type": DataType.FLOAT_VECTOR,
         "params": {"dim": 8}},
    ]
    assert desc["auto_id"] is True
    assert desc["consistency_level_name"] == "Strong"
    assert desc["consistency_level"] == 0
    assert desc["description"] == "quick setup with options"
    assert desc["properties"] == {"collection.ttl.seconds": "100"}
    assert desc["num_shards"] == 2
    assert desc["enable_dynamic_field"] is False
    assert client.list_indexes("qs_opts") == ["emb"]
    index = client.describe_index("qs_opts", "emb")
    assert (index["index_type"], index["metric_type"]) == ("AUTOINDEX", "L2")
    assert client.get_load_state("qs_opts") == {"state": LoadState.Loaded}


@pytest.mark.parametrize("level,number", [("Strong", 0), ("Session", 1), ("Bounded", 2),
                                          ("Eventually", 3), ("Customized", 4)])
def test_quick_setup_consistency_levels(client, level, number):
    client.create_collection("cl", dimension=4, consistency_level=level)
    desc = client.describe_collection("cl")
    assert (desc["consistency_level"], desc["consistency_level_name"]) == (number, level)


def test_quick_setup_int_id_with_auto_id(client):
    client.create_collection("auto", dimension=4, id_type="int", auto_id=True)
    fields = client.describe_collection("auto")["fields"]
    assert fields[0] == {"field_id": 100, "name": "id", "description": "",
                         "type": DataType.INT64, "params": {}, "auto_id": True,
                         "is_primary": True}


def test_quick_setup_string_id_without_max_length(client):
    # The wording moved between releases (notes §3.4.3); the code and the key parts did not.
    with milvus_error(65535, contains=("type param(max_length) should be specified for ",
                                       "field(id) of collection nolen")):
        client.create_collection("nolen", dimension=4, id_type="string")
    assert not client.has_collection("nolen")


def test_too_many_shards(client):
    with milvus_error(65535, "maximum shards's number should be limited to 16"):
        client.create_collection("shards", dimension=4, num_shards=17)
    client.create_collection("shards", dimension=4, num_shards=16)
    assert client.describe_collection("shards")["num_shards"] == 16


# --------------------------------------------------------------------------------------------
# create twice


def test_create_same_collection_twice_succeeds(client):
    client.create_collection("twice", dimension=4)
    before = client.describe_collection("twice")
    client.create_collection("twice", dimension=4)
    after = client.describe_collection("twice")
    assert after["collection_id"] == before["collection_id"]
    assert client.list_collections() == ["twice"]


def test_create_same_full_schema_twice_succeeds(client):
    client.create_collection("twice", schema=two_vector_schema(client))
    client.create_collection("twice", schema=two_vector_schema(client))
    assert client.list_collections() == ["twice"]


def test_create_same_name_different_schema_fails(client):
    client.create_collection("diff", dimension=4)
    with milvus_error(65535,
                      "create duplicate collection with different parameters, collection: diff"):
        client.create_collection("diff", dimension=8)
    with milvus_error(65535,
                      "create duplicate collection with different parameters, collection: diff"):
        client.create_collection("diff", schema=two_vector_schema(client))
    assert client.describe_collection("diff")["fields"][1]["params"] == {"dim": 4}


# --------------------------------------------------------------------------------------------
# describe / has / list / drop


def test_describe_missing_collection(client):
    with milvus_error(100, "can't find collection[database=default][collection=ghost]"):
        client.describe_collection("ghost")


def test_describe_missing_collection_in_other_database(client):
    client.create_database("db2")
    client.use_database("db2")
    with milvus_error(100, "can't find collection[database=db2][collection=ghost]"):
        client.describe_collection("ghost")


def test_has_list_drop(client):
    assert client.list_collections() == []
    assert client.has_collection("a") is False
    client.create_collection("a", dimension=4)
    client.create_collection("b", dimension=4)
    assert client.has_collection("a") is True
    assert sorted(client.list_collections()) == ["a", "b"]

    client.drop_collection("a")
    assert client.has_collection("a") is False
    assert client.list_collections() == ["b"]
    client.drop_collection("a")  # idempotent
    client.drop_collection("never_existed")
    assert client.list_collections() == ["b"]


def test_drop_loaded_collection(client):
    client.create_collection("loaded", dimension=4)
    assert client.get_load_state("loaded") == {"state": LoadState.Loaded}
    client.drop_collection("loaded")
    assert client.get_load_state("loaded") == {"state": LoadState.NotExist}
    # Recreating the name gives a fresh collection.
    client.create_collection("loaded", dimension=6)
    assert client.describe_collection("loaded")["fields"][1]["params"] == {"dim": 6}


def test_get_collection_stats(client):
    client.create_collection("stats", dimension=4)
    assert client.get_collection_stats("stats") == {"row_count": 0}
    with pytest.raises(MilvusException) as info:
        client.get_collection_stats("ghost")
    assert info.value.code == 100


# --------------------------------------------------------------------------------------------
# rename


def test_rename_in_same_database(client):
    client.create_collection("old", dimension=4, description="keep me")
    old_id = client.describe_collection("old")["collection_id"]
    client.rename_collection("old", "new")
    assert client.list_collections() == ["new"]
    desc = client.describe_collection("new")
    assert desc["collection_name"] == "new"
    assert desc["collection_id"] == old_id
    assert desc["description"] == "keep me"
    assert client.has_collection("old") is False
    with milvus_error(100, "can't find collection[database=default][collection=old]"):
        client.describe_collection("old")
    assert client.list_indexes("new") == ["vector"]


def test_rename_across_databases(client):
    client.create_database("target")
    client.create_collection("mover", dimension=4)
    client.rename_collection("mover", "moved", target_db="target")
    assert client.list_collections() == []
    client.use_database("target")
    assert client.list_collections() == ["moved"]
    assert client.describe_collection("moved")["fields"][1]["params"] == {"dim": 4}


def test_rename_to_missing_database(client):
    client.create_collection("c", dimension=4)
    with milvus_error_any((65535, "target database:nodb not found"),
                          (800, "database not found[database=nodb]")):
        client.rename_collection("c", "d", target_db="nodb")
    assert client.list_collections() == ["c"]


def test_rename_to_existing_name(client):
    client.create_collection("a", dimension=4)
    client.create_collection("b", dimension=4)
    msg = "duplicated new collection name default:b with other collection name or alias"
    with milvus_error_any((65535, msg), (1100, msg + ": invalid parameter")):
        client.rename_collection("a", "b")
    assert sorted(client.list_collections()) == ["a", "b"]


def test_rename_to_existing_name_in_target_database(client):
    client.create_database("t2")
    client.create_collection("a", dimension=4)
    client.use_database("t2")
    client.create_collection("a", dimension=4)
    client.use_database("default")
    msg = "duplicated new collection name t2:a with other collection name or alias"
    with milvus_error_any((65535, msg), (1100, msg + ": invalid parameter")):
        client.rename_collection("a", "a", target_db="t2")


def test_rename_to_an_alias_name(client):
    client.create_collection("a", dimension=4)
    client.create_collection("b", dimension=4)
    client.create_alias("b", "alias_b")
    with milvus_error_any(
            (65535, "duplicated new collection name default:alias_b with other collection name "
                    "or alias"),                                                    # 2.5
            (65535, "cannot rename collection to an existing alias: alias_b"),      # 2.6
            (1601, "alias and collection name conflict[database=default][alias=alias_b]")):
        client.rename_collection("a", "alias_b")
    assert sorted(client.list_collections()) == ["a", "b"]


def test_rename_via_alias_refused(client):
    client.create_collection("a", dimension=4)
    client.create_alias("a", "al")
    msg = "unsupported use an alias to rename collection, alias:al"
    with milvus_error_any((65535, msg), (1100, msg + ": invalid parameter")):
        client.rename_collection("al", "renamed")
    assert client.list_collections() == ["a"]


def test_rename_across_databases_with_alias_refused(client):
    client.create_database("t3")
    client.create_collection("a", dimension=4)
    client.create_alias("a", "al")
    with milvus_error(65535, "fail to rename db name, must drop all aliases of this collection "
                             "before rename"):
        client.rename_collection("a", "a", target_db="t3")


def test_rename_invalid_new_name(client):
    client.create_collection("a", dimension=4)
    with milvus_error(1100, contains=("Invalid collection name: 1bad.",
                                      "the first character of a collection name must be an "
                                      "underscore or letter: invalid parameter")):
        client.rename_collection("a", "1bad")
    assert client.list_collections() == ["a"]


def test_rename_missing_collection(client):
    with milvus_error(100, not_found("ghost")):
        client.rename_collection("ghost", "new")


# --------------------------------------------------------------------------------------------
# properties


def test_alter_and_drop_collection_properties(client):
    client.create_collection("props", dimension=4)
    client.alter_collection_properties("props", {"collection.ttl.seconds": 60, "custom": "x"})
    assert client.describe_collection("props")["properties"] == {
        "collection.ttl.seconds": "60", "custom": "x"}
    client.alter_collection_properties("props", {"custom": "y", "other": True})
    assert client.describe_collection("props")["properties"] == {
        "collection.ttl.seconds": "60", "custom": "y", "other": "True"}
    client.drop_collection_properties("props", ["custom", "no_such_key"])
    assert client.describe_collection("props")["properties"] == {
        "collection.ttl.seconds": "60", "other": "True"}
    client.drop_collection_properties("props", ["collection.ttl.seconds", "other"])
    assert client.describe_collection("props")["properties"] == {}


def test_alter_properties_of_missing_collection(client):
    with milvus_error(100, not_found("ghost")):
        client.alter_collection_properties("ghost", {"a": "1"})


@pytest.mark.parametrize("key", ["mmap.enabled", "lazyload.enabled"])
def test_alter_mmap_on_loaded_collection_refused(client, key):
    client.create_collection("mm", dimension=4)
    with milvus_error(104, "can not alter mmap properties if collection loaded: "
                           "collection already loaded[collection=mm]"):
        client.alter_collection_properties("mm", {key: True})
    assert client.describe_collection("mm")["properties"] == {}

    client.release_collection("mm")
    client.alter_collection_properties("mm", {key: True})
    assert client.describe_collection("mm")["properties"] == {key: "True"}

    client.load_collection("mm")
    with milvus_error(104, "can not delete mmap properties if collection loaded: "
                           "collection already loaded[collection=mm]"):
        client.drop_collection_properties("mm", [key])
    assert client.describe_collection("mm")["properties"] == {key: "True"}


def test_disable_dynamic_field_refused(client):
    client.create_collection("dyn", dimension=4)
    with milvus_error(1100, "dynamic schema cannot supported to be disabled: invalid parameter"):
        client.alter_collection_properties("dyn", {"dynamicfield.enabled": False})
    assert client.describe_collection("dyn")["enable_dynamic_field"] is True


def test_delete_dynamic_field_key_refused(client):
    client.create_collection("dyn", dimension=4)
    # Milvus 2.6 rootcoord (notes §3.13: the key is refused; text and code from the 2.6 source).
    with milvus_error(1100, "cannot delete key dynamicfield.enabled, dynamic field schema could "
                            "support set to true/false: invalid parameter"):
        client.drop_collection_properties("dyn", ["dynamicfield.enabled"])
    assert client.describe_collection("dyn")["enable_dynamic_field"] is True


@pytest.mark.parametrize("value,message", [
    ("abc", "collection TTL is not a valid positive integer: invalid parameter"),
    ("1.5", "collection TTL is not a valid positive integer: invalid parameter"),
    (-2, "collection TTL is out of range, expect [-1, 3155760000], got -2: invalid parameter"),
    (3155760001, "collection TTL is out of range, expect [-1, 3155760000], got 3155760001: "
                 "invalid parameter"),
])
def test_invalid_ttl_refused(client, value, message):
    client.create_collection("ttl", dimension=4)
    with milvus_error(1100, message):
        client.alter_collection_properties("ttl", {"collection.ttl.seconds": value})
    assert client.describe_collection("ttl")["properties"] == {}


@pytest.mark.parametrize("value", [-1, 0, 3155760000])
def test_valid_ttl_edges(client, value):
    client.create_collection("ttl", dimension=4)
    client.alter_collection_properties("ttl", {"collection.ttl.seconds": value})
    assert client.describe_collection("ttl")["properties"] == {
        "collection.ttl.seconds": str(value)}


# --------------------------------------------------------------------------------------------
# load / release / load state


def test_load_release_cycle(client):
    indexed_unloaded(client, "lr")
    assert client.get_load_state("lr") == {"state": LoadState.NotLoad}
    client.load_collection("lr")
    assert client.get_load_state("lr") == {"state": LoadState.Loaded}
    client.load_collection("lr")  # loading a loaded collection succeeds
    assert client.get_load_state("lr") == {"state": LoadState.Loaded}
    client.refresh_load("lr")
    assert client.get_load_state("lr") == {"state": LoadState.Loaded}
    client.release_collection("lr")
    assert client.get_load_state("lr") == {"state": LoadState.NotLoad}
    client.release_collection("lr")  # releasing a released collection succeeds
    assert client.get_load_state("lr") == {"state": LoadState.NotLoad}


def test_load_state_of_missing_collection(client):
    assert client.get_load_state("ghost") == {"state": LoadState.NotExist}


def test_load_and_release_missing_collection(client):
    with milvus_error(100, contains=not_found("ghost")):
        client.load_collection("ghost")
    with milvus_error(100, contains=not_found("ghost")):
        client.release_collection("ghost")


def test_load_without_any_index(client):
    client.create_collection("noidx", schema=two_vector_schema(client))
    with milvus_error(700, "index not found[collection=noidx]"):
        client.load_collection("noidx")
    assert client.get_load_state("noidx") == {"state": LoadState.NotLoad}


def test_load_with_a_vector_field_unindexed(client):
    client.create_collection("half", schema=two_vector_schema(client))
    params = client.prepare_index_params()
    params.add_index("v1", index_type="AUTOINDEX", metric_type="L2")
    client.create_index("half", params)
    with milvus_error(65535, "there is no vector index on field: [v2], please create index "
                             "firstly"):
        client.load_collection("half")
    assert client.get_load_state("half") == {"state": LoadState.NotLoad}


def test_full_schema_with_index_params_loads(client):
    params = client.prepare_index_params()
    params.add_index("v1", index_type="AUTOINDEX", metric_type="L2")
    params.add_index("v2", index_type="AUTOINDEX", metric_type="IP")
    client.create_collection("full", schema=two_vector_schema(client), index_params=params)
    assert sorted(client.list_indexes("full")) == ["v1", "v2"]
    assert client.get_load_state("full") == {"state": LoadState.Loaded}


def test_full_schema_without_index_params_is_not_loaded(client):
    client.create_collection("bare", schema=two_vector_schema(client))
    assert client.list_indexes("bare") == []
    assert client.get_load_state("bare") == {"state": LoadState.NotLoad}


# --------------------------------------------------------------------------------------------
# name rules


INVALID_NAMES = [
    ("12-s", "the first character of a collection name must be an underscore or letter"),
    ("中文", "the first character of a collection name must be an underscore or letter"),
    ("a-b", "collection name can only contain numbers, letters and underscores"),
    ("a b", "collection name can only contain numbers, letters and underscores"),
    ("a" * 256, "the length of a collection name must be less than 255 characters"),
]


def check_invalid_name(info, name, tail):
    message = info.value.message
    assert message.startswith(f"Invalid collection name: {name}."), message
    assert message.endswith(f" {tail}: invalid parameter"), message


@pytest.mark.parametrize("name,tail", INVALID_NAMES,
                         ids=["digit_first", "non_ascii", "dash", "space", "too_long"])
def test_create_invalid_collection_name(client, name, tail):
    with milvus_error(1100) as info:
        client.create_collection(name, dimension=4)
    check_invalid_name(info, name, tail)
    assert client.list_collections() == []


def test_invalid_name_double_space_as_milvus_formats_it(client):
    with milvus_error(1100, "Invalid collection name: 12-s.  the first character of a "
                            "collection name must be an underscore or letter: invalid parameter"):
        client.create_collection("12-s", dimension=4)


def test_blank_collection_name(client):
    with milvus_error(1100, "collection name should not be empty: invalid parameter"):
        client.create_collection("   ", dimension=4)


def test_longest_valid_name(client):
    name = "_" + "a1" * 127
    assert len(name) == 255
    client.create_collection(name, dimension=4)
    assert client.list_collections() == [name]


@pytest.mark.parametrize("call", ["describe_collection", "has_collection", "load_collection",
                                  "release_collection", "get_load_state", "list_partitions"])
def test_other_calls_validate_the_name(client, call):
    with milvus_error(1100) as info:
        getattr(client, call)("12-s")
    check_invalid_name(info, "12-s", INVALID_NAMES[0][1])
