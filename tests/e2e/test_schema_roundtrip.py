"""Schemas: every field type and attribute must come back from describe_collection exactly as it
was created, and invalid schemas must be refused with Milvus's codes and messages
(milvus-semantics notes §3.3-3.6).

Round trips go through pymilvus's MilvusClient. Validation cases send CreateCollection directly
over gRPC with hand-built protobufs, because pymilvus refuses many bad schemas on the client side
before the server ever sees them.
"""


import grpc
import pytest
from pymilvus import DataType, Function, FunctionType, MilvusException
from pymilvus.client.utils import check_status
from pymilvus.grpc_gen import milvus_pb2, milvus_pb2_grpc, schema_pb2
from milvus_errors import milvus_error


def default_of(field):
    """The Python value of a described field's default_value (a protobuf ValueField)."""
    value = field["default_value"]
    return getattr(value, value.WhichOneof("data"))


def normalized(fields):
    """Described fields with default_value turned into (oneof kind, value)."""
    out = []
    for f in fields:
        f = dict(f)
        if "default_value" in f:
            kind = f["default_value"].WhichOneof("data")
            f["default_value"] = (kind, default_of(f))
        out.append(f)
    return out


# --------------------------------------------------------------------------------------------
# round trips


def test_every_scalar_and_dense_vector_type_round_trips(client):
    s = client.create_schema(enable_dynamic_field=True, description="every scalar type")
    s.add_field("id", DataType.INT64, is_primary=True, description="primary key")
    s.add_field("b", DataType.BOOL, default_value=True)
    s.add_field("i8", DataType.INT8, default_value=-5)
    s.add_field("i16", DataType.INT16, nullable=True, default_value=300)
    s.add_field("i32", DataType.INT32, default_value=70000, description="int32 field")
    s.add_field("i64", DataType.INT64, nullable=True)
    s.add_field("f", DataType.FLOAT, default_value=1.5)
    s.add_field("d", DataType.DOUBLE, default_value=2.25)
    s.add_field("s", DataType.VARCHAR, max_length=64, default_value="hello")
    s.add_field("j", DataType.JSON, nullable=True)
    s.add_field("arr_i64", DataType.ARRAY, element_type=DataType.INT64, max_capacity=8)
    s.add_field("arr_s", DataType.ARRAY, element_type=DataType.VARCHAR, max_capacity=4,
                max_length=16, nullable=True)
    s.add_field("arr_f", DataType.ARRAY, element_type=DataType.FLOAT, max_capacity=3)
    s.add_field("arr_b", DataType.ARRAY, element_type=DataType.BOOL, max_capacity=2)
    s.add_field("arr_i8", DataType.ARRAY, element_type=DataType.INT8, max_capacity=4096)
    s.add_field("arr_d", DataType.ARRAY, element_type=DataType.DOUBLE, max_capacity=1)
    s.add_field("fv", DataType.FLOAT_VECTOR, dim=8, description="float vector")
    s.add_field("f16", DataType.FLOAT16_VECTOR, dim=16)
    s.add_field("bf16", DataType.BFLOAT16_VECTOR, dim=32768)
    s.add_field("i8v", DataType.INT8_VECTOR, dim=2)
    client.create_collection("every", schema=s, consistency_level="Session", num_shards=2,
                             properties={"collection.ttl.seconds": 3600, "custom": "x"})

    desc = client.describe_collection("every")
    assert desc["collection_name"] == "every"
    assert desc["description"] == "every scalar type"
    assert desc["auto_id"] is False
    assert desc["enable_dynamic_field"] is True
    assert desc["consistency_level_name"] == "Session"
    assert desc["num_shards"] == 2
    assert desc["num_partitions"] == 1
    assert desc["properties"] == {"collection.ttl.seconds": "3600", "custom": "x"}
    assert desc["functions"] == []

    fields = normalized(desc["fields"])
    # Python ints are sent as long_data even for INT8/16/32 (pymilvus notes §2.3); Milvus may
    # keep them as long_data or store them as int_data, the value must be the same.
    for f in fields:
        if f["name"] in ("i8", "i16", "i32"):
            assert f["default_value"][0] in ("long_data", "int_data")
            f["default_value"] = ("int", f["default_value"][1])
    assert fields == [
        {"field_id": 100, "name": "id", "description": "primary key", "type": DataType.INT64,
         "params": {}, "is_primary": True},
        {"field_id": 101, "name": "b", "description": "", "type": DataType.BOOL, "params": {},
         "default_value": ("bool_data", True)},
        {"field_id": 102, "name": "i8", "description": "", "type": DataType.INT8, "params": {},
         "default_value": ("int", -5)},
        {"field_id": 103, "name": "i16", "description": "", "type": DataType.INT16,
         "params": {}, "default_value": ("int", 300), "nullable": True},
        {"field_id": 104, "name": "i32", "description": "int32 field", "type": DataType.INT32,
         "params": {}, "default_value": ("int", 70000)},
        {"field_id": 105, "name": "i64", "description": "", "type": DataType.INT64,
         "params": {}, "nullable": True},
        {"field_id": 106, "name": "f", "description": "", "type": DataType.FLOAT, "params": {},
         "default_value": ("float_data", 1.5)},
        {"field_id": 107, "name": "d", "description": "", "type": DataType.DOUBLE,
         "params": {}, "default_value": ("double_data", 2.25)},
        {"field_id": 108, "name": "s", "description": "", "type": DataType.VARCHAR,
         "params": {"max_length": 64}, "default_value": ("string_data", "hello")},
        {"field_id": 109, "name": "j", "description": "", "type": DataType.JSON, "params": {},
         "nullable": True},
        {"field_id": 110, "name": "arr_i64", "description": "", "type": DataType.ARRAY,
         "params": {"max_capacity": 8}, "element_type": DataType.INT64},
        {"field_id": 111, "name": "arr_s", "description": "", "type": DataType.ARRAY,
         "params": {"max_capacity": 4, "max_length": 16}, "element_type": DataType.VARCHAR,
         "nullable": True},
        {"field_id": 112, "name": "arr_f", "description": "", "type": DataType.ARRAY,
         "params": {"max_capacity": 3}, "element_type": DataType.FLOAT},
        {"field_id": 113, "name": "arr_b", "description": "", "type": DataType.ARRAY,
         "params": {"max_capacity": 2}, "element_type": DataType.BOOL},
        {"field_id": 114, "name": "arr_i8", "description": "", "type": DataType.ARRAY,
         "params": {"max_capacity": 4096}, "element_type": DataType.INT8},
        {"field_id": 115, "name": "arr_d", "description": "", "type": DataType.ARRAY,
         "params": {"max_capacity": 1}, "element_type": DataType.DOUBLE},
        {"field_id": 116, "name": "fv", "description": "float vector",
         "type": DataType.FLOAT_VECTOR, "params": {"dim": 8}},
        {"field_id": 117, "name": "f16", "description": "", "type": DataType.FLOAT16_VECTOR,
         "params": {"dim": 16}},
        {"field_id": 118, "name": "bf16", "description": "", "type": DataType.BFLOAT16_VECTOR,
         "params": {"dim": 32768}},
        {"field_id": 119, "name": "i8v", "description": "", "type": DataType.INT8_VECTOR,
         "params": {"dim": 2}},
    ]


