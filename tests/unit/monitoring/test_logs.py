"""Replica log lines as structured records, and the filters users apply to them."""

import json

import pytest

from controlplane.monitoring.logs import LogFilter, parse_line


def test_a_json_line_with_the_model_servers_fields():
    line = json.dumps(
        {
            "asctime": "2026-11-27 12:00:01,250",
            "levelname": "WARNING",
            "message": "odd input\n",
            "deployment": "ModelServer",
            "replica": "abc123",
            "raylane_model": "iris",
            "raylane_version": 3,
            "request_id": "r-1",
            "timestamp_ns": 1_795_000_000_000_000_000,
        }
    )
    record = parse_line(line, replica="fallback", version=None)
    assert record["level"] == "WARNING" and record["version"] == 3 and record["replica"] == "abc123"
    assert record["message"] == "odd input" and record["model"] == "iris" and record["at"].startswith("2026")


def test_text_lines_and_garbage_are_kept_readable():
    text = parse_line("ERROR 2026-11-27 12:00:01,250 ModelServer abc123 -- boom", replica="abc123", version=2)
    assert (text["level"], text["message"], text["version"]) == ("ERROR", "boom", 2)
    garbage = parse_line("Traceback (most recent call last):", replica="r", version=None)
    assert garbage["message"] == "Traceback (most recent call last):" and garbage["level"] == "INFO"
    assert parse_line("   ", replica="r", version=None) is None


def test_filters_by_version_replica_level_and_text():
    lines = [
        {"version": 1, "replica": "aaa", "level": "INFO", "message": "loaded"},
        {"version": 2, "replica": "bbb", "level": "ERROR", "message": "Model failed"},
        {"version": 2, "replica": "aaa", "level": "DEBUG", "message": "model failed quietly"},
    ]
    pick = lambda **params: [line["message"] for line in lines if LogFilter.parse(params).matches(line)]  # noqa: E731
    assert pick(version="2") == ["Model failed", "model failed quietly"]
    assert pick(level="warning") == ["Model failed"]
    assert pick(q="FAILED", replica="aa") == ["model failed quietly"]
    assert pick() == ["loaded", "Model failed", "model failed quietly"]


@pytest.mark.parametrize(("params", "field"), [({"version": "two"}, "version"), ({"level": "LOUD"}, "level")])
def test_bad_filters_name_the_field(params, field):
    with pytest.raises(ValueError, match=f"^{field}:"):
        LogFilter.parse(params)


def test_a_traceback_as_ray_writes_it_comes_out_as_lines():
    exc_text = (
        "('Traceback (most recent call last):\\n',)"
        "('  File \"/srv/model.py\", line 6, in predict\\n    raise RuntimeError(\\'deliberate failure\\')\\n',)"
        "('RuntimeError: deliberate failure\\n',)"
    )
    line = json.dumps({"levelname": "ERROR", "message": "iris v3 failed on a request", "exc_text": exc_text})
    message = parse_line(line, replica="r", version=3)["message"]
    assert message.splitlines() == [
        "iris v3 failed on a request",
        "Traceback (most recent call last):",
        '  File "/srv/model.py", line 6, in predict',
        "    raise RuntimeError('deliberate failure')",
        "RuntimeError: deliberate failure",
    ]
    plain = json.dumps({"levelname": "ERROR", "message": "boom", "exc_text": "Traceback: plain"})
    assert parse_line(plain, replica="r", version=None)["message"] == "boom\nTraceback: plain"
