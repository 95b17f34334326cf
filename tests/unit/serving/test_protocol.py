import json

import numpy as np
import pytest

from serving.protocol import (
    Limits,
    ProtocolError,
    check_content_type,
    check_declared_length,
    client_message,
    format_v1,
    format_v2,
    load_json,
    parse_v1,
    parse_v2,
    parse_version,
)

SIGNATURE = {
    "inputs": [{"name": "X", "datatype": "FP32", "shape": [-1, 4]}],
    "outputs": [{"name": "label", "datatype": "INT64", "shape": [-1]}],
}


def body(payload) -> bytes:
    return json.dumps(payload).encode()


def test_v1_round_trip():
    array = parse_v1(body({"instances": [[5.1, 3.5, 1.4, 0.2], [6.2, 2.9, 4.3, 1.3]]}), SIGNATURE)
    assert array.shape == (2, 4) and array.dtype == np.float32
    assert format_v1(np.array([0, 1])) == {"predictions": [0, 1]}


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        ({"rows": [[1, 2, 3, 4]]}, '"instances"'),
        ({"instances": []}, "non-empty"),
        ({"instances": [[1, 2, 3]]}, "3 values on axis 1; the model expects 4"),
        ({"instances": [1, 2, 3, 4]}, "wrap a single row"),
        ({"instances": [[1, 2, 3, 4], [1, 2]]}, "equal length"),
        ({"instances": [["a", "b", "c", "d"]]}, "FP32"),
    ],
)
def test_v1_bad_input_names_the_problem(payload, message):
    with pytest.raises(ProtocolError, match=message.replace("[", r"\[").replace("]", r"\]")):
        parse_v1(body(payload), SIGNATURE)


def test_v1_refuses_bodies_that_are_not_json_objects():
    with pytest.raises(ProtocolError, match="not valid JSON"):
        parse_v1(b"{nope", SIGNATURE)
    with pytest.raises(ProtocolError, match="JSON object"):
        parse_v1(b"[1]", SIGNATURE)


def test_v2_round_trip_any_name_for_a_single_input():
    tensor = {"name": "input-0", "shape": [2, 4], "datatype": "FP32", "data": [1, 2, 3, 4, 5, 6, 7, 8]}
    array, request_id = parse_v2(body({"id": "r1", "inputs": [tensor]}), SIGNATURE)
    assert array.shape == (2, 4) and request_id == "r1"
    response = format_v2(model="iris", version=3, outputs=np.array([0, 2]), request_id="r1", signature=SIGNATURE)
    assert response == {
        "model_name": "iris",
        "model_version": "3",
        "id": "r1",
        "outputs": [{"name": "label", "shape": [2], "datatype": "INT64", "data": [0, 2]}],
    }


@pytest.mark.parametrize(
    ("tensor", "message"),
    [
        ({"name": "X", "shape": [1, 4], "datatype": "FP32", "data": [1, 2, 3]}, "needs 4"),
        ({"name": "X", "shape": [1, 4], "datatype": "FLOAT", "data": [1, 2, 3, 4]}, "datatype 'FLOAT'"),
        ({"name": "X", "shape": [1, 3], "datatype": "FP32", "data": [1, 2, 3]}, "expects 4"),
        ({"name": "X", "shape": "1,4", "datatype": "FP32", "data": [1, 2, 3, 4]}, "shape must be a list"),
        ({"name": "", "shape": [1, 4], "datatype": "FP32", "data": [1, 2, 3, 4]}, "name must be"),
        ({"name": "X", "shape": [1, 4], "datatype": "INT64", "data": ["a", "b", "c", "d"]}, "INT64"),
    ],
)
def test_v2_bad_tensors_name_the_problem(tensor, message):
    with pytest.raises(ProtocolError, match=message):
        parse_v2(body({"inputs": [tensor]}), SIGNATURE)


def test_v2_huge_shapes_are_refused_before_allocating():
    tensor = {"name": "X", "shape": [10**6, 10**6], "datatype": "FP32", "data": []}
    with pytest.raises(ProtocolError) as raised:
        parse_v2(body({"inputs": [tensor]}), None)
    assert raised.value.status == 413


def test_v2_multi_input_needs_the_signature_names():
    signature = {
        "inputs": [{"name": "a", "datatype": "FP32", "shape": [-1]}, {"name": "b", "datatype": "FP32", "shape": [-1]}]
    }
    tensors = [
        {"name": "a", "shape": [1], "datatype": "FP32", "data": [1]},
        {"name": "c", "shape": [1], "datatype": "FP32", "data": [1]},
    ]
    with pytest.raises(ProtocolError, match="missing \\['b'\\], unknown \\['c'\\]"):
        parse_v2(body({"inputs": tensors}), signature)


# --- limits and client mistakes (issue 10): every one a 4xx that names the problem and shows no internals ------

SMALL = Limits(max_body_bytes=1000, max_elements=10, max_depth=4)


def assert_clean(message: str) -> None:
    assert "Traceback" not in message and "/site-packages/" not in message and " at 0x" not in message
    assert len(message) < 400