def test_varchar_pk_binary_sparse_and_partition_key_round_trip(client):
    s = client.create_schema(enable_dynamic_field=False, description="")
    s.add_field("pk", DataType.VARCHAR, is_primary=True, max_length=65535)
    s.add_field("tenant", DataType.INT64, is_partition_key=True, description="tenant id")
    s.add_field("bin", DataType.BINARY_VECTOR, dim=16)
    s.add_field("sp", DataType.SPARSE_FLOAT_VECTOR)
    client.create_collection("mixed", schema=s, num_partitions=4, consistency_level="Eventually")

    desc = client.describe_collection("mixed")
    assert desc["enable_dynamic_field"] is False
    assert desc["consistency_level_name"] == "Eventually"
    assert desc["num_partitions"] == 4
    assert desc["properties"] == {}
    assert desc["fields"] == [
        {"field_id": 100, "name": "pk", "description": "", "type": DataType.VARCHAR,
         "params": {"max_length": 65535}, "is_primary": True},
        {"field_id": 101, "name": "tenant", "description": "tenant id", "type": DataType.INT64,
         "params": {}, "is_partition_key": True},
        {"field_id": 102, "name": "bin", "description": "", "type": DataType.BINARY_VECTOR,
         "params": {"dim": 16}},
        {"field_id": 103, "name": "sp", "description": "",
         "type": DataType.SPARSE_FLOAT_VECTOR, "params": {}},
    ]
    assert client.list_partitions("mixed") == ["_default_0", "_default_1", "_default_2",
                                               "_default_3"]
    assert client.has_partition("mixed", "_default_3")
    assert not client.has_partition("mixed", "_default")


