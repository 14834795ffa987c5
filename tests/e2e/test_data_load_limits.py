"""Partition load/release for the data plane, the request size limit, and the WAL sync flag."""

import grpc
import pytest
from pymilvus import DataType, MilvusClient, MilvusException

from milvus_errors import milvus_error


def make(client, name="c", dynamic=False):
    schema = client.create_schema(enable_dynamic_field=dynamic)
    schema.add_field("id", DataType.INT64, is_primary=True)
    schema.add_field("vec", DataType.FLOAT_VECTOR, dim=2)
    schema.add_field("doc", DataType.JSON)
    index = client.prepare_index_params()
    index.add_index("vec", index_type="FLAT", metric_type="L2")
    client.create_collection(name, schema=schema, index_params=index)


def ids(rows):
    return sorted(r["id"] for r in rows)


def test_queries_see_loaded_partitions_only(client):
    make(client)
    client.create_partition("c", "p1")
    client.create_partition("c", "p2")
    client.insert("c", [{"id": i, "vec": [0.0, 1.0], "doc": {}} for i in range(3)])
    client.insert("c", [{"id": 10 + i, "vec": [0.0, 1.0], "doc": {}} for i in range(3)],
                  partition_name="p1")
    client.insert("c", [{"id": 20 + i, "vec": [0.0, 1.0], "doc": {}} for i in range(3)],
                  partition_name="p2")
    client.release_partitions("c", ["p1"])
    assert str(client.get_load_state("c", partition_name="p1")["state"]) == "NotLoad"
    assert str(client.get_load_state("c", partition_name="p2")["state"]) == "Loaded"
    assert ids(client.query("c", filter="id >= 0")) == [0, 1, 2, 20, 21, 22]
    with milvus_error(201, contains="partition not loaded[partition=p1]"):
        client.query("c", filter="id >= 0", partition_names=["p1"])
    client.load_partitions("c", ["p1"])
    assert len(client.query("c", filter="id >= 0")) == 9
    # Releasing every partition releases the collection; loading one loads just that one.
    client.release_partitions("c", ["_default", "p1", "p2"])
    assert str(client.get_load_state("c")["state"]) == "NotLoad"
    client.load_partitions("c", ["p2"])
    assert ids(client.query("c", filter="id >= 0")) == [20, 21, 22]
    assert str(client.get_load_state("c", partition_name="_default")["state"]) == "NotLoad"
    client.load_collection("c")
    assert len(client.query("c", filter="id >= 0")) == 9


def test_a_request_over_64_mib_is_refused_and_stores_nothing(client):
    make(client)
    big = "x" * 60000
    rows = [{"id": i, "vec": [0.0, 1.0], "doc": {"s": big}} for i in range(1200)]  # ~72 MB
    with pytest.raises((MilvusException, grpc.RpcError)) as info:
        client.insert("c", rows)
    assert "RESOURCE_EXHAUSTED" in str(info.value) or "larger than max" in str(info.value)
    assert client.query("c", output_fields=["count(*)"])[0]["count(*)"] == 0
    client.insert("c", rows[:100])  # a smaller batch of the same rows goes in
    assert client.query("c", output_fields=["count(*)"])[0]["count(*)"] == 100


def test_wal_sync_os_keeps_acknowledged_rows_across_kill_9(fresh_server, tmp_path):
    import subprocess
    from conftest import RIVUS_BIN, RivusServer

    class OsSync(RivusServer):
        def start(self, timeout=20.0):
            real = subprocess.Popen

            def popen(args, **kw):
                return real(list(args) + ["--wal-sync", "os"], **kw)

            subprocess.Popen = popen
            try:
                return super().start(timeout)
            finally:
                subprocess.Popen = real

    data = tmp_path / "data"
    srv = OsSync(data).start()
    c = MilvusClient(uri=srv.uri)
    make(c)
    c.insert("c", [{"id": i, "vec": [0.0, 1.0], "doc": {"i": i}} for i in range(500)])
    srv.kill9()
    srv = fresh_server(data)
    c = MilvusClient(uri=srv.uri)
    assert c.query("c", output_fields=["count(*)"])[0]["count(*)"] == 500
    assert RIVUS_BIN
