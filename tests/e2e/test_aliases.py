"""Collection aliases, end to end through pymilvus, against the specification
shared/design/alias-semantics.md (Milvus 2.5/2.6 semantics, its §7 acceptance checklist) and the
founding example shared/seed/alter_alias.md."""

import random
import threading
import time

import pytest
from pymilvus import DataType, MilvusClient, MilvusException
from pymilvus.client.types import LoadState
from milvus_errors import milvus_error, milvus_error_any


def make(client, name, dim=4):
    """A collection without index (one CreateCollection RPC, no client-side waiting)."""
    schema = client.create_schema(auto_id=False, enable_dynamic_field=False)
    schema.add_field("id", DataType.INT64, is_primary=True)
    schema.add_field("vec", DataType.FLOAT_VECTOR, dim=dim)
    client.create_collection(name, schema=schema)


def dim_of(desc):
    return next(f["params"]["dim"] for f in desc["fields"] if f["name"] == "vec")


def alias_not_found(alias, db="default"):
    return f"alias not found[database={db}][alias={alias}]"


def conflict(alias, db="default"):
    return f"alias and collection name conflict[database={db}][alias={alias}]"


@pytest.fixture
def db_client(server):
    """Makes MilvusClients bound to a database (the `dbname` header); closes them afterwards."""
    made = []

    def make_client(db_name):
        c = MilvusClient(uri=server.uri, db_name=db_name)
        made.append(c)
        return c

    yield make_client
    for c in made:
        c.close()


# --------------------------------------------------------------------------------------------
# the founding example (shared/seed/alter_alias.md), verbatim but for the uri


def test_founding_example(server, client):
    # 1. Create a milvus client
    client = MilvusClient(uri=server.uri)

    # 2. Create two collections
    client.create_collection(collection_name="test_collection_1", dimension=5)
    client.create_collection(collection_name="test_collection_2", dimension=5)

    # 3. Create an alias for the collection
    client.create_alias(collection_name="test_collection_1", alias="test")

    # before: collection_1's alias = ["test"], collection_2's alias = []
    assert client.describe_collection("test_collection_1")["aliases"] == ["test"]
    assert client.describe_collection("test_collection_2")["aliases"] == []
    assert client.list_aliases("test_collection_1")["aliases"] == ["test"]
    assert client.list_aliases("test_collection_2")["aliases"] == []
    assert client.describe_alias("test")["collection_name"] == "test_collection_1"

    # 4. Reassign the alias to the other collection
    client.alter_alias(collection_name="test_collection_2", alias="test")

    # after: collection_1's alias = [], collection_2's alias = ["test"]
    assert client.describe_collection("test_collection_1")["aliases"] == []
    assert client.describe_collection("test_collection_2")["aliases"] == ["test"]
    assert client.list_aliases("test_collection_1")["aliases"] == []
    assert client.list_aliases("test_collection_2")["aliases"] == ["test"]
    assert client.describe_alias("test") == {
        "alias": "test", "collection_name": "test_collection_2", "db_name": "default"}
    assert client.describe_collection("test")["collection_name"] == "test_collection_2"
    client.close()


# --------------------------------------------------------------------------------------------
# §3 name validation (create / alter / describe validate; drop never does)

FIRST_CHAR = "the first character of a collection alias must be an underscore or letter"
TOO_LONG = "the length of a collection alias must be less than 255 characters"
INVALID_NAMES = [
    ("12-s", FIRST_CHAR),
    ("12 s", FIRST_CHAR),
    ("(mn)", FIRST_CHAR),
    ("中文", FIRST_CHAR),
    ("%$#", FIRST_CHAR),
    ("a" * 256, TOO_LONG),
]


def invalid_alias_message(name, tail):
    # The Go format joins "Invalid collection alias: X. " and " the ...": two spaces.
    return f"Invalid collection alias: {name}.  {tail}: invalid parameter"


@pytest.mark.parametrize("name,tail", INVALID_NAMES,
                         ids=["12-s", "12 s", "(mn)", "cjk", "%$#", "256"])
