"""The server process: start-up, the data-directory lock, clean shutdown on SIGTERM/SIGINT,
state across restarts, refusal to start on a corrupt catalog, and crash safety under kill -9
during a burst of catalog changes."""

import random
import signal
import struct
import threading
import time

import grpc
import pytest
from pymilvus import DataType, MilvusClient
from pymilvus.client.types import LoadState
from pymilvus.grpc_gen import common_pb2, milvus_pb2, milvus_pb2_grpc, schema_pb2

from conftest import RivusServer


def connect(srv, **kw):
    # dedicated: never reuse a channel of an earlier server that happened to have the same port
    return MilvusClient(uri=srv.uri, dedicated=True, **kw)


def make(client, name, dim=4, description="", **kw):
    schema = client.create_schema(auto_id=False, enable_dynamic_field=False,
                                  description=description)
    schema.add_field("id", DataType.INT64, is_primary=True)
    schema.add_field("vec", DataType.FLOAT_VECTOR, dim=dim)
    client.create_collection(name, schema=schema, **kw)


# --------------------------------------------------------------------------------------------
# start-up and the lock


def test_starts_quickly(tmp_path, record_property):
    srv = RivusServer(tmp_path / "data")
    t0 = time.perf_counter()
    srv.start()
    elapsed = time.perf_counter() - t0
    try:
        record_property("startup_seconds", round(elapsed, 4))
        print(f"rivus started in {elapsed * 1000:.1f} ms")
        assert elapsed < 5.0  # sanity bound only
        c = connect(srv)
        assert c.list_databases() == ["default"]
        c.close()
    finally:
        srv.stop(signal.SIGKILL)


def test_second_server_on_same_data_dir_refused(tmp_path, fresh_server):
    first = fresh_server(tmp_path / "data")
    second = RivusServer(tmp_path / "data")
    with pytest.raises(RuntimeError):
        second.start()
    assert second.proc.returncode not in (0, None)
    out = second.output()
    assert "already in use" in out, out
    assert str(tmp_path / "data") in out, out
    # the first server is unaffected
    c = connect(first)
    c.create_database("still_works")
    assert "still_works" in c.list_databases()
    c.close()


def test_lock_released_after_exit(tmp_path, fresh_server):
    first = fresh_server(tmp_path / "data")
    assert first.stop() == 0
    second = fresh_server(tmp_path / "data")
    assert connect(second).list_databases() == ["default"]


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_signal_shuts_down_cleanly(fresh_server, sig):
    srv = fresh_server()
    c = connect(srv)
    make(c, "c1")  # with a client connection still open
    assert srv.stop(sig) == 0
    out = srv.output()
    assert "shut down cleanly" in out, out
    assert ("SIGTERM" if sig == signal.SIGTERM else "SIGINT") in out
    c.close()


def test_shutdown_while_client_idle_is_prompt(fresh_server):
    srv = fresh_server()
    c = connect(srv)
    c.list_collections()
    t0 = time.perf_counter()
    assert srv.stop() == 0
    # an idle client connection must not hold the shutdown for the whole grace period (10 s)
    assert time.perf_counter() - t0 < 5.0
    c.close()


# --------------------------------------------------------------------------------------------
# state across restarts


def capture(c):
    """Everything observable about the catalog, by database."""
    state = {"databases": sorted(c.list_databases())}
    for db in state["databases"]:
        c.use_database(db)
        per = {"describe_database": c.describe_database(db), "collections": {}, "aliases": {}}
        for name in sorted(c.list_collections()):
            d = c.describe_collection(name)
            d["aliases"] = sorted(d["aliases"])
            per["collections"][name] = {
                "describe": d,
                "load_state": c.get_load_state(name)["state"],
                "partitions": sorted(c.list_partitions(name)),
                "indexes": sorted(c.list_indexes(name)),
                "aliases": sorted(c.list_aliases(name)["aliases"]),
            }
        for alias in sorted(c.list_aliases()["aliases"]):
            per["aliases"][alias] = c.describe_alias(alias)["collection_name"]
        state[db] = per
    c.use_database("default")
    return state


