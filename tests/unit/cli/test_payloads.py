"""What the SDK sends and how it reads answers, without a server: inference bodies, typed results, the ingress URL,
upload progress, pushes of a watched rollout."""

import httpx
import numpy as np
import pytest

from raylane import inference
from raylane.logs import after
from raylane.resources import ProgressReader
from raylane.rollouts import update_from_push
from raylane.types import Rollout


def test_v1_wraps_rows_and_passes_a_whole_body_through():
    assert inference.v1_payload([[1, 2]]) == {"instances": [[1, 2]]}
    assert inference.v1_payload(np.array([[1.5, 2.0]])) == {"instances": [[1.5, 2.0]]}
    assert inference.v1_payload({"instances": [[1]], "x": 1}) == {"instances": [[1]], "x": 1}
    with pytest.raises(ValueError, match="list of rows"):
        inference.v1_payload(3)


def test_v2_works_out_shape_and_datatype():
    body = inference.v2_payload([[5.1, 3.5, 1.4, 0.2], [1, 2, 3, 4]])
    assert body == {
        "inputs": [{"name": "input-0", "shape": [2, 4], "datatype": "FP64", "data": [5.1, 3.5, 1.4, 0.2, 1, 2, 3, 4]}]
    }
    assert inference.v2_payload([[1, 2]])["inputs"][0]["datatype"] == "INT64"
    assert inference.v2_payload([True, False])["inputs"][0]["datatype"] == "BOOL"
    assert inference.v2_payload(["a"])["inputs"][0]["datatype"] == "BYTES"
    with pytest.raises(ValueError, match="rectangular"):
        inference.v2_payload([[1, 2], [3]])


def test_v2_answers_are_reshaped():
    assert inference.reshaped([1, 2, 3, 4, 5, 6], [2, 3]) == [[1, 2, 3], [4, 5, 6]]
    response = httpx.Response(
        200,
        json={"model_name": "iris", "outputs": [{"name": "label", "shape": [2], "datatype": "INT64", "data": [0, 2]}]},
        headers={"X-Raylane-Version": "3"},
    )
    answer = inference.prediction_from("iris", "v2", response)
    assert answer.version == 3 and answer.predictions == [0, 2] and answer.outputs[0]["name"] == "label"


def test_an_inference_refusal_is_an_error_with_the_servers_message():
    from raylane.errors import BadRequest

    response = httpx.Response(400, json={"error": "instances has 2 values on axis 1; the model expects 4"})
    with pytest.raises(BadRequest, match="the model expects 4"):
        inference.prediction_from("iris", "v1", response)


def test_the_ingress_url_is_the_servers_host_and_announced_port():
    page = '<html><head><meta name="raylane-serve-port" content="8580">\n</head></html>'
    assert inference.serve_url_from_page("https://cp.example:8443", page) == "https://cp.example:8580"
    assert inference.serve_url_from_page("http://127.0.0.1:8000", None) == "http://127.0.0.1:8080"
    assert inference.serve_url_from_page("http://[::1]:8000", page) == "http://[::1]:8580"


def test_pinned_and_keyed_requests():
    headers = inference.inference_headers(version=2, key="rk_abc", session=None)
    assert headers["X-Raylane-Version"] == "2" and headers["X-Raylane-Key"] == "rk_abc"
    assert "Authorization" not in headers, "the control plane's token never goes to the data plane"
    assert inference.inference_path("iris", "v1") == "/v1/models/iris:predict"
    assert inference.inference_path("iris", "v2") == "/v2/models/iris/infer"


def test_typed_results_ignore_unknown_fields_and_parse_times():
    rollout = Rollout.from_api(
        {
            "id": 3,
            "phase": "failed",
            "reason": "rolled back: deadline",
            "future_field": {"x": 1},
            "finished_at": "2025-02-03T04:05:06Z",
            "events": [{"id": 9, "kind": "failed", "message": "m", "actor_username": "alice", "at": None}],
        }
    )
    assert rollout.finished and not rollout.active and not rollout.succeeded
    assert rollout.finished_at is not None and rollout.finished_at.year == 2025
    assert rollout.events[0].actor == "alice"


def test_upload_progress_reaches_the_whole_file(tmp_path):
    path = tmp_path / "model.bin"
    path.write_bytes(b"x" * 300_000)
    calls: list[tuple[int, int]] = []
    with path.open("rb") as handle:
        reader = ProgressReader(handle, 300_000, lambda sent, total: calls.append((sent, total)))
        request = httpx.Request("POST", "http://h/upload", files={"artifact": ("model.bin", reader)})
        body = request.read()
    assert len(body) > 300_000
    assert calls[-1] == (300_000, 300_000)
    assert [sent for sent, _ in calls] == sorted(sent for sent, _ in calls)


def test_a_pushed_rollout_event():
    push = {
        "rollout": 5,
        "phase": "progressing",
        "from_version": 1,
        "to_version": 2,
        "candidate_weight": 50,
        "stable_weight": 50,
        "allowed_commands": ["pause"],
        "event": {"id": 11, "kind": "step", "message": "step 2: 50%", "data": {"weight": 50}, "at": None, "actor": ""},
    }
    update = update_from_push(push)
    assert update is not None and update.event.id == 11 and update.event.rollout == 5 and not update.finished
    assert update_from_push({"rollout": None, "event": {}}) is None, "deployment events are not this rollout's"


def test_a_repeated_log_backlog_is_cut_at_the_last_line_given():
    from datetime import UTC, datetime

    earlier, later = datetime(2025, 1, 1, tzinfo=UTC), datetime(2025, 1, 2, tzinfo=UTC)
    assert after((later, "r", "m"), (earlier, "r", "m"))
    assert not after((earlier, "r", "m"), (later, "r", "m"))