def test_invalid_alias_names(client, name, tail):
    make(client, "c1")
    message = invalid_alias_message(name, tail)
    with milvus_error(1100, message):
        client.create_alias("c1", name)
    with milvus_error(1100, message):
        client.alter_alias("c1", name)
    with milvus_error(1100, message):
        client.describe_alias(name)
    # drop_alias never validates: an invalid (and unknown) name simply succeeds
    client.drop_alias(name)
    assert client.list_aliases()["aliases"] == []


def test_other_invalid_name_shapes(client):
    make(client, "c1")
    # bytes after the first one: letters, digits and underscores only
    with milvus_error(1100, "Invalid collection alias: a-b.  collection alias can only contain "
                            "numbers, letters and underscores: invalid parameter"):
        client.create_alias("c1", "a-b")
    with milvus_error(1100, "Invalid collection alias: a$b.  collection alias can only contain "
                            "numbers, letters and underscores: invalid parameter"):
        client.alter_alias("c1", "a$b")


def test_empty_alias(client):
    make(client, "c1")
    empty = "collection alias should not be empty: invalid parameter"
    with milvus_error(1100, empty):
        client.create_alias("c1", "")
    with milvus_error(1100, empty):
        client.alter_alias("c1", "")
    client.drop_alias("")  # no validation on drop


def test_alias_of_255_chars_accepted(client):
    make(client, "c1")
    name = "a" * 255
    client.create_alias("c1", name)
    assert client.describe_alias(name)["collection_name"] == "c1"
    assert client.list_aliases("c1")["aliases"] == [name]
    client.alter_alias("c1", name)
    client.drop_alias(name)
    assert client.list_aliases("c1")["aliases"] == []


def test_underscore_and_digits_accepted(client):
    make(client, "c1")
    client.create_alias("c1", "_a1_B2")
    assert client.describe_alias("_a1_B2")["collection_name"] == "c1"


def test_alias_surrounding_whitespace_is_trimmed(client):
    # 2.5/2.6 proxies trim before validating, root coord trims before storing (spec §3 rule 1)
    make(client, "c1")
    client.create_alias("c1", "  x ")
    assert client.list_aliases()["aliases"] == ["x"]
    assert client.describe_alias("x")["collection_name"] == "c1"


def test_collection_name_is_trimmed_too(client):
    make(client, "c1")
    make(client, "c2")
    client.create_alias(" c1 ", "a1")
    assert client.describe_alias("a1")["collection_name"] == "c1"
    client.alter_alias("c2 ", " a1")
    assert client.describe_alias("a1")["collection_name"] == "c2"


def test_alias_names_are_case_sensitive(client):
    make(client, "c1")
    make(client, "c2")
    client.create_alias("c1", "abc")
    client.create_alias("c2", "ABC")
    assert client.describe_alias("abc")["collection_name"] == "c1"
    assert client.describe_alias("ABC")["collection_name"] == "c2"
    with milvus_error(1600, alias_not_found("Abc")):
        client.describe_alias("Abc")
    # an alias that differs from a collection name only in case is a different name
    client.create_alias("c1", "C1")
    assert client.describe_collection("C1")["collection_name"] == "c1"


def test_collection_name_validated_in_create_and_alter(client):
    message = ("Invalid collection name: 12-s.  the first character of a collection name must be "
               "an underscore or letter: invalid parameter")
    with milvus_error(1100, message):
        client.create_alias("12-s", "a1")
    with milvus_error(1100, message):
        client.alter_alias("12-s", "a1")
    with milvus_error(1100, message):
        client.list_aliases("12-s")
    # the alias is validated before the collection name
    with milvus_error(1100, invalid_alias_message("1a", FIRST_CHAR)):
        client.create_alias("12-s", "1a")


def test_validation_comes_before_the_database_check(client, db_client):
    nodb = db_client("no_such_db")
    with milvus_error(1100, invalid_alias_message("1a", FIRST_CHAR)):
        nodb.create_alias("c1", "1a")


# --------------------------------------------------------------------------------------------
# create_alias