def test_partition_key_default_num_partitions_is_16(client):
    s = client.create_schema()
    s.add_field("id", DataType.INT64, is_primary=True)
    s.add_field("key", DataType.VARCHAR, max_length=8, is_partition_key=True)
    s.add_field("v", DataType.FLOAT_VECTOR, dim=4)
    client.create_collection("pk16", schema=s)
    assert client.list_partitions("pk16") == [f"_default_{i}" for i in range(16)]
    assert client.describe_collection("pk16")["num_partitions"] == 16


def test_auto_id_pk_round_trips(client):
    s = client.create_schema(auto_id=True)
    s.add_field("id", DataType.INT64, is_primary=True, auto_id=True)
    s.add_field("v", DataType.FLOAT_VECTOR, dim=4)
    client.create_collection("auto", schema=s)
    desc = client.describe_collection("auto")
    assert desc["auto_id"] is True
    assert desc["fields"][0] == {"field_id": 100, "name": "id", "description": "",
                                 "type": DataType.INT64, "params": {}, "auto_id": True,
                                 "is_primary": True}


def test_exactly_four_vector_fields_and_64_fields_accepted(client):
    s = client.create_schema()
    s.add_field("id", DataType.INT64, is_primary=True)
    for i in range(4):
        s.add_field(f"v{i}", DataType.FLOAT_VECTOR, dim=2)
    for i in range(59):
        s.add_field(f"s{i}", DataType.INT32)
    client.create_collection("wide", schema=s)
    fields = client.describe_collection("wide")["fields"]
    assert len(fields) == 64
    assert [f["field_id"] for f in fields] == list(range(100, 164))


def test_bm25_function_round_trips(client):
    s = client.create_schema(enable_dynamic_field=False)
    s.add_field("id", DataType.INT64, is_primary=True)
    s.add_field("text", DataType.VARCHAR, max_length=256, enable_analyzer=True,
                enable_match=True, analyzer_params={"type": "english"})
    s.add_field("sparse", DataType.SPARSE_FLOAT_VECTOR)
    s.add_function(Function(name="text_bm25", function_type=FunctionType.BM25,
                            input_field_names=["text"], output_field_names=["sparse"],
                            description="bm25 over text"))
    client.create_collection("bm25", schema=s)

    desc = client.describe_collection("bm25")
    text, sparse = desc["fields"][1], desc["fields"][2]
    assert text == {"field_id": 101, "name": "text", "description": "",
                    "type": DataType.VARCHAR,
                    "params": {"max_length": 256, "enable_match": "true",
                               "enable_analyzer": "true",
                               "analyzer_params": '{"type":"english"}'}}
    assert sparse == {"field_id": 102, "name": "sparse", "description": "",
                      "type": DataType.SPARSE_FLOAT_VECTOR, "params": {},
                      "is_function_output": True}
    [fn] = desc["functions"]
    assert isinstance(fn.pop("id"), int)
    assert fn == {"name": "text_bm25", "description": "bm25 over text",
                  "type": FunctionType.BM25, "params": {},
                  "input_field_names": ["text"], "input_field_ids": [101],
                  "output_field_names": ["sparse"], "output_field_ids": [102]}


# --------------------------------------------------------------------------------------------
# raw CreateCollection for validation


def value_field(v):
    if isinstance(v, schema_pb2.ValueField):
        return v
    if isinstance(v, bool):
        return schema_pb2.ValueField(bool_data=v)
    if isinstance(v, int):
        return schema_pb2.ValueField(long_data=v)
    if isinstance(v, float):
        return schema_pb2.ValueField(double_data=v)
    return schema_pb2.ValueField(string_data=v)


def F(name, dtype, *, pk=False, auto_id=False, dim=None, max_length=None, max_capacity=None,
      element=None, nullable=False, default=None, partition_key=False, dynamic=False,
      function_output=False, params=()):
    f = schema_pb2.FieldSchema(name=name, data_type=dtype, is_primary_key=pk, autoID=auto_id,
                               nullable=nullable, is_partition_key=partition_key,
                               is_dynamic=dynamic, is_function_output=function_output)
    type_params = list(params)
    for key, val in (("dim", dim), ("max_length", max_length), ("max_capacity", max_capacity)):
        if val is not None:
            type_params.append((key, str(val)))
    for key, val in type_params:
        f.type_params.add(key=key, value=val)
    if element is not None:
        f.element_type = element
    if default is not None:
        f.default_value.CopyFrom(value_field(default))
    return f


