"""Databases: create / list / describe / alter / drop, name rules, the 64-database limit and
switching with use_database, checked against Milvus 2.5/2.6's codes and messages
(milvus-semantics notes §2)."""


import pytest
from pymilvus import MilvusClient, MilvusException
from milvus_errors import milvus_error


def _vec_collection(client, name):
    client.create_collection(name, dimension=4)


# --------------------------------------------------------------------------------------------
# create / list / describe / drop


def test_default_database_always_exists(client):
    assert "default" in client.list_databases()
    assert client.describe_database("default") == {"name": "default"}


def test_create_list_describe_drop(client):
    client.create_database("db1")
    assert sorted(client.list_databases()) == ["db1", "default"]
    assert client.describe_database("db1") == {"name": "db1"}

    client.drop_database("db1")
    assert client.list_databases() == ["default"]
    with milvus_error(800, "database not found[database=db1]"):
        client.describe_database("db1")


def test_create_with_properties_round_trips_as_strings(client):
    client.create_database(
        "props_db",
        properties={"database.replica.number": 1, "database.force.deny.writing": True,
                    "custom.key": "v", "data.replica.number": 3},
    )
    assert client.describe_database("props_db") == {
        "name": "props_db",
        "database.replica.number": "1",
        "database.force.deny.writing": "True",
        "custom.key": "v",
        "data.replica.number": "3",
    }


def test_create_existing_database_fails(client):
    client.create_database("dup")
    with milvus_error(65535, "database already exist: dup"):
        client.create_database("dup")
    with milvus_error(65535, "database already exist: default"):
        client.create_database("default")
    assert sorted(client.list_databases()) == ["default", "dup"]


def test_drop_default_database_refused(client):
    with milvus_error(65535, "can not drop default database"):
        client.drop_database("default")
    assert "default" in client.list_databases()


def test_drop_missing_database_succeeds(client):
    client.drop_database("never_created")
    client.create_database("once")
    client.drop_database("once")
    client.drop_database("once")
    assert client.list_databases() == ["default"]


def test_drop_database_with_collections_refused(client):
    client.create_database("full")
    client.use_database("full")
    _vec_collection(client, "c1")
    client.use_database("default")

    with milvus_error(65535,
                      "database:full not empty, must drop all collections before drop database"):
        client.drop_database("full")
    assert "full" in client.list_databases()

    client.use_database("full")
    client.drop_collection("c1")
    client.use_database("default")
    client.drop_database("full")
    assert "full" not in client.list_databases()


def test_describe_missing_database(client):
    with milvus_error(800, "database not found[database=nope]"):
        client.describe_database("nope")


def test_describe_does_not_validate_name(client):
    # DescribeDatabase goes straight to the catalog: an invalid name is just "not found".
    with milvus_error(800, "database not found[database=12-s]"):
        client.describe_database("12-s")


LONG = "a" * 256

INVALID_DB_NAMES = [
    ("", "database name couldn't be empty: invalid database name[database=]"),
    (LONG, "the length of a database name must be less than 255 characters: "
           f"invalid database name[database={LONG}]"),
    ("12-s", "the first character of a database name must be an underscore or letter: "
             "invalid database name[database=12-s]"),
    ("中文", "the first character of a database name must be an underscore or letter: "
            "invalid database name[database=中文]"),
    ("  ", "the first character of a database name must be an underscore or letter: "
           "invalid database name[database=  ]"),
    (" db", "the first character of a database name must be an underscore or letter: "
            "invalid database name[database= db]"),
    ("a-b", "database name can only contain numbers, letters and underscores: "
            "invalid database name[database=a-b]"),
    ("a b", "database name can only contain numbers, letters and underscores: "
            "invalid database name[database=a b]"),
    ("db ", "database name can only contain numbers, letters and underscores: "
            "invalid database name[database=db ]"),
]


@pytest.mark.parametrize("name,message", INVALID_DB_NAMES,
                         ids=["empty", "too_long", "digit_first", "non_ascii", "spaces",
                              "leading_space", "dash", "inner_space", "trailing_space"])
def test_create_invalid_database_name(client, name, message):
    with milvus_error(802, message):
        client.create_database(name)
    assert client.list_databases() == ["default"]


@pytest.mark.parametrize("name,message", INVALID_DB_NAMES[:3] + INVALID_DB_NAMES[6:7],
                         ids=["empty", "too_long", "digit_first", "dash"])
def test_drop_invalid_database_name(client, name, message):
    with milvus_error(802, message):
        client.drop_database(name)


def test_valid_database_name_edges(client):
    longest = "d" * 255
    client.create_database(longest)
    client.create_database("_x9")
    assert sorted(client.list_databases()) == sorted(["default", longest, "_x9"])
    assert client.describe_database(longest) == {"name": longest}