def test_create_alias(client):
    make(client, "c1")
    assert client.create_alias("c1", "a1") is None
    assert client.describe_alias("a1") == {"alias": "a1", "collection_name": "c1",
                                           "db_name": "default"}
    assert client.list_aliases("c1") == {"aliases": ["a1"], "collection_name": "c1",
                                         "db_name": "default"}


def test_create_alias_named_like_a_collection(client):
    make(client, "c1")
    make(client, "c2")
    with milvus_error(1601, conflict("c2")):
        client.create_alias("c1", "c2")
    assert client.list_aliases()["aliases"] == []


def test_alias_named_like_its_own_collection(client):
    make(client, "c1")
    with milvus_error(1601, conflict("c1")):
        client.create_alias("c1", "c1")
    with milvus_error(1601, conflict("c1")):
        client.alter_alias("c1", "c1")


def test_create_alias_for_missing_collection(client):
    with milvus_error(100, "collection not found[database=default][collection=nope]"):
        client.create_alias("nope", "a1")
    assert client.list_aliases()["aliases"] == []


def test_create_alias_is_idempotent_for_the_same_target(client):
    make(client, "c1")
    client.create_alias("c1", "a1")
    client.create_alias("c1", "a1")
    assert client.list_aliases()["aliases"] == ["a1"]
    assert client.describe_collection("c1")["aliases"] == ["a1"]


def test_create_existing_alias_for_another_collection(client):
    make(client, "c1")
    make(client, "c2")
    client.create_alias("c1", "a1")
    with milvus_error(1602, "a1 is alias to another collection: c1: alias already exist"
                            "[database=default][alias=a1]"):
        client.create_alias("c2", "a1")
    assert client.describe_alias("a1")["collection_name"] == "c1"


def test_alias_cannot_target_an_alias(client):
    make(client, "c1")
    client.create_alias("c1", "a1")
    with milvus_error(100, "collection not found[database=default][collection=a1]"):
        client.create_alias("a1", "a2")
    with milvus_error(100, "collection not found[collection=a1]"):
        client.alter_alias("a1", "a1")
    assert client.list_aliases()["aliases"] == ["a1"]


def test_collection_may_have_many_aliases(client):
    make(client, "c1")
    for a in ("a1", "a2", "a3"):
        client.create_alias("c1", a)
    assert sorted(client.describe_collection("c1")["aliases"]) == ["a1", "a2", "a3"]
    assert sorted(client.list_aliases("c1")["aliases"]) == ["a1", "a2", "a3"]
    for a in ("a1", "a2", "a3"):
        assert client.describe_collection(a)["collection_name"] == "c1"


# --------------------------------------------------------------------------------------------
# alter_alias


def test_alter_alias_named_like_a_collection(client):
    make(client, "c1")
    make(client, "c2")
    with milvus_error(1601, conflict("c2")):
        client.alter_alias("c1", "c2")


def test_alter_alias_to_missing_collection(client):
    make(client, "c1")
    client.create_alias("c1", "a1")
    # note: no [database=...] field here, unlike create_alias
    with milvus_error(100, "collection not found[collection=nope]"):
        client.alter_alias("nope", "a1")
    assert client.describe_alias("a1")["collection_name"] == "c1"


def test_alter_missing_alias(client):
    make(client, "c1")
    with milvus_error(1600, alias_not_found("zz")):
        client.alter_alias("c1", "zz")
    assert client.list_aliases()["aliases"] == []


def test_alter_checks_the_collection_before_the_alias(client):
    with milvus_error(100, "collection not found[collection=nope]"):
        client.alter_alias("nope", "zz")


def test_alter_alias_to_its_current_target_is_a_noop(client):
    make(client, "c1")
    client.create_alias("c1", "a1")
    client.alter_alias("c1", "a1")
    assert client.describe_alias("a1")["collection_name"] == "c1"
    assert client.list_aliases()["aliases"] == ["a1"]


