"""Refused writes and reads: bad rows refuse the whole batch (nothing of it is stored), bad
queries name the problem, with Milvus 2.5/2.6's codes and messages.

Where the error comes from:
* pymilvus 3.0.2 checks some things itself, before any RPC (client/prepare.py
  _parse_row_request, entity_helper.py): a missing required field, a key that is not a field
  of a collection without the dynamic field, a value of the wrong Python type. Those tests
  assert what the user sees (DataNotMatchException / ParamError, code 1) and say so.
* Everything else is the server's: proxy insertTask.PreExecute → checkFieldsDataBySchema,
  checkPrimaryFieldData, validateUtil.Validate (validate_util.go: max length in UTF-8 bytes,
  max capacity, int8/int16 range, NaN/Inf, dimensions); queryTask.PreExecute for reads.
* Milvus 2.5 returns some of these as plain errors (code 65535, bare text); 2.6 wraps them as
  invalid parameter (code 1100, text + ": invalid parameter"). milvus_error_any takes either.
Milvus Lite accepts several of these (NaN, max_length in characters, auto_id with a pk, ...);
the expectations follow Milvus, and each such test says so."""

import pytest
from pymilvus import DataType, MilvusException
from pymilvus.exceptions import DataNotMatchException, ParamError

from milvus_errors import milvus_error, milvus_error_any
from data_helpers import count, make, vec


def either(text):
    """The two forms of one Milvus error: 2.5's plain error and 2.6's invalid parameter."""
    return (65535, text), (1100, text + ": invalid parameter")


STRICT_FIELDS = (
    ("name", DataType.VARCHAR, {"max_length": 5}),
    ("tags", DataType.ARRAY, {"element_type": DataType.INT64, "max_capacity": 3}),
    ("words", DataType.ARRAY, {"element_type": DataType.VARCHAR, "max_capacity": 3,
                               "max_length": 4}),
    ("i8", DataType.INT8, {}),
    ("i16", DataType.INT16, {}),
    ("score", DataType.FLOAT, {}),
)


def good(i):
    return {"id": i, "name": "ab", "tags": [1, 2], "words": ["w"], "i8": 1, "i16": 2,
            "score": 0.5, "vec": vec(i)}


@pytest.fixture
def strict(client):
    """A collection without the dynamic field, holding rows 1 and 2."""
    make(client, "strict", *STRICT_FIELDS)
    client.insert("strict", [good(1), good(2)])
    return client


def assert_untouched(client):
    """Nothing of the refused batch (rows 10 and 11) was stored."""
    assert count(client, "strict") == 2
    assert list(client.get("strict", ids=[10, 11])) == []


def bad(**changes):
    return [good(10), {**good(11), **changes}]


# ============================================================================================
# bad rows: the whole batch is refused


def test_wrong_dimension_refused(strict):
    # pymilvus sends the last row's length as the field's dim: 4 + 8 floats, dim 8, and Milvus
    # checks that dim against the schema's (validate_util.go checkAligned, errDimMismatch).
    with milvus_error(1100, "the dim (8) of field data(vec) is not equal to schema dim (4): "
                            "invalid parameter[expected=4][actual=8]"):
        strict.insert("strict", bad(vec=vec(0, dim=8)))
    assert_untouched(strict)


def test_wrong_dimension_not_a_multiple_refused(strict):
    # One 3-float row: 3 floats cannot be rows of dim 4 (funcutil.GetNumRowsOfFloatVectorField).
    with milvus_error_any(*either("the length(3) of float data should divide the dim(4)")):
        strict.insert("strict", [{**good(11), "vec": [1.0, 2.0, 3.0]}])
    assert_untouched(strict)


def test_wrong_dimension_in_upsert_refused(strict):
    with milvus_error(1100, "the dim (8) of field data(vec) is not equal to schema dim (4): "
                            "invalid parameter[expected=4][actual=8]"):
        strict.upsert("strict", [{**good(1), "name": "new"}, {**good(2), "vec": vec(2, dim=8)}])
    got = {r["id"]: (r["name"], r["vec"]) for r in strict.get("strict", ids=[1, 2],
                                                               output_fields=["name", "vec"])}
    assert got == {1: ("ab", vec(1)), 2: ("ab", vec(2))}