def PK(name="id"):
    return F(name, DataType.INT64, pk=True)


def VEC(name="v", dim=4):
    return F(name, DataType.FLOAT_VECTOR, dim=dim)


def BM25(name="bm25", inputs=("text",), outputs=("sparse",), params=()):
    fn = schema_pb2.FunctionSchema(name=name, type=schema_pb2.FunctionType.BM25,
                                   input_field_names=list(inputs),
                                   output_field_names=list(outputs))
    for key, val in params:
        fn.params.add(key=key, value=val)
    return fn


@pytest.fixture
def create(server, client):
    """create(fields, name="c", ...) sends a raw CreateCollection and raises on a bad status."""
    channel = grpc.insecure_channel(f"127.0.0.1:{server.port}")
    stub = milvus_pb2_grpc.MilvusServiceStub(channel)

    def create(fields, name="c", *, schema_name=None, num_partitions=0, shards_num=0,
               functions=(), dynamic=False):
        schema = schema_pb2.CollectionSchema(
            name=name if schema_name is None else schema_name, fields=fields,
            functions=list(functions), enable_dynamic_field=dynamic)
        request = milvus_pb2.CreateCollectionRequest(
            collection_name=name, schema=schema.SerializeToString(), shards_num=shards_num,
            num_partitions=num_partitions)
        check_status(stub.CreateCollection(request, metadata=[("dbname", "")]))

    create.client = client
    yield create
    assert client.list_collections() in ([], ["c"])
    channel.close()


def refused(create, fields, code, message=None, contains=(), **kw):
    with milvus_error(code, message, contains):
        create(fields, **kw)
    assert create.client.list_collections() == []


def test_raw_helper_creates_a_valid_collection(create):
    create([PK(), VEC()])
    assert create.client.describe_collection("c")["fields"][1]["params"] == {"dim": 4}


# --- collection-level rules ------------------------------------------------------------------


def test_no_vector_field(create):
    refused(create, [PK(), F("x", DataType.INT32)], 1100,
            "schema does not contain vector field: invalid parameter")


def test_no_primary_key(create):
    refused(create, [F("x", DataType.INT64), VEC()], 65535, "primary key is not specified")


def test_two_primary_keys(create):
    refused(create, [PK("a"), PK("b"), VEC()], 65535,
            "there are more than one primary key, field name = a, b")


@pytest.mark.parametrize("dtype", [DataType.INT32, DataType.FLOAT, DataType.BOOL, DataType.JSON])
def test_primary_key_of_wrong_type(create, dtype):
    refused(create, [F("id", dtype, pk=True), VEC()], 65535,
            "the data type of primary key should be Int64 or VarChar")


def test_auto_id_on_non_primary_field(create):
    refused(create, [PK(), F("x", DataType.INT64, auto_id=True), VEC()], 65535,
            "only primary field can speficy AutoID with true, field name = x")


def test_auto_id_on_two_fields(create):
    refused(create, [F("id", DataType.INT64, pk=True, auto_id=True),
                     F("x", DataType.INT64, auto_id=True), VEC()], 65535,
            "only one field can speficy AutoID with true, field name = id, x")


def test_more_than_four_vector_fields(create):
    refused(create, [PK()] + [VEC(f"v{i}") for i in range(5)], 65535,
            "maximum vector field's number should be limited to 4")


def test_more_than_64_fields(create):
    fields = [PK(), VEC()] + [F(f"s{i}", DataType.INT32) for i in range(63)]
    refused(create, fields, 65535, "maximum field's number should be limited to 64")


def test_duplicate_field_names(create):
    refused(create, [PK(), F("a", DataType.INT32), F("a", DataType.INT64), VEC()], 65535,
            "duplicated field name a found")


def test_explicit_dynamic_field(create):
    refused(create, [PK(), F("meta", DataType.JSON, dynamic=True), VEC()], 65535,
            "cannot explicitly set a field as a dynamic field")


@pytest.mark.parametrize("name", ["RowID", "Timestamp"])
def test_system_field_names(create, name):
    refused(create, [PK(), F(name, DataType.INT64), VEC()], 1100,
            "schema contains system field: RowID, Timestamp, $meta: invalid parameter"
            "[expected=schema don't contains system field][actual=contains]")


def test_collection_name_differs_from_schema_name(create):
    refused(create, [PK(), VEC()], 1100,
            "collection name = c, schema.Name=other: invalid parameter"
            "[expected=collection name matches schema name][actual=don't match]",
            schema_name="other")