def test_alter_moves_only_that_alias(client):
    make(client, "c1")
    make(client, "c2")
    client.create_alias("c1", "a1")
    client.create_alias("c1", "a2")
    client.alter_alias("c2", "a1")
    assert client.describe_collection("c1")["aliases"] == ["a2"]
    assert client.describe_collection("c2")["aliases"] == ["a1"]
    # and back
    client.alter_alias("c1", "a1")
    assert sorted(client.describe_collection("c1")["aliases"]) == ["a1", "a2"]
    assert client.describe_collection("c2")["aliases"] == []


def test_alter_is_visible_to_the_very_next_request(client):
    make(client, "c4", dim=4)
    make(client, "c8", dim=8)
    client.create_alias("c4", "live")
    for _ in range(20):
        client.alter_alias("c8", "live")
        d = client.describe_collection("live")
        assert (d["collection_name"], dim_of(d)) == ("c8", 8)
        assert client.has_collection("live")
        client.alter_alias("c4", "live")
        d = client.describe_collection("live")
        assert (d["collection_name"], dim_of(d)) == ("c4", 4)
        assert client.describe_alias("live")["collection_name"] == "c4"


# --------------------------------------------------------------------------------------------
# drop_alias / describe_alias / list_aliases


def test_drop_alias_is_idempotent(client):
    make(client, "c1")
    client.create_alias("c1", "a1")
    assert client.drop_alias("a1") is None
    client.drop_alias("a1")
    client.drop_alias("never_existed")
    with milvus_error(1600, alias_not_found("a1")):
        client.describe_alias("a1")
    assert client.list_aliases()["aliases"] == []
    assert client.describe_collection("c1")["aliases"] == []
    assert client.has_collection("a1") is False
    assert client.list_collections() == ["c1"]


def test_describe_missing_alias(client):
    with milvus_error(1600, alias_not_found("nope")):
        client.describe_alias("nope")


def test_describe_alias_with_a_collection_name(client):
    make(client, "c1")
    with milvus_error(1600, alias_not_found("c1")):
        client.describe_alias("c1")


def test_list_aliases_of_whole_database(client):
    make(client, "c1")
    make(client, "c2")
    assert client.list_aliases() == {"aliases": [], "db_name": "default"}
    client.create_alias("c1", "a1")
    client.create_alias("c2", "b1")
    client.create_alias("c1", "a2")
    everything = client.list_aliases()
    assert set(everything) == {"aliases", "db_name"}  # collection_name echoed empty -> absent
    assert everything["db_name"] == "default"
    assert sorted(everything["aliases"]) == ["a1", "a2", "b1"]
    assert sorted(client.list_aliases("c1")["aliases"]) == ["a1", "a2"]
    assert client.list_aliases("c2") == {"aliases": ["b1"], "collection_name": "c2",
                                         "db_name": "default"}


def test_list_aliases_of_an_alias_is_not_resolved(client):
    make(client, "c1")
    client.create_alias("c1", "a1")
    with milvus_error(100, "collection not found[collection=a1]"):
        client.list_aliases("a1")


def test_list_aliases_of_missing_collection(client):
    with milvus_error(100, "collection not found[collection=nope]"):
        client.list_aliases("nope")


# --------------------------------------------------------------------------------------------
# interactions with collection DDL


def test_drop_collection_via_alias_refused(client):
    make(client, "c1")
    client.create_alias("c1", "a1")
    with milvus_error_any((65535, "cannot drop the collection via alias = a1"),
                          (1600, "cannot drop the collection via alias = a1")):
        client.drop_collection("a1")
    assert client.list_collections() == ["c1"]
    assert client.describe_alias("a1")["collection_name"] == "c1"
    assert client.describe_collection("c1")["aliases"] == ["a1"]


def test_drop_collection_with_aliases_refused(client):
    make(client, "c1")
    client.create_alias("c1", "a")
    client.create_alias("c1", "b")
    with milvus_error_any(
            (65535, "unable to drop the collection [c1] because it has associated aliases [a b], "
                    "please remove all aliases before dropping the collection"),
            (65535, "unable to drop the collection [c1] because it has associated aliases [b a], "
                    "please remove all aliases before dropping the collection")):
        client.drop_collection("c1")
    assert client.list_collections() == ["c1"]
    assert sorted(client.list_aliases("c1")["aliases"]) == ["a", "b"]
    client.drop_alias("a")
    with milvus_error(65535, "unable to drop the collection [c1] because it has associated "
                             "aliases [b], please remove all aliases before dropping the "
                             "collection"):
        client.drop_collection("c1")
    client.drop_alias("b")
    client.drop_collection("c1")
    assert client.list_collections() == []