@pytest.mark.parametrize(
    "raw",
    [
        b"[" * 100_000 + b"]" * 100_000,  # RecursionError inside json on today's code: a 500 with a traceback
        b'{"instances": ' + b"[" * 5000 + b"1" + b"]" * 5000 + b"}",
        json.dumps({"instances": [[[[[[1]]]]]]}).encode(),
    ],
    ids=["100k-deep", "5k-deep-instances", "6-deep"],
)
def test_deep_nesting_is_a_400(raw):
    with pytest.raises(ProtocolError) as raised:
        parse_v1(raw, SIGNATURE, Limits(max_depth=4))
    assert raised.value.status == 400
    assert_clean(raised.value.message)


def test_body_size_and_value_count_are_capped_per_deployment():
    with pytest.raises(ProtocolError) as raised:
        load_json(b" " * 1001, SMALL)
    assert raised.value.status == 413 and "at most 1,000" in raised.value.message
    with pytest.raises(ProtocolError) as raised:
        parse_v1(body({"instances": [[1, 2, 3, 4]] * 600}), SIGNATURE, Limits(max_elements=1000))
    assert raised.value.status == 413 and "1,000 values" in raised.value.message
    tensor = {"name": "X", "shape": [3, 4], "datatype": "FP32", "data": list(range(12))}
    with pytest.raises(ProtocolError, match="limit is 10"):
        parse_v2(body({"inputs": [tensor]}), SIGNATURE, SMALL)
    with pytest.raises(ProtocolError) as raised:
        check_declared_length("5000", SMALL)
    assert raised.value.status == 413
    check_declared_length("1000", SMALL)
    check_declared_length(None, SMALL)
    with pytest.raises(ProtocolError, match="Content-Length"):
        check_declared_length("-1", SMALL)


def test_limits_from_user_config_keep_defaults_for_bad_values():
    assert Limits.from_user_config(None) == Limits()
    assert Limits.from_user_config({"max_depth": 5, "max_elements": -1, "max_body_bytes": "big"}) == Limits(max_depth=5)
    assert Limits.from_user_config({"max_depth": True}) == Limits()


@pytest.mark.parametrize(
    "raw",
    [
        b"\xff\xfe\x00garbage",
        b'{"instances": [[1, 2, 3, 4]]',
        b'{"instances": [[' + b"9" * 5000 + b", 2, 3, 4]]}",  # int() refuses more than 4300 digits
        b'{"instances": [[99999999999999999999999999, 2, 3, 4]]}',  # OverflowError into float32? into int64
        b'{"instances": [[NaN, {"a": 1}, 3, 4]]}',
    ],
    ids=["not-utf8", "truncated", "5000-digits", "overflow", "object-in-row"],
)
def test_garbage_bodies_are_400s_without_internals(raw):
    with pytest.raises(ProtocolError) as raised:
        parse_v1(raw, {"inputs": [{"name": "X", "datatype": "INT64", "shape": [-1, 4]}]})
    assert raised.value.status == 400
    assert_clean(raised.value.message)


@pytest.mark.parametrize(
    ("tensor", "message"),
    [
        ({"name": "X", "shape": [1, 4], "datatype": "UINT8", "data": [300, 1, 2, 3]}, "UINT8"),
        ({"name": "X", "shape": [1, 4], "datatype": ["FP32"], "data": [1, 2, 3, 4]}, "datatype"),
        ({"name": "X", "shape": [1, 4], "datatype": "x" * 5000, "data": [1, 2, 3, 4]}, "datatype"),
        ({"name": "X", "shape": [1, 4], "datatype": "FP32", "data": [[1, 2], [3, {"x": 1}]]}, "FP32"),
    ],
    ids=["out-of-range", "list-datatype", "long-datatype", "object-in-data"],
)
def test_bad_dtypes_are_400s_that_quote_little(tensor, message):
    with pytest.raises(ProtocolError, match=message) as raised:
        parse_v2(body({"inputs": [tensor]}), SIGNATURE)
    assert raised.value.status == 400
    assert_clean(raised.value.message)


@pytest.mark.parametrize("raw", ["²", "٣", "1.5", "v2", "", "1" * 40, "\x00", "3; DROP"])
def test_version_pins_must_be_ascii_numbers(raw):
    with pytest.raises(ProtocolError, match="X-Raylane-Version must be a version number") as raised:
        parse_version(raw, "X-Raylane-Version")
    assert raised.value.status == 400 and len(raised.value.message) < 200


def test_version_pins_that_are_numbers():
    assert parse_version(" 12 ", "X-Raylane-Version") == 12


@pytest.mark.parametrize("content_type", ["multipart/form-data; boundary=x", "application/octet-stream", "image/png"])
def test_non_json_content_types_are_refused(content_type):
    with pytest.raises(ProtocolError, match="Content-Type must be application/json"):
        check_content_type(content_type)


@pytest.mark.parametrize(
    "content_type",
    [
        None,
        "",
        "application/json",
        "application/json; charset=utf-8",
        "application/x-www-form-urlencoded",
        "text/plain",
        "application/vnd.foo+json",
    ],
)
def test_json_and_curl_default_content_types_are_read(content_type):
    check_content_type(content_type)


def test_client_messages_lose_paths_and_addresses():
    text = "bad input for <Model object at 0x7f00deadbeef> in /srv/venv/lib/site-packages/x.py\nsecond line"
    cleaned = client_message(text)
    assert "0x7f" not in cleaned and "/srv/venv" not in cleaned and "second line" not in cleaned
    assert cleaned.startswith("bad input for")