def test_too_many_shards(create):
    refused(create, [PK(), VEC()], 65535, "maximum shards's number should be limited to 16",
            shards_num=17)


# --- field names ------------------------------------------------------------------------------


LONG_FIELD = "f" * 256


@pytest.mark.parametrize("name,message", [
    ("", "field name should not be empty: field name invalid[field=]"),
    ("1a", "Invalid field name: 1a. The first character of a field name must be an underscore "
           "or letter.: field name invalid[field=1a]"),
    ("中文", "Invalid field name: 中文. The first character of a field name must be an "
            "underscore or letter.: field name invalid[field=中文]"),
    ("$meta", "Invalid field name: $meta. The first character of a field name must be an "
              "underscore or letter.: field name invalid[field=$meta]"),
    ("a-b", "Invalid field name: a-b. Field name can only contain numbers, letters, and "
            "underscores.: field name invalid[field=a-b]"),
    ("a b", "Invalid field name: a b. Field name can only contain numbers, letters, and "
            "underscores.: field name invalid[field=a b]"),
    (LONG_FIELD, f"Invalid field name: {LONG_FIELD}. The length of a field name must be less "
                 f"than 255 characters.: field name invalid[field={LONG_FIELD}]"),
], ids=["empty", "digit_first", "non_ascii", "meta", "dash", "space", "too_long"])
def test_invalid_field_name(create, name, message):
    refused(create, [PK(), F(name, DataType.INT32), VEC()], 1701, message)


@pytest.mark.parametrize("word", ["like", "and", "or", "not", "in", "exists", "TRUE", "false",
                                  "json_contains", "array_length", "text_match",
                                  "random_sample"])
def test_keyword_field_name(create, word):
    refused(create, [PK(), F(word, DataType.INT32), VEC()], 1701,
            f"Invalid field name: {word}. {word} is keyword in milvus.: "
            f"field name invalid[field={word}]")


# --- data types -------------------------------------------------------------------------------


def test_string_type_refused(create):
    refused(create, [PK(), F("s", DataType.STRING), VEC()], 65535,
            "string data type not supported yet, please use VarChar type instead")


def test_none_type_refused(create):
    refused(create, [PK(), F("n", DataType.NONE), VEC()], 65535, "data type None is not valid")


@pytest.mark.parametrize("dtype,type_name", [(DataType.GEOMETRY, "Geometry"),
                                             (DataType.TEXT, "Text"),
                                             (DataType.TIMESTAMPTZ, "Timestamptz")])
def test_types_rivus_does_not_store_are_refused_clearly(create, dtype, type_name):
    # Milvus 2.6 accepts these; rivus must refuse them by name instead of accepting them.
    with pytest.raises(MilvusException) as info:
        create([PK(), F("x", dtype, max_length=16), VEC()])
    assert info.value.code != 0
    assert type_name in info.value.message
    assert create.client.list_collections() == []


def test_unknown_type_number_refused(create):
    with pytest.raises(MilvusException) as info:
        create([PK(), F("x", 99), VEC()])
    assert info.value.code != 0
    assert create.client.list_collections() == []


# --- vector dimensions ------------------------------------------------------------------------


def test_dim_missing(create):
    refused(create, [PK(), F("v", DataType.FLOAT_VECTOR)], 65535,
            contains="dimension is not defined in field type params")


@pytest.mark.parametrize("dim", [0, 1, -8])
def test_dim_too_small(create, dim):
    refused(create, [PK(), VEC(dim=dim)], 65535,
            f"invalid dimension: {dim}. should be in range 2 ~ 32768")


@pytest.mark.parametrize("dtype", [DataType.FLOAT_VECTOR, DataType.FLOAT16_VECTOR,
                                   DataType.BFLOAT16_VECTOR, DataType.INT8_VECTOR])
def test_dim_too_large(create, dtype):
    refused(create, [PK(), F("v", dtype, dim=32769)], 65535,
            contains=("invalid dimension: 32769",
                      "float vector dimension should be in range 2 ~ 32768"))


def test_dim_not_a_number(create):
    refused(create, [PK(), F("v", DataType.FLOAT_VECTOR, params=[("dim", "abc")])], 65535,
            'strconv.ParseInt: parsing "abc": invalid syntax')


def test_binary_dim_not_multiple_of_8(create):
    refused(create, [PK(), F("b", DataType.BINARY_VECTOR, dim=12)], 65535,
            contains=("invalid dimension: 12",
                      "binary vector dimension should be multiple of 8"))