def test_missing_required_field_refused_by_pymilvus(strict):
    # client-side (pymilvus prepare.py): no RPC is sent
    row = good(11)
    del row["name"]
    with milvus_error(1, "Insert missed an field `name` to collection without set "
                         "nullable==true or set default_value") as info:
        strict.insert("strict", [good(10), row])
    assert isinstance(info.value, DataNotMatchException)
    assert_untouched(strict)


def test_missing_primary_key_refused_by_pymilvus(strict):
    # client-side, as above
    row = good(11)
    del row["id"]
    with milvus_error(1, "Insert missed an field `id` to collection without set "
                         "nullable==true or set default_value"):
        strict.insert("strict", [good(10), row])
    assert_untouched(strict)


def test_wrong_type_refused_by_pymilvus(strict):
    # client-side (entity_helper.py _pack_scalar_row)
    with milvus_error(1, contains="The Input data type is inconsistent with defined schema, "
                                  "{i8} field should be a int, but got a {<class 'str'>} "
                                  "instead.") as info:
        strict.insert("strict", bad(i8="seven"))
    assert isinstance(info.value, DataNotMatchException)
    with milvus_error(1, contains="{name} field should be a varchar, but got a {<class 'int'>}"):
        strict.insert("strict", bad(name=5))
    with milvus_error(1, contains="{id} field should be a int64, but got a {<class 'float'>}"):
        strict.insert("strict", [good(10), {**good(11), "id": 11.5}])
    assert_untouched(strict)


def test_unknown_field_without_dynamic_field_refused_by_pymilvus(strict):
    # client-side (prepare.py): the collection has no dynamic field to hold "color"
    with milvus_error(1, "Attempt to insert an unexpected field `color` to collection without "
                         "enabling dynamic field"):
        strict.insert("strict", bad(color="red"))
    assert_untouched(strict)


def test_varchar_over_max_length_refused(strict):
    with milvus_error(1100, "length of varchar field name exceeds max length, row number: 1, "
                            "length: 6, max length: 5: invalid parameter"):
        strict.insert("strict", bad(name="abcdef"))
    assert_untouched(strict)


def test_varchar_max_length_counts_utf8_bytes(strict):
    # Milvus measures max_length in bytes (Go len() of the UTF-8 string): "héllo" is 5
    # characters but 6 bytes. (Milvus Lite counts characters and accepts it.)
    with milvus_error(1100, "length of varchar field name exceeds max length, row number: 1, "
                            "length: 6, max length: 5: invalid parameter"):
        strict.insert("strict", bad(name="héllo"))
    assert_untouched(strict)
    # exactly max_length bytes is fine
    strict.insert("strict", [{**good(10), "name": "hello"}, {**good(11), "name": "hé1"}])
    assert count(strict, "strict") == 4


def test_array_over_max_capacity_refused(strict):
    with milvus_error(1100, "the length (4) of 1th array exceeds max capacity (3): invalid "
                            "parameter[expected=valid length array][actual=array length "
                            "exceeds max capacity]"):
        strict.insert("strict", bad(tags=[1, 2, 3, 4]))
    assert_untouched(strict)


def test_array_varchar_element_over_max_length_refused(strict):
    # (the type named is the field's own, Array: validate_util.go checkArrayElement)
    with milvus_error(1100, 'length of Array array field "words" exceeds max length, row '
                            'number: 1, array index: 1, length: 5, max length: 4: invalid '
                            'parameter'):
        strict.insert("strict", bad(words=["ok", "toolo"]))
    assert_untouched(strict)


@pytest.mark.parametrize("field,value,lo,hi", [("i8", 128, -128, 127), ("i8", -129, -128, 127),
                                               ("i16", 40000, -32768, 32767)])
def test_integer_out_of_range_refused(strict, field, value, lo, hi):
    # pymilvus sends INT8/INT16 values as int32 data unchecked; Milvus range-checks them.
    with milvus_error(1100, f"the 1th element ({value}) out of range: [{lo}, {hi}]: invalid "
                            "parameter[expected=integer doesn't overflow][actual=out of range]"):
        strict.insert("strict", bad(**{field: value}))
    assert_untouched(strict)


