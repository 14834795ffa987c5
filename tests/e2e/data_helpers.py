"""Helpers the data-plane e2e files share: collections, vectors, counts and row maps."""

from pymilvus import DataType


def vec(i, dim=4):
    """A float vector whose components are exact in float32 (so equality checks are exact)."""
    return [float(i % 8) * 0.5, 1.0, -0.25 * (i % 4), 2.0][:dim] + [0.5] * max(0, dim - 4)


def make(client, name, *fields, dim=4, dynamic=False, auto_id=False, load=True, **create_kw):
    """A full-schema collection: pk `id`, vector `vec` and the extra (name, type, kwargs) fields;
    indexed (AUTOINDEX, L2) and loaded unless load=False. The index is created with
    sync=False, which skips pymilvus's 0.5 s wait for the build."""
    s = client.create_schema(auto_id=auto_id, enable_dynamic_field=dynamic)
    s.add_field("id", DataType.INT64, is_primary=True, auto_id=auto_id)
    for fname, ftype, kw in fields:
        s.add_field(fname, ftype, **kw)
    s.add_field("vec", DataType.FLOAT_VECTOR, dim=dim)
    client.create_collection(name, schema=s, **create_kw)
    ip = client.prepare_index_params()
    ip.add_index("vec", index_type="AUTOINDEX", metric_type="L2")
    client.create_index(name, ip, sync=False)
    if load:
        client.load_collection(name)


def count(client, name, filter="", **kw):
    res = client.query(name, filter=filter, output_fields=["count(*)"], **kw)
    assert len(res) == 1, res
    return res[0]["count(*)"]


def by_id(rows, pk="id"):
    out = {}
    for r in rows:
        assert r[pk] not in out, f"pk {r[pk]!r} returned twice"
        out[r[pk]] = dict(r)
    return out


def ids(rows, pk="id"):
    return sorted(r[pk] for r in rows)
