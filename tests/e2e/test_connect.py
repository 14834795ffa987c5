"""Connecting: MilvusClient construction (the Connect RPC), the `dbname` header, GetVersion and
use_database / using_database (pymilvus-rpcs notes §0.1, §0.2, §1; milvus-semantics §2.7)."""

import warnings

import grpc
import pytest
from pymilvus import DataType, MilvusClient, MilvusException
from pymilvus.grpc_gen import milvus_pb2, milvus_pb2_grpc
from milvus_errors import milvus_error


def make(client, name, dim=4):
    schema = client.create_schema(auto_id=False, enable_dynamic_field=False)
    schema.add_field("id", DataType.INT64, is_primary=True)
    schema.add_field("vec", DataType.FLOAT_VECTOR, dim=dim)
    client.create_collection(name, schema=schema)


@pytest.fixture
def clients(server):
    """Makes extra MilvusClients on the session server; closes them afterwards."""
    made = []

    def make_client(**kw):
        c = MilvusClient(uri=kw.pop("uri", server.uri), **kw)
        made.append(c)
        return c

    yield make_client
    for c in made:
        c.close()


@pytest.fixture
def raw_stub(server):
    channel = grpc.insecure_channel(f"127.0.0.1:{server.port}")
    yield milvus_pb2_grpc.MilvusServiceStub(channel)
    channel.close()


# --------------------------------------------------------------------------------------------
# construction


def test_connect_and_list(client, clients):
    fresh = clients(dedicated=True)  # its own channel, so a real Connect RPC
    assert fresh.list_collections() == []
    assert "default" in fresh.list_databases()


def test_connect_to_existing_database(client, clients):
    client.create_database("x")
    bound = clients(db_name="x", dedicated=True)
    make(bound, "in_x")
    assert bound.list_collections() == ["in_x"]
    assert client.list_collections() == []


def test_database_from_uri_path(server, client, clients):
    client.create_database("pathdb")
    bound = clients(uri=f"{server.uri}/pathdb")
    make(bound, "via_path")
    assert bound.list_collections() == ["via_path"]
    client.use_database("pathdb")
    assert client.list_collections() == ["via_path"]


def test_explicit_default_database(client, clients):
    make(client, "c1")
    assert clients(db_name="default").list_collections() == ["c1"]


def test_missing_database_at_construction(client, clients):
    # pymilvus 3.0.2 sends Connect without the dbname header, so construction cannot fail;
    # the first request carrying the header gets Milvus's 800.
    bound = clients(db_name="no_such_db", dedicated=True)
    with milvus_error(800, "database not found[database=no_such_db]"):
        bound.list_collections()
    with milvus_error(800, "database not found[database=no_such_db]"):
        bound.list_aliases()
    with milvus_error(800, contains="database not found[database=no_such_db]"):
        make(bound, "c1")
    # nothing leaked into default
    assert client.list_collections() == []
    # once the database exists, the same client works
    client.create_database("no_such_db")
    assert bound.list_collections() == []


def test_connect_rpc_with_missing_database(client, raw_stub):
    # Milvus's proxy Connect checks the dbname header: 800 (milvus-semantics §2.7)
    reply = raw_stub.Connect(milvus_pb2.ConnectRequest(), metadata=[("dbname", "no_such_db")])
    assert reply.status.code == 800
    assert reply.status.reason == "database not found[database=no_such_db]"
    assert reply.status.error_code != 0  # legacy code set too, so pymilvus sees an error


def test_connect_rpc_answers(raw_stub, client):
    client.create_database("x")
    for md in ([], [("dbname", "")], [("dbname", "default")], [("dbname", "x")]):
        reply = raw_stub.Connect(milvus_pb2.ConnectRequest(), metadata=md)
        assert reply.status.code == 0 and reply.status.error_code == 0, (md, reply.status)


def test_connection_refused(fresh_server):
    srv = fresh_server()
    uri = srv.uri
    srv.stop()
    with pytest.raises(MilvusException) as info:
        MilvusClient(uri=uri, timeout=2)
    assert info.value.code == 2  # CONNECT_FAILED, raised client-side


# --------------------------------------------------------------------------------------------
# version


def test_get_server_version(client):
    version = client.get_server_version()
    assert isinstance(version, str)
    assert version.strip() != ""


# --------------------------------------------------------------------------------------------
# switching databases


def test_use_database(client):
    client.create_database("db1")
    make(client, "in_default")
    client.use_database("db1")
    assert client.list_collections() == []
    make(client, "in_db1")
    assert client.list_collections() == ["in_db1"]
    client.use_database("default")
    assert client.list_collections() == ["in_default"]


def test_use_missing_database(client):
    make(client, "in_default")
    with milvus_error(800, "database not found[database=no_such_db]"):
        client.use_database("no_such_db")
    # the client stays on the database it was using
    assert client.list_collections() == ["in_default"]


def test_using_database(client):
    client.create_database("db1")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # using_database is deprecated
        client.using_database("db1")
        make(client, "c_db1")
        assert client.list_collections() == ["c_db1"]
        with milvus_error(800, "database not found[database=nope]"):
            client.using_database("nope")
        assert client.list_collections() == ["c_db1"]
        client.using_database("default")
    assert client.list_collections() == []


# --------------------------------------------------------------------------------------------
# the dbname header


def test_dbname_header_is_honoured(client, clients):
    client.create_database("db1")
    client.create_database("db2")
    one = clients(db_name="db1")
    make(one, "only_in_db1")
    assert one.list_collections() == ["only_in_db1"]
    assert one.has_collection("only_in_db1") is True
    assert client.list_collections() == []
    assert client.has_collection("only_in_db1") is False
    assert clients(db_name="db2").list_collections() == []
    # the same name is free in another database
    make(client, "only_in_db1", dim=8)
    assert one.describe_collection("only_in_db1")["fields"][1]["params"]["dim"] == 4
    assert client.describe_collection("only_in_db1")["fields"][1]["params"]["dim"] == 8
    # database RPCs address their target in the body, whatever the header says
    assert one.describe_database("db2") == {"name": "db2"}
    with milvus_error(65535, "database:db1 not empty, must drop all collections before drop "
                             "database"):
        client.drop_database("db1")
    one.drop_collection("only_in_db1")
    client.drop_database("db1")
    assert sorted(client.list_databases()) == ["db2", "default"]


def test_empty_header_means_default(client, raw_stub):
    make(client, "c1")
    reply = raw_stub.ShowCollections(milvus_pb2.ShowCollectionsRequest(),
                                     metadata=[("dbname", "")])
    assert list(reply.collection_names) == ["c1"]
    reply = raw_stub.ShowCollections(milvus_pb2.ShowCollectionsRequest())
    assert list(reply.collection_names) == ["c1"]


def test_body_db_name_wins_over_header(client, raw_stub):
    client.create_database("db1")
    make(client, "c_default")
    client.use_database("db1")
    make(client, "c_db1")
    client.use_database("default")
    reply = raw_stub.ShowCollections(milvus_pb2.ShowCollectionsRequest(db_name="db1"),
                                     metadata=[("dbname", "default")])
    assert reply.status.code == 0
    assert list(reply.collection_names) == ["c_db1"]