@pytest.mark.parametrize("value,shown", [(float("nan"), "NaN"), (float("inf"), "+Inf"),
                                         (float("-inf"), "-Inf")])
def test_nan_or_infinity_in_float_vector_refused(strict, value, shown):
    # typeutil.VerifyFloats32 (Go "%f" prints NaN, +Inf, -Inf). Milvus Lite accepts them.
    with milvus_error_any(*either(f"value '{shown}' is not a number or infinity")):
        strict.insert("strict", bad(vec=[1.0, value, 0.0, 0.0]))
    assert_untouched(strict)


def test_nan_in_float_scalar_refused(strict):
    with milvus_error_any(*either("value 'NaN' is not a number or infinity")):
        strict.insert("strict", bad(score=float("nan")))
    assert_untouched(strict)


def test_auto_id_collection_given_a_primary_key_refused(client):
    # pymilvus sends the given "id" column; Milvus counts the generated pk as a field on top
    # (checkFieldsDataBySchema: 2 fields expected, id + vec + generated id = 3).
    # (Milvus Lite accepts the row and keeps the given id.)
    make(client, "auto", auto_id=True)
    with milvus_error(1100, "more fieldData has pass in: invalid parameter[expected=2][actual=3]"):
        client.insert("auto", [{"id": 5, "vec": vec(5)}, {"id": 6, "vec": vec(6)}])
    assert count(client, "auto") == 0
    res = client.insert("auto", [{"vec": vec(5)}])  # without the pk it goes in
    assert res["insert_count"] == 1 and len(res["ids"]) == 1


def test_refused_batch_leaves_earlier_and_later_writes_alone(strict):
    with pytest.raises(MilvusException):
        strict.insert("strict", [good(10), good(12), {**good(11), "name": "toolong"}])
    strict.insert("strict", [good(13)])
    assert sorted(r["id"] for r in strict.query("strict", filter="id > 0")) == [1, 2, 13]


# ============================================================================================
# duplicate primary keys within one batch


def test_duplicate_pks_in_one_insert_batch(client):
    # Milvus accepts them (no pk uniqueness check on insert; behaviour with duplicates is
    # "undefined", milvus-io/milvus#52047); reads deduplicate by pk, so a get returns one row.
    # Which of the duplicates wins is not asserted: Milvus does not define it.
    make(client, "dup", ("n", DataType.INT64, {}))
    res = client.insert("dup", [{"id": 5, "n": 1, "vec": vec(1)}, {"id": 5, "n": 2, "vec": vec(2)},
                                {"id": 6, "n": 3, "vec": vec(3)}])
    assert res["insert_count"] == 3
    assert list(res["ids"]) == [5, 5, 6]
    got = client.get("dup", ids=[5], output_fields=["n"])
    assert len(got) == 1 and got[0]["n"] in (1, 2)
    assert sorted(r["id"] for r in client.query("dup", filter="id > 0")) == [5, 6]


def test_duplicate_pks_in_one_upsert_batch_refused(client):
    # Milvus 2.6 (proxy upsertTask.PreExecute CheckDuplicatePkExist, milvus-io/milvus#46035)
    # refuses the batch; 2.5 accepted it. (Milvus Lite accepts it.)
    make(client, "dup", ("n", DataType.INT64, {}))
    client.insert("dup", [{"id": 5, "n": 0, "vec": vec(0)}])
    with milvus_error(1100, "duplicate primary keys are not allowed in the same batch: "
                            "invalid parameter"):
        client.upsert("dup", [{"id": 5, "n": 1, "vec": vec(1)}, {"id": 7, "n": 1, "vec": vec(1)},
                              {"id": 5, "n": 2, "vec": vec(2)}])
    assert [dict(r) for r in client.query("dup", filter="id > 0", output_fields=["n"])] == [
        {"id": 5, "n": 0}]


# ============================================================================================
# bad reads and deletes


def test_empty_filter_without_limit_refused(strict):
    # (Milvus Lite returns the rows.)
    with milvus_error_any(*either("empty expression should be used with limit")):
        strict.query("strict", filter="")