def test_create_collection_with_an_alias_name_refused(client):
    make(client, "c1")
    client.create_alias("c1", "a1")
    with milvus_error_any(
            (65535, "collection name [a1] conflicts with an existing alias, please choose a "
                    "unique name"),
            (1601, "please choose a unique name: alias and collection name conflict"
                   "[database=default][alias=a1]")):
        make(client, "a1")
    assert client.list_collections() == ["c1"]
    assert client.describe_alias("a1")["collection_name"] == "c1"


def test_aliases_follow_a_rename(client):
    make(client, "c1")
    client.create_alias("c1", "a1")
    client.create_alias("c1", "a2")
    client.rename_collection("c1", "c1_renamed")
    assert client.describe_alias("a1")["collection_name"] == "c1_renamed"
    assert sorted(client.list_aliases("c1_renamed")["aliases"]) == ["a1", "a2"]
    d = client.describe_collection("a2")
    assert d["collection_name"] == "c1_renamed"
    assert sorted(d["aliases"]) == ["a1", "a2"]
    with milvus_error(100, "collection not found[collection=c1]"):
        client.list_aliases("c1")
    # the old name is free again, even for an alias
    make(client, "other")
    client.create_alias("other", "c1")
    assert client.describe_alias("c1")["collection_name"] == "other"


def test_rename_via_alias_refused(client):
    make(client, "c1")
    client.create_alias("c1", "a1")
    msg = "unsupported use an alias to rename collection, alias:a1"
    with milvus_error_any((65535, msg), (1100, msg + ": invalid parameter")):
        client.rename_collection("a1", "renamed")
    assert client.list_collections() == ["c1"]
    assert client.describe_alias("a1")["collection_name"] == "c1"


def test_rename_onto_an_alias_refused(client):
    make(client, "c1")
    make(client, "c2")
    client.create_alias("c2", "a2")
    with milvus_error_any(
            (65535, "cannot rename collection to an existing alias: a2"),
            (65535, "duplicated new collection name default:a2 with other collection name or "
                    "alias")):
        client.rename_collection("c1", "a2")
    assert sorted(client.list_collections()) == ["c1", "c2"]
    assert client.describe_alias("a2")["collection_name"] == "c2"


def test_rename_across_databases_with_aliases_refused(client):
    client.create_database("other_db")
    make(client, "c1")
    client.create_alias("c1", "a1")
    with milvus_error(65535, "fail to rename db name, must drop all aliases of this collection "
                             "before rename"):
        client.rename_collection("c1", "c1", target_db="other_db")
    assert client.list_collections() == ["c1"]
    # without aliases it moves
    client.drop_alias("a1")
    client.rename_collection("c1", "c1", target_db="other_db")
    assert client.list_collections() == []


def test_rename_into_another_database_onto_its_alias_refused(client, db_client):
    client.create_database("db2")
    two = db_client("db2")
    make(two, "c_db2")
    two.create_alias("c_db2", "x")
    make(client, "c1")
    with milvus_error_any(
            (65535, "cannot rename collection to an existing alias: x"),
            (65535, "duplicated new collection name db2:x with other collection name or alias")):
        client.rename_collection("c1", "x", target_db="db2")
    assert client.list_collections() == ["c1"]
    assert two.list_collections() == ["c_db2"]
    assert two.describe_alias("x")["collection_name"] == "c_db2"


def test_alias_reuse_after_drop(client):
    make(client, "c1")
    make(client, "c2")
    client.create_alias("c1", "a1")
    client.drop_alias("a1")
    client.drop_collection("c1")
    client.create_alias("c2", "a1")
    assert client.describe_alias("a1")["collection_name"] == "c2"
    # and the freed alias name can even become a collection name
    client.drop_alias("a1")
    make(client, "a1")
    assert sorted(client.list_collections()) == ["a1", "c2"]