def build_state(c):
    c.create_database("db1", properties={"database.max.collections": 10, "custom.k": "v"})
    c.create_collection("loaded", dimension=4)  # indexed and loaded
    make(c, "with_props", dim=8, properties={"collection.ttl.seconds": 3600},
         consistency_level="Strong", description="has properties")
    c.alter_collection_properties("with_props", {"mmap.enabled": True})
    c.create_partition("with_props", "p1")
    p = c.prepare_index_params()
    p.add_index("vec", index_name="vec_idx", index_type="AUTOINDEX", metric_type="L2")
    c.create_index("with_props", p)
    make(c, "to_rename")
    c.create_alias("to_rename", "follows")
    c.rename_collection("to_rename", "renamed")
    c.create_alias("loaded", "prod")
    c.create_alias("with_props", "staging")
    c.create_alias("with_props", "staging2")
    c.alter_alias("with_props", "prod")
    make(c, "dropped")
    c.create_alias("dropped", "gone")
    c.drop_alias("gone")
    c.drop_collection("dropped")
    c.use_database("db1")
    make(c, "in_db1", dim=16)
    c.create_alias("in_db1", "prod")  # same alias name, other database
    c.use_database("default")


def check_built(state):
    # spot checks that the capture holds what build_state made, so comparing captures means
    # something
    assert state["databases"] == ["db1", "default"]
    default, db1 = state["default"], state["db1"]
    assert sorted(default["collections"]) == ["loaded", "renamed", "with_props"]
    assert default["aliases"] == {"follows": "renamed", "prod": "with_props",
                                  "staging": "with_props", "staging2": "with_props"}
    assert db1["aliases"] == {"prod": "in_db1"}
    assert db1["describe_database"] == {"name": "db1", "database.max.collections": "10",
                                        "custom.k": "v"}
    wp = default["collections"]["with_props"]
    assert wp["describe"]["properties"] == {"collection.ttl.seconds": "3600",
                                            "mmap.enabled": "True"}
    assert wp["describe"]["consistency_level_name"] == "Strong"
    assert wp["describe"]["description"] == "has properties"
    assert wp["partitions"] == ["_default", "p1"]
    assert wp["indexes"] == ["vec_idx"]
    assert wp["load_state"] == LoadState.NotLoad
    assert wp["aliases"] == ["prod", "staging", "staging2"]
    assert default["collections"]["loaded"]["load_state"] == LoadState.Loaded
    assert default["collections"]["loaded"]["aliases"] == []


def test_state_survives_restart(tmp_path, fresh_server):
    data = tmp_path / "data"
    srv = fresh_server(data)
    c = connect(srv)
    build_state(c)
    before = capture(c)
    check_built(before)
    c.close()

    assert srv.stop() == 0
    srv = fresh_server(data)
    c = connect(srv)
    after = capture(c)
    assert after == before
    # the restarted server keeps working on that state, and ids stay unique
    make(c, "new_after_restart")
    ids = [c.describe_collection(n)["collection_id"] for n in c.list_collections()]
    assert len(set(ids)) == len(ids)
    c.alter_alias("loaded", "prod")
    c.release_collection("loaded")
    c.load_collection("with_props")
    c.drop_alias("follows")
    middle = capture(c)
    assert middle["default"]["aliases"] == {"prod": "loaded", "staging": "with_props",
                                            "staging2": "with_props"}
    assert middle["default"]["collections"]["with_props"]["load_state"] == LoadState.Loaded
    assert middle["default"]["collections"]["loaded"]["load_state"] == LoadState.NotLoad
    c.close()

    # and after a crash (no clean shutdown) too
    srv.kill9()
    srv = fresh_server(data)
    c = connect(srv)
    assert capture(c) == middle
    c.close()


# --------------------------------------------------------------------------------------------
# corrupt catalog files


def populated_data_dir(tmp_path, fresh_server):
    data = tmp_path / "data"
    srv = fresh_server(data)
    c = connect(srv)
    c.create_database("db1")
    make(c, "c1")
    c.create_alias("c1", "a1")
    make(c, "c2")
    c.close()
    assert srv.stop() == 0
    return data


def flip_byte(path, offset):
    data = bytearray(path.read_bytes())
    data[offset] ^= 0x5A
    path.write_bytes(bytes(data))


def truncate(path, size):
    with open(path, "r+b") as f:
        f.truncate(size)


