import json

import numpy as np
import pytest

from serving.protocol import ProtocolError, format_v1, format_v2, parse_v1, parse_v2

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