# --------------------------------------------------------------------------------------------
# alias resolution wherever a collection name is accepted


def test_has_and_describe_collection_through_alias(client):
    make(client, "c1", dim=6)
    client.create_alias("c1", "a1")
    client.create_alias("c1", "a2")
    assert client.has_collection("a1") is True
    assert client.has_collection("nope") is False
    d = client.describe_collection("a1")
    direct = client.describe_collection("c1")
    assert d["collection_name"] == "c1"
    assert dim_of(d) == 6
    assert sorted(d["aliases"]) == ["a1", "a2"]
    assert d["collection_id"] == direct["collection_id"]
    assert d == direct


def test_list_collections_excludes_aliases(client):
    make(client, "c1")
    make(client, "c2")
    client.create_alias("c1", "a1")
    client.create_alias("c2", "a2")
    assert sorted(client.list_collections()) == ["c1", "c2"]


def test_load_state_load_release_through_alias(client):
    client.create_collection("loaded", dimension=4)  # quick setup: indexed and loaded
    client.create_collection("released", dimension=4)
    client.release_collection("released")
    client.create_alias("loaded", "a")
    assert client.get_load_state("a")["state"] == LoadState.Loaded
    client.alter_alias("released", "a")
    assert client.get_load_state("a")["state"] == LoadState.NotLoad
    client.load_collection("a")
    assert client.get_load_state("released")["state"] == LoadState.Loaded
    client.alter_alias("loaded", "a")
    client.release_collection("a")
    assert client.get_load_state("loaded")["state"] == LoadState.NotLoad
    assert client.get_load_state("released")["state"] == LoadState.Loaded


def test_collection_stats_through_alias(client):
    make(client, "c1")
    client.create_alias("c1", "a1")
    assert client.get_collection_stats("a1") == client.get_collection_stats("c1")
    assert client.get_collection_stats("a1")["row_count"] == 0
    client.drop_alias("a1")
    with milvus_error(100, contains="collection not found"):
        client.get_collection_stats("a1")


def test_partitions_through_alias(client):
    make(client, "c1")
    make(client, "c2")
    client.create_partition("c2", "only_in_c2")
    client.create_alias("c1", "a")
    client.create_partition("a", "p1")
    assert sorted(client.list_partitions("c1")) == ["_default", "p1"]
    assert client.list_partitions("a") == client.list_partitions("c1")
    assert client.has_partition("a", "p1") is True
    assert client.has_partition("a", "only_in_c2") is False
    client.alter_alias("c2", "a")
    assert sorted(client.list_partitions("a")) == ["_default", "only_in_c2"]
    assert client.has_partition("a", "only_in_c2") is True
    assert client.has_partition("a", "p1") is False


def test_indexes_through_alias(client):
    make(client, "c1")
    make(client, "c2")
    p = client.prepare_index_params()
    p.add_index("vec", index_name="idx_l2", index_type="AUTOINDEX", metric_type="L2")
    client.create_index("c1", p)
    client.create_alias("c1", "a")
    assert client.list_indexes("a") == ["idx_l2"]
    d = client.describe_index("a", "idx_l2")
    assert d["metric_type"] == "L2"
    assert d["field_name"] == "vec"
    assert d["index_name"] == "idx_l2"
    client.alter_alias("c2", "a")
    assert client.list_indexes("a") == []
    assert client.describe_index("a", "idx_l2") is None


def test_not_resolved_after_the_alias_is_dropped(client):
    make(client, "c1")
    client.create_alias("c1", "a1")
    client.drop_alias("a1")
    assert client.has_collection("a1") is False
    # the proxy rewrites describe_collection's not-found reason (milvus-semantics §3.7)
    with milvus_error(100, "can't find collection[database=default][collection=a1]"):
        client.describe_collection("a1")
    with milvus_error(100, contains="collection not found"):
        client.list_partitions("a1")


# --------------------------------------------------------------------------------------------
# aliases are per database