def test_binary_dim_too_large(create):
    refused(create, [PK(), F("b", DataType.BINARY_VECTOR, dim=262152)], 65535,
            contains=("invalid dimension: 262152",
                      "binary vector dimension should be in range 2 ~ 262144"))


def test_binary_dim_upper_edge_accepted(create):
    create([PK(), F("b", DataType.BINARY_VECTOR, dim=262144)])
    assert create.client.describe_collection("c")["fields"][1]["params"] == {"dim": 262144}


def test_sparse_with_dim(create):
    refused(create, [PK(), F("sp", DataType.SPARSE_FLOAT_VECTOR, dim=8)], 65535,
            contains="dim should not be specified for sparse vector field sp")


# --- varchar / array params -------------------------------------------------------------------


def test_varchar_without_max_length(create):
    refused(create, [PK(), F("s", DataType.VARCHAR), VEC()], 65535,
            contains=("type param(max_length) should be specified for ",
                      "(s) of collection c"))


def test_varchar_pk_without_max_length(create):
    refused(create, [F("id", DataType.VARCHAR, pk=True), VEC()], 65535,
            contains=("type param(max_length) should be specified for ",
                      "(id) of collection c"))


@pytest.mark.parametrize("length", [0, -1, 65536])
def test_varchar_max_length_out_of_range(create, length):
    refused(create, [PK(), F("s", DataType.VARCHAR, max_length=length), VEC()], 1100,
            f"the maximum length specified for a VarChar field(s) should be in (0, 65535], "
            f"but got {length} instead: invalid parameter")


def test_varchar_max_length_not_a_number(create):
    refused(create, [PK(), F("s", DataType.VARCHAR, params=[("max_length", "ten")]), VEC()],
            65535, 'strconv.ParseInt: parsing "ten": invalid syntax')


def test_array_without_max_capacity(create):
    refused(create, [PK(), F("arr", DataType.ARRAY, element=DataType.INT64), VEC()], 65535,
            "type param(max_capacity) should be specified for array field arr of collection c")


@pytest.mark.parametrize("capacity", [0, 4097])
def test_array_max_capacity_out_of_range(create, capacity):
    refused(create, [PK(), F("arr", DataType.ARRAY, element=DataType.INT64,
                             max_capacity=capacity), VEC()], 65535,
            "the maximum capacity specified for a Array should be in (0, 4096]")


def test_array_max_capacity_not_a_number(create):
    refused(create, [PK(), F("arr", DataType.ARRAY, element=DataType.INT64,
                             params=[("max_capacity", "many")]), VEC()], 65535,
            "the value for max_capacity of field arr must be an integer")


def test_array_of_varchar_without_max_length(create):
    refused(create, [PK(), F("arr", DataType.ARRAY, element=DataType.VARCHAR, max_capacity=4),
                     VEC()], 65535,
            contains=("type param(max_length) should be specified for ",
                      "(arr) of collection c"))


@pytest.mark.parametrize("element,message", [
    (DataType.JSON, "element type JSON is not supported"),
    (DataType.ARRAY, "element type Array is not supported"),
    (DataType.FLOAT_VECTOR, "element type FloatVector is not supported"),
    (DataType.STRING, "string data type not supported yet, please use VarChar type instead"),
    (DataType.NONE, "element data type None is not valid"),
])
def test_array_element_type_refused(create, element, message):
    refused(create, [PK(), F("arr", DataType.ARRAY, element=element, max_capacity=4), VEC()],
            65535, message)


# --- nullable / default values ----------------------------------------------------------------


def test_nullable_primary_key(create):
    refused(create, [F("id", DataType.INT64, pk=True, nullable=True), VEC()], 1100,
            contains="primary field not support null")


def test_nullable_vector(create):
    # Milvus 2.5 rejects nullable vectors (notes §3.5); 2.6 later allowed them.
    refused(create, [PK(), F("v", DataType.FLOAT_VECTOR, dim=4, nullable=True)], 1100,
            "vector type not support null, type:FloatVector, name:v: invalid parameter")


def test_default_on_primary_key(create):
    refused(create, [F("id", DataType.INT64, pk=True, default=7), VEC()], 1100,
            "primary field not support default_value, type:Int64, name:id: invalid parameter")


@pytest.mark.parametrize("field,type_name", [
    (F("j", DataType.JSON, default="{}"), "JSON"),
    (F("arr", DataType.ARRAY, element=DataType.INT64, max_capacity=2, default=1), "Array"),
])
def test_default_on_unsupported_type(create, field, type_name):
    refused(create, [PK(), field, VEC()], 1100,
            contains=f"type not support default_value, type:{type_name}")