def test_count_with_limit_refused(strict):
    with milvus_error_any(*either("count entities with pagination is not allowed")):
        strict.query("strict", filter="", output_fields=["count(*)"], limit=10)


def test_query_result_window_is_capped(strict):
    text = ("invalid max query result window, (offset+limit) should be in range [1, 16384], "
            "but got 16385")
    with milvus_error_any(*either(text)):
        strict.query("strict", filter="id > 0", limit=16000, offset=385)


def test_unparsable_filter_refused(strict):
    with milvus_error(1100, contains=("failed to create query plan: cannot parse expression: "
                                      "id >>> 1",)):
        strict.query("strict", filter="id >>> 1")
    with milvus_error(1100, contains=("failed to create delete plan: cannot parse expression: ",
                                      "id >>> 1")):
        strict.delete("strict", filter="id >>> 1")
    assert count(strict, "strict") == 2


def test_filter_on_unknown_field_refused_without_dynamic_field(strict):
    with milvus_error(1100, contains=("failed to create query plan: cannot parse expression: "
                                      "color == 'red'", "field color not exist")):
        strict.query("strict", filter="color == 'red'")


def test_unknown_output_field_refused_without_dynamic_field(strict):
    with milvus_error_any(*either("field color not exist")):
        strict.query("strict", filter="id > 0", output_fields=["color"])


def test_delete_needs_ids_or_filter_not_both(strict):
    # client-side (MilvusClient.delete)
    with pytest.raises(ParamError):
        strict.delete("strict", ids=[1], filter="id > 0")
    with pytest.raises(ParamError):
        strict.delete("strict", filter="")
    assert count(strict, "strict") == 2


def test_query_on_unloaded_collection_refused(client):
    # (Milvus Lite answers with the rows.)
    make(client, "cold", load=False)
    client.insert("cold", [{"id": 1, "vec": vec(1)}])  # writing needs no load
    with milvus_error(101, contains="collection not loaded"):
        client.query("cold", filter="id > 0")
    with milvus_error(101, contains="collection not loaded"):
        client.get("cold", ids=[1])
    client.load_collection("cold")
    assert count(client, "cold") == 1


def test_missing_collection(client):
    # insert/upsert/get first describe the collection in pymilvus (schema cache)
    with milvus_error(100, "can't find collection[database=default][collection=ghost]"):
        client.insert("ghost", [{"id": 1, "vec": vec(1)}])
    with milvus_error(100, contains="collection not found"):
        client.query("ghost", filter="id > 0")
    with milvus_error(100, contains="collection not found"):
        client.delete("ghost", filter="id > 0")


def test_missing_partition(strict):
    # query: proxy getPartitionIDs answers a plain error (2.5/2.6; a TODO there plans 200)
    with milvus_error_any((65535, "partition name nope not found"),
                          (200, "partition not found[partition=nope]")):
        strict.query("strict", filter="id > 0", partition_names=["nope"])
    with milvus_error(200, contains="partition not found[partition=nope]"):
        strict.insert("strict", [good(10)], partition_name="nope")
    assert_untouched(strict)


def partition_key_collection(client):
    make(client, "pk", ("tenant", DataType.VARCHAR, {"max_length": 16, "is_partition_key": True}),
         num_partitions=2)
    client.insert("pk", [{"id": 1, "tenant": "a", "vec": vec(1)}])
    return client.list_partitions("pk")[0]


PK_MODE = "not support manually specifying the partition names if partition key mode is used"


def test_partition_key_collection_refuses_partition_names(client):
    part = partition_key_collection(client)
    with milvus_error_any(*either(PK_MODE)):
        client.query("pk", filter="id > 0", partition_names=[part])
    with milvus_error_any(*either(PK_MODE)):
        client.insert("pk", [{"id": 2, "tenant": "b", "vec": vec(2)}], partition_name=part)
    with milvus_error_any(*either(PK_MODE)):
        client.delete("pk", ids=[1], partition_name=part)
    assert [r["id"] for r in client.query("pk", filter="tenant == 'a'")] == [1]
    assert count(client, "pk") == 1