def test_same_alias_in_two_databases(client, db_client):
    client.create_database("db1")
    client.create_database("db2")
    one, two = db_client("db1"), db_client("db2")
    make(one, "c_one", dim=4)
    make(two, "c_two", dim=8)
    one.create_alias("c_one", "shared")
    two.create_alias("c_two", "shared")

    assert one.describe_alias("shared") == {"alias": "shared", "collection_name": "c_one",
                                            "db_name": "db1"}
    assert two.describe_alias("shared") == {"alias": "shared", "collection_name": "c_two",
                                            "db_name": "db2"}
    d1, d2 = one.describe_collection("shared"), two.describe_collection("shared")
    assert (d1["collection_name"], dim_of(d1)) == ("c_one", 4)
    assert (d2["collection_name"], dim_of(d2)) == ("c_two", 8)
    # nothing in default
    assert client.list_aliases()["aliases"] == []
    assert client.has_collection("shared") is False
    with milvus_error(1600, alias_not_found("shared")):
        client.describe_alias("shared")

    # db named in the body (list_aliases(db_name=...)) by a client on "default"
    assert client.list_aliases(db_name="db1") == {"aliases": ["shared"], "db_name": "db1"}
    assert client.list_aliases("c_two", db_name="db2") == {
        "aliases": ["shared"], "collection_name": "c_two", "db_name": "db2"}
    # the body wins over the header
    assert one.list_aliases("c_two", db_name="db2")["aliases"] == ["shared"]

    # dropping in one database leaves the other alone
    one.drop_alias("shared")
    assert one.list_aliases()["aliases"] == []
    assert two.describe_alias("shared")["collection_name"] == "c_two"


def test_alias_cannot_cross_databases(client, db_client):
    client.create_database("db1")
    make(client, "c_default")
    one = db_client("db1")
    with milvus_error(100, "collection not found[database=db1][collection=c_default]"):
        one.create_alias("c_default", "a")
    client.create_alias("c_default", "a")
    with milvus_error(1600, alias_not_found("a", db="db1")):
        one.describe_alias("a")
    # an alias in default does not conflict with a collection of the same name in db1
    make(one, "a")
    assert one.describe_collection("a")["collection_name"] == "a"
    assert client.describe_collection("a")["collection_name"] == "c_default"


def test_use_database_switches_alias_namespace(client):
    client.create_database("db1")
    make(client, "c1")
    client.create_alias("c1", "a")
    client.use_database("db1")
    assert client.list_aliases()["aliases"] == []
    with milvus_error(1600, alias_not_found("a", db="db1")):
        client.describe_alias("a")
    client.use_database("default")
    assert client.describe_alias("a")["collection_name"] == "c1"


def test_unknown_database(client, db_client):
    nodb = db_client("no_such_db")
    missing = "database not found[database=no_such_db]"
    with milvus_error(800, missing):
        nodb.create_alias("c1", "a1")
    with milvus_error(800, missing):
        nodb.alter_alias("c1", "a1")
    with milvus_error(800, missing):
        nodb.drop_alias("a1")
    with milvus_error(800, missing):
        nodb.describe_alias("a1")
    with milvus_error(800, missing):
        nodb.list_aliases()
    with milvus_error(800, missing):
        client.list_aliases(db_name="no_such_db")


# --------------------------------------------------------------------------------------------
# concurrency: readers never see a half-moved alias