def test_default_on_vector(create):
    refused(create, [PK(), F("v", DataType.FLOAT_VECTOR, dim=4, default=1.0)], 1100,
            contains="type not support default_value, type:FloatVector")


@pytest.mark.parametrize("field", [
    F("x", DataType.INT64, default="abc"),
    F("x", DataType.BOOL, default=1),
    F("x", DataType.VARCHAR, max_length=8, default=3),
    F("x", DataType.FLOAT, default="1.5"),
    F("x", DataType.DOUBLE, default=True),
    F("x", DataType.INT32, default=1.5),
], ids=["int64_str", "bool_long", "varchar_long", "float_str", "double_bool", "int32_double"])
def test_default_of_wrong_type(create, field):
    # The wording changed between 2.5 and 2.6 (notes §3.5); both are 1100 invalid parameter.
    refused(create, [PK(), field, VEC()], 1100, contains="invalid parameter")


@pytest.mark.parametrize("dtype,value,low,high", [
    (DataType.INT8, 200, -128, 127),
    (DataType.INT8, -129, -128, 127),
    (DataType.INT16, 40000, -32768, 32767),
])
def test_default_out_of_range(create, dtype, value, low, high):
    refused(create, [PK(), F("x", dtype, default=value), VEC()], 1100,
            f"default value out of range: invalid parameter"
            f"[{value} out of range {low} <= value <= {high}]")


def test_int32_default_out_of_range(create):
    refused(create, [PK(), F("x", DataType.INT32, default=2**31), VEC()], 1100,
            contains="invalid parameter")


def test_int8_default_edges_accepted(create):
    create([PK(), F("lo", DataType.INT8, default=-128), F("hi", DataType.INT8, default=127),
            VEC()])
    fields = create.client.describe_collection("c")["fields"]
    assert [default_of(f) for f in fields[1:3]] == [-128, 127]


def test_varchar_default_longer_than_max_length(create):
    refused(create, [PK(), F("s", DataType.VARCHAR, max_length=5, default="0123456789"),
                     VEC()], 1100,
            "the length (10) of string exceeds max length (5): invalid parameter"
            "[expected=valid length string][actual=string length exceeds max length]")


# --- partition key ----------------------------------------------------------------------------


def test_partition_key_on_primary_key(create):
    refused(create, [F("id", DataType.INT64, pk=True, partition_key=True), VEC()], 65535,
            "the partition key field must not be primary field")


@pytest.mark.parametrize("dtype", [DataType.INT32, DataType.FLOAT, DataType.BOOL])
def test_partition_key_of_wrong_type(create, dtype):
    refused(create, [PK(), F("p", dtype, partition_key=True), VEC()], 65535,
            "the data type of partition key should be Int64 or VarChar")


def test_nullable_partition_key(create):
    refused(create, [PK(), F("p", DataType.INT64, partition_key=True, nullable=True), VEC()],
            1100, "partition key field not support nullable: invalid parameter")


def test_two_partition_keys(create):
    refused(create, [PK(), F("p1", DataType.INT64, partition_key=True),
                     F("p2", DataType.INT64, partition_key=True), VEC()], 65535,
            "there are more than one partition key, field name = p1, p2")


def test_num_partitions_without_partition_key(create):
    refused(create, [PK(), VEC()], 65535,
            "num_partitions should only be specified with partition key field enabled",
            num_partitions=4)


def test_num_partitions_too_large(create):
    refused(create, [PK(), F("p", DataType.INT64, partition_key=True), VEC()], 1100,
            "partition number (1025) exceeds max configuration (1024): invalid parameter",
            num_partitions=1025)


def test_num_partitions_negative(create):
    refused(create, [PK(), F("p", DataType.INT64, partition_key=True), VEC()], 65535,
            "the specified partitions should be greater than 0 if partition key is used",
            num_partitions=-1)


def test_num_partitions_upper_edge(create):
    create([PK(), F("p", DataType.INT64, partition_key=True), VEC()], num_partitions=1024)
    assert create.client.describe_collection("c")["num_partitions"] == 1024
    assert len(create.client.list_partitions("c")) == 1024


# --- functions --------------------------------------------------------------------------------


def TEXT(name="text", analyzer=True, nullable=False):
    params = [("enable_analyzer", "true")] if analyzer else []
    return F(name, DataType.VARCHAR, max_length=64, params=params, nullable=nullable)