CORRUPTIONS = {
    "flip-payload": lambda p: flip_byte(p, p.stat().st_size - 3),
    "flip-magic": lambda p: flip_byte(p, 0),
    "flip-length": lambda p: flip_byte(p, 12),
    "truncate-half": lambda p: truncate(p, p.stat().st_size // 2),
    "truncate-header": lambda p: truncate(p, 10),
    "empty": lambda p: truncate(p, 0),
}


def expect_refused(data, target):
    srv = RivusServer(data)
    with pytest.raises(RuntimeError):
        srv.start()
    assert srv.proc.returncode not in (0, None)
    out = srv.output()
    assert str(target) in out, out
    assert "listening" not in out
    return out


@pytest.mark.parametrize("how", sorted(CORRUPTIONS))
def test_corrupt_catalog_refused(tmp_path, fresh_server, how):
    data = populated_data_dir(tmp_path, fresh_server)
    catalog = data / "catalog"
    CORRUPTIONS[how](catalog)
    damaged = catalog.read_bytes()
    expect_refused(data, catalog)
    assert catalog.read_bytes() == damaged  # left untouched for inspection
    # and refused again (nothing was "repaired" in between)
    expect_refused(data, catalog)
    assert catalog.read_bytes() == damaged


def log_frames(path):
    """(offset, payload_len) of each record of a change log (record_log.rs frame layout)."""
    data = path.read_bytes()
    frames, pos = [], 0
    while pos + 12 <= len(data):
        (n,) = struct.unpack_from("<I", data, pos)
        frames.append((pos, n))
        pos += 12 + n
    assert pos == len(data)
    return frames


def test_corrupt_record_inside_the_change_log_refused(tmp_path, fresh_server):
    data = populated_data_dir(tmp_path, fresh_server)
    (log,) = sorted(data.glob("catalog-*.log"))
    frames = log_frames(log)
    assert len(frames) >= 2
    offset, n = frames[0]
    flip_byte(log, offset + 12 + n // 2)  # payload of a record with others after it
    damaged = log.read_bytes()
    expect_refused(data, log)
    assert log.read_bytes() == damaged


def test_torn_tail_of_the_change_log_is_dropped(tmp_path, fresh_server):
    data = populated_data_dir(tmp_path, fresh_server)
    (log,) = sorted(data.glob("catalog-*.log"))
    intact = log.read_bytes()
    with open(log, "ab") as f:
        f.write(b"\x40\x00\x00")  # half a frame header: a crash mid-append
    srv = fresh_server(data)
    c = connect(srv)
    assert sorted(c.list_collections()) == ["c1", "c2"]
    assert c.describe_alias("a1")["collection_name"] == "c1"
    assert sorted(c.list_databases()) == ["db1", "default"]
    c.close()
    assert srv.stop() == 0
    assert log.read_bytes() == intact  # the torn bytes were cut off, nothing else


# --------------------------------------------------------------------------------------------
# kill -9 during a burst of catalog changes


# A long description makes each create a big log record, so that the bursts also cross the
# catalog's log-to-snapshot compaction (1 MiB of log) and kills can land around it.
PADDING = "x" * 6000


def schema_bytes(name, dim=4):
    s = schema_pb2.CollectionSchema(name=name, description=PADDING, fields=[
        schema_pb2.FieldSchema(name="id", data_type=schema_pb2.DataType.Int64,
                               is_primary_key=True),
        schema_pb2.FieldSchema(name="vec", data_type=schema_pb2.DataType.FloatVector,
                               type_params=[common_pb2.KeyValuePair(key="dim", value=str(dim))]),
    ])
    return s.SerializeToString()


class Model:
    """The catalog as acknowledged: databases, collections and alias -> collection."""

    def __init__(self, dbs=(), collections=(), aliases=None):
        self.dbs = set(dbs)
        self.collections = set(collections)
        self.aliases = dict(aliases or {})

    def copy(self):
        return Model(self.dbs, self.collections, self.aliases)

    def key(self):
        return (sorted(self.dbs), sorted(self.collections), sorted(self.aliases.items()))


def apply(model, op):
    kind, a, b = op
    m = model.copy()
    if kind == "create_collection":
        m.collections.add(a)
    elif kind == "drop_collection":
        m.collections.discard(a)
    elif kind in ("create_alias", "alter_alias"):
        m.aliases[a] = b
    elif kind == "drop_alias":
        m.aliases.pop(a, None)
    elif kind == "create_database":
        m.dbs.add(a)
    return m


def send(stub, op):
    kind, a, b = op
    t = 2.0
    if kind == "create_collection":
        st = stub.CreateCollection(milvus_pb2.CreateCollectionRequest(
            collection_name=a, schema=schema_bytes(a), shards_num=1), timeout=t)
    elif kind == "drop_collection":
        st = stub.DropCollection(milvus_pb2.DropCollectionRequest(collection_name=a), timeout=t)
    elif kind == "create_alias":
        st = stub.CreateAlias(milvus_pb2.CreateAliasRequest(alias=a, collection_name=b),
                              timeout=t)
    elif kind == "alter_alias":
        st = stub.AlterAlias(milvus_pb2.AlterAliasRequest(alias=a, collection_name=b), timeout=t)
    elif kind == "drop_alias":
        st = stub.DropAlias(milvus_pb2.DropAliasRequest(alias=a), timeout=t)
    elif kind == "create_database":
        st = stub.CreateDatabase(milvus_pb2.CreateDatabaseRequest(db_name=a), timeout=t)
    else:
        raise AssertionError(kind)
    assert st.code == 0 and st.error_code == 0, (op, st)


def next_ops(model, n):
    """The catalog changes of step n, chosen from the acknowledged model."""
    ops = [("create_collection", f"c{n}", None), ("create_alias", f"a{n}", f"c{n}")]
    if f"a{n - 1}" in model.aliases:
        ops.append(("alter_alias", f"a{n - 1}", f"c{n}"))
    if f"a{n - 2}" in model.aliases:
        ops.append(("drop_alias", f"a{n - 2}", None))
    if n % 7 == 0:
        ops.append(("create_database", f"d{n}", None))
    return ops


def burst(port, model, start_n, result):
    """Applies steps start_n, start_n+1, ... until the server dies. Records the model of what
    was acknowledged and the one change in flight."""
    channel = grpc.insecure_channel(f"127.0.0.1:{port}")
    stub = milvus_pb2_grpc.MilvusServiceStub(channel)
    n = start_n
    try:
        while True:
            for op in next_ops(model, n):
                result["pending"] = op
                send(stub, op)
                model = apply(model, op)
                result["acked"] += 1
            # drop one alias-free collection, older than the last two
            spare = sorted(c for c in model.collections
                           if c not in model.aliases.values()
                           and c not in (f"c{n}", f"c{n - 1}"))
            if spare:
                op = ("drop_collection", spare[0], None)
                result["pending"] = op
                send(stub, op)
                model = apply(model, op)
                result["acked"] += 1
            n += 1
    except (grpc.RpcError, AssertionError) as e:
        result["error"] = e
    finally:
        result["model"] = model
        result["next_n"] = n + 1
        channel.close()


def observe(srv):
    c = connect(srv)
    try:
        dbs = set(c.list_databases()) - {"default"}
        collections = set(c.list_collections())
        aliases = {}
        for alias in c.list_aliases()["aliases"]:
            target = c.describe_alias(alias)["collection_name"]
            aliases[alias] = target
        # nothing half-applied: every alias points to a live collection, and each collection's
        # own alias list agrees with the alias map
        for alias, target in aliases.items():
            assert target in collections, (alias, target)
            assert c.describe_collection(alias)["collection_name"] == target
        for name in collections:
            d = c.describe_collection(name)
            assert d["collection_name"] == name
            assert sorted(d["aliases"]) == sorted(a for a, t in aliases.items() if t == name)
        return Model(dbs, collections, aliases)
    finally:
        c.close()


def test_kill9_during_burst_of_catalog_changes(tmp_path, fresh_server):
    rng = random.Random(0x5EED)
    data = tmp_path / "data"
    model, n = Model(), 0
    total_acked = 0
    for round_no in range(5):
        srv = fresh_server(data)
        result = {"acked": 0, "pending": None}
        worker = threading.Thread(target=burst, args=(srv.port, model, n, result))
        worker.start()
        time.sleep(rng.uniform(0.05, 0.35))
        srv.kill9()
        worker.join(10)
        assert not worker.is_alive()
        assert "error" in result, "the burst ended without the server dying"
        # the burst must have ended because the server died, not because a change was refused
        assert isinstance(result["error"], grpc.RpcError), result["error"]
        assert result["error"].code() in (grpc.StatusCode.UNAVAILABLE,
                                          grpc.StatusCode.CANCELLED,
                                          grpc.StatusCode.UNKNOWN,
                                          grpc.StatusCode.INTERNAL), result["error"]
        assert result["acked"] > 0, f"round {round_no}: nothing acknowledged before the kill"
        total_acked += result["acked"]
        print(f"round {round_no}: {result['acked']} changes acknowledged, in flight: "
              f"{result['pending']}, killed by: {type(result['error']).__name__}")

        srv = fresh_server(data)
        seen = observe(srv)
        acked = result["model"]
        allowed = [acked.key()]
        if result["pending"] is not None:
            allowed.append(apply(acked, result["pending"]).key())
        assert seen.key() in allowed, (
            f"round {round_no}: state after restart is neither the acknowledged state nor that "
            f"plus the change in flight {result['pending']}")
        srv.kill9()
        model, n = seen, result["next_n"]
    assert total_acked >= 20
    print("catalog files at the end:", sorted(p.name for p in data.iterdir()))