def test_concurrent_describe_while_altering(server, client):
    make(client, "c4", dim=4)
    make(client, "c8", dim=8)
    client.create_alias("c4", "swing")
    expected = {"c4": 4, "c8": 8}
    stop = threading.Event()
    errors, seen = [], {"c4": 0, "c8": 0}
    lock = threading.Lock()

    def reader():
        c = MilvusClient(uri=server.uri)
        try:
            while not stop.is_set():
                try:
                    d = c.describe_collection("swing")
                except Exception as e:  # noqa: BLE001 - every error is a failure here
                    errors.append(repr(e))
                    continue
                name = d["collection_name"]
                if name not in expected or dim_of(d) != expected[name] \
                        or "swing" not in d["aliases"]:
                    errors.append(f"inconsistent: {name} dim {dim_of(d)} aliases {d['aliases']}")
                else:
                    with lock:
                        seen[name] += 1
        finally:
            c.close()

    def alterer():
        c = MilvusClient(uri=server.uri)
        try:
            deadline = time.time() + 1.5
            while time.time() < deadline:
                for target in ("c8", "c4"):
                    try:
                        c.alter_alias(target, "swing")
                    except Exception as e:  # noqa: BLE001
                        errors.append(f"alter: {e!r}")
        finally:
            c.close()

    readers = [threading.Thread(target=reader) for _ in range(4)]
    writer = threading.Thread(target=alterer)
    for t in readers:
        t.start()
    writer.start()
    writer.join()
    stop.set()
    for t in readers:
        t.join()
    assert errors == []
    # both targets were actually observed, so the test raced reads against writes
    assert seen["c4"] > 0 and seen["c8"] > 0, seen
    assert client.describe_alias("swing")["collection_name"] == "c4"


def test_concurrent_create_of_one_alias(server, client):
    """Many clients race to create the same alias for different collections: exactly one
    wins, every other gets 1602 naming the winner."""
    names = [f"c{i}" for i in range(8)]
    for n in names:
        make(client, n)
    barrier = threading.Barrier(len(names))
    outcome = {}

    def racer(name):
        c = MilvusClient(uri=server.uri)
        try:
            barrier.wait()
            c.create_alias(name, "race")
            outcome[name] = None
        except MilvusException as e:
            outcome[name] = (e.code, e.message)
        finally:
            c.close()

    threads = [threading.Thread(target=racer, args=(n,)) for n in names]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    winners = [n for n, r in outcome.items() if r is None]
    assert len(winners) == 1, outcome
    (winner,) = winners
    for name, result in outcome.items():
        if name != winner:
            assert result == (1602, f"race is alias to another collection: {winner}: alias "
                                    f"already exist[database=default][alias=race]"), result
    assert client.describe_alias("race")["collection_name"] == winner
    assert client.list_aliases()["aliases"] == ["race"]


def test_concurrent_alter_and_drop_collection(server, client):
    """alter_alias and drop_collection racing on the same collections never leave an alias
    pointing at a dropped collection: each drop is refused while an alias points at the
    collection, each alter to a dropped collection fails with 100."""
    names = [f"c{i}" for i in range(6)]
    for n in names:
        make(client, n)
    client.create_alias("c0", "swing")
    unexpected = []
    stop = threading.Event()

    def alterer():
        c = MilvusClient(uri=server.uri)
        rng = random.Random(1)
        try:
            while not stop.is_set():
                target = rng.choice(names)
                try:
                    c.alter_alias(target, "swing")
                except MilvusException as e:
                    if (e.code, e.message) != (100, f"collection not found[collection={target}]"):
                        unexpected.append(("alter", target, e.code, e.message))
        finally:
            c.close()

    def dropper():
        c = MilvusClient(uri=server.uri)
        rng = random.Random(2)
        try:
            deadline = time.time() + 1.0
            while time.time() < deadline:
                target = rng.choice(names)
                try:
                    c.drop_collection(target)
                except MilvusException as e:
                    refused = (f"unable to drop the collection [{target}] because it has "
                               f"associated aliases [swing], please remove all aliases before "
                               f"dropping the collection")
                    if (e.code, e.message) != (65535, refused):
                        unexpected.append(("drop", target, e.code, e.message))
        finally:
            c.close()

    threads = [threading.Thread(target=alterer), threading.Thread(target=dropper)]
    for t in threads:
        t.start()
    threads[1].join()
    stop.set()
    threads[0].join()
    assert unexpected == []
    remaining = client.list_collections()
    target = client.describe_alias("swing")["collection_name"]
    assert target in remaining
    assert client.describe_collection("swing")["collection_name"] == target
    assert client.describe_collection(target)["aliases"] == ["swing"]
    # the dropper got the chance to drop everything the alias did not protect
    assert len(remaining) < len(names)