def SPARSE(name="sparse", nullable=False):
    return F(name, DataType.SPARSE_FLOAT_VECTOR, function_output=True, nullable=nullable)


def test_raw_bm25_accepted(create):
    create([PK(), TEXT(), SPARSE()], functions=[BM25()])
    assert create.client.describe_collection("c")["functions"][0]["name"] == "bm25"


# Order and texts from Milvus 2.6 proxy validateFunction / checkFunctionBasicParams /
# checkFunctionInputField / checkFunctionOutputField (all plain errors, 65535).
BM25_CASES = {
    "no_name": ([PK(), TEXT(), SPARSE()], [BM25(name="")], "function name cannot be empty"),
    "no_inputs": ([PK(), TEXT(), SPARSE()], [BM25(inputs=[])],
                  "function input field names cannot be empty, function: bm25"),
    "no_outputs": ([PK(), TEXT(), SPARSE()], [BM25(outputs=[])],
                   "function output field names cannot be empty, function: bm25"),
    "input_twice": ([PK(), TEXT(), SPARSE()], [BM25(inputs=["text", "text"])],
                    "each function input field should be used exactly once in the same "
                    "function, function: bm25, input field: text"),
    "input_is_output": ([PK(), TEXT(), SPARSE()], [BM25(outputs=["text"])],
                        "a single field cannot be both input and output in the same function, "
                        "function: bm25, field: text"),
    "params": ([PK(), TEXT(), SPARSE()], [BM25(params=[("k", "v")])],
               "BM25 function accepts no params"),
    "duplicate_name": ([PK(), TEXT(), SPARSE(), SPARSE("sparse2")],
                       [BM25(), BM25(outputs=["sparse2"])], "duplicate function name: bm25"),
    "missing_input": ([PK(), TEXT(), SPARSE()], [BM25(inputs=["nope"])],
                      "function input field not found: nope"),
    "nullable_input": ([PK(), TEXT(nullable=True), SPARSE()], [BM25()],
                       "function input field cannot be nullable: function bm25, field text"),
    "int_input": ([PK(), TEXT(), F("n", DataType.INT64), SPARSE()], [BM25(inputs=["n"])],
                  "BM25 function input field must be a VARCHAR field, got 1 field with type "
                  "Int64"),
    "two_inputs": ([PK(), TEXT(), TEXT("text2"), SPARSE()], [BM25(inputs=["text", "text2"])],
                   "BM25 function input field must be a VARCHAR field, got 2 field with type "
                   "VarChar"),
    "no_analyzer": ([PK(), TEXT(analyzer=False), SPARSE()], [BM25()],
                    "BM25 function input field must set enable_analyzer to true"),
    "missing_output": ([PK(), TEXT(), SPARSE()], [BM25(outputs=["nope"])],
                       "function output field not found: nope"),
    "pk_output": ([F("id", DataType.INT64, pk=True), TEXT(), SPARSE()], [BM25(outputs=["id"])],
                  "function output field cannot be primary key: function bm25, field id"),
    "nullable_output": ([PK(), TEXT(), SPARSE(nullable=True)], [BM25()],
                        "function output field cannot be nullable: function bm25, field sparse"),
    "shared_output": ([PK(), TEXT(), TEXT("text2"), SPARSE()],
                      [BM25(), BM25(name="bm25b", inputs=["text2"])],
                      "duplicate function output field: function bm25b, field sparse"),
    "two_outputs": ([PK(), TEXT(), SPARSE(), SPARSE("sparse2")],
                    [BM25(outputs=["sparse", "sparse2"])],
                    "BM25 function only need 1 output field, but got 2"),
    "dense_output": ([PK(), TEXT(), F("sparse", DataType.FLOAT_VECTOR, dim=4,
                                      function_output=True)], [BM25()],
                     "BM25 function output field must be a SparseFloatVector field, but got "
                     "FloatVector"),
}


@pytest.mark.parametrize("case", list(BM25_CASES))
def test_invalid_bm25_function(create, case):
    fields, functions, message = BM25_CASES[case]
    refused(create, fields, 65535, message, functions=functions)


def test_other_function_types_refused(create):
    fn = schema_pb2.FunctionSchema(name="emb", type=schema_pb2.FunctionType.TextEmbedding,
                                   input_field_names=["text"], output_field_names=["v"])
    with pytest.raises(MilvusException) as info:
        create([PK(), TEXT(), F("v", DataType.FLOAT_VECTOR, dim=4, function_output=True)],
               functions=[fn])
    assert info.value.code != 0
    assert create.client.list_collections() == []