# --------------------------------------------------------------------------------------------
# alter / drop properties


def test_alter_database_properties_merges(client):
    client.create_database("alt", properties={"a": "1", "keep": "k"})
    client.alter_database_properties("alt", {"a": "2", "b": 3})
    assert client.describe_database("alt") == {"name": "alt", "a": "2", "b": "3", "keep": "k"}


def test_drop_database_properties_deletes_and_ignores_missing(client):
    client.create_database("alt", properties={"a": "1", "b": "2", "c": "3"})
    client.drop_database_properties("alt", ["a", "missing_key"])
    assert client.describe_database("alt") == {"name": "alt", "b": "2", "c": "3"}
    client.drop_database_properties("alt", ["b", "c"])
    assert client.describe_database("alt") == {"name": "alt"}


def test_alter_default_database_properties(client):
    try:
        client.alter_database_properties("default", {"database.max.collections": 100})
        assert client.describe_database("default") == {
            "name": "default", "database.max.collections": "100"}
    finally:
        client.drop_database_properties("default", ["database.max.collections"])
    assert client.describe_database("default") == {"name": "default"}


def test_drop_database_properties_empty_key_list(client):
    client.create_database("alt")
    with milvus_error(65535, contains="alter database with empty properties and delete keys, "
                                      "expected to set either properties or delete keys"):
        client.drop_database_properties("alt", [])


def test_alter_properties_of_missing_database(client):
    with milvus_error(800, "database not found[database=ghost]"):
        client.alter_database_properties("ghost", {"a": "1"})
    with milvus_error(800, "database not found[database=ghost]"):
        client.drop_database_properties("ghost", ["a"])


# --------------------------------------------------------------------------------------------
# limit


def test_database_limit_is_64_including_default(client):
    created = []
    try:
        for i in range(63):
            name = f"lim_{i}"
            client.create_database(name)
            created.append(name)
        assert len(client.list_databases()) == 64

        with milvus_error(801, "exceeded the limit number of database[limit=64]"):
            client.create_database("one_too_many")
        # An existing name at the limit is refused too; 2.5 checks the limit first (801),
        # later 2.6 releases the duplicate first (65535), so either answer is Milvus's.
        with pytest.raises(MilvusException) as info:
            client.create_database("lim_0")
        assert (info.value.code, info.value.message) in [
            (801, "exceeded the limit number of database[limit=64]"),
            (65535, "database already exist: lim_0")]
        assert "one_too_many" not in client.list_databases()

        client.drop_database(created.pop())
        client.create_database("one_too_many")
        created.append("one_too_many")
    finally:
        for name in created:
            client.drop_database(name)
    assert client.list_databases() == ["default"]


# --------------------------------------------------------------------------------------------
# use_database


def test_use_database_switches_namespace(client):
    client.create_database("other")
    _vec_collection(client, "shared_name")

    client.use_database("other")
    assert client.list_collections() == []
    assert not client.has_collection("shared_name")
    client.create_collection("shared_name", dimension=8)
    _vec_collection(client, "only_other")
    assert sorted(client.list_collections()) == ["only_other", "shared_name"]
    assert client.describe_collection("shared_name")["fields"][1]["params"] == {"dim": 8}

    client.use_database("default")
    assert client.list_collections() == ["shared_name"]
    assert client.describe_collection("shared_name")["fields"][1]["params"] == {"dim": 4}
    with milvus_error(100, "can't find collection[database=default][collection=only_other]"):
        client.describe_collection("only_other")


def test_use_missing_database_fails_and_keeps_current(client):
    client.create_database("here")
    client.use_database("here")
    _vec_collection(client, "mine")
    with milvus_error(800, "database not found[database=nowhere]"):
        client.use_database("nowhere")
    assert client.list_collections() == ["mine"]


def test_client_bound_to_database(server, client):
    client.create_database("bound")
    other = MilvusClient(uri=server.uri, db_name="bound", dedicated=True)
    try:
        _vec_collection(other, "in_bound")
        assert other.list_collections() == ["in_bound"]
        assert client.list_collections() == []
        client.use_database("bound")
        assert client.list_collections() == ["in_bound"]
    finally:
        other.close()


def test_database_dropped_under_a_client(server, client):
    client.create_database("gone")
    other = MilvusClient(uri=server.uri, db_name="gone", dedicated=True)
    try:
        client.drop_database("gone")
        with milvus_error(800, contains="database not found[database=gone]"):
            other.list_collections()
        with milvus_error(800, contains="database not found[database=gone]"):
            _vec_collection(other, "c")
    finally:
        other.close()
