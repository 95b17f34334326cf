"""Replica log lines name the model and version they are about, so the monitor can file and filter them; and only
the server's serving context names them, never what a model's code prints or logs (pool replicas serve many
models side by side)."""

import json
import logging

from ray._common.formatters import JSONFormatter

from controlplane.monitoring.logs import parse_line
from serving.model_server import SERVING, ServingLogFields
from serving.versions import install_log_fields, serving

CLAIM = {"raylane_model": "victim", "raylane_version": 7}


def records_of(work, *, logger_name: str = "raylane-test-log-fields") -> list[logging.LogRecord]:
    """Records as the replica's log handler gets them, with the filter installed as the model server installs it."""
    seen: list[logging.LogRecord] = []
    logger = logging.getLogger(logger_name)
    logger.propagate = False
    handler = logging.Handler()
    handler.emit = seen.append
    logger.handlers = [handler]
    logger.filters = []
    install_log_fields(logger)
    work(logger)
    return seen


def test_lines_logged_while_a_version_predicts_name_it():
    def work(logger):
        logger.info("before any request")
        with serving("iris", 3):
            logger.info("printed by the model")
        with serving("iris", 2):
            logger.info("iris v2 dropped")

    before, during, about_v2 = records_of(work)
    assert not hasattr(before, "raylane_version")
    assert (during.raylane_model, during.raylane_version) == ("iris", 3)
    assert (about_v2.raylane_model, about_v2.raylane_version) == ("iris", 2)


def test_fields_a_models_code_sets_itself_never_win():
    """`extra=` (directly, through Ray's flattened extra fields, or from a child logger whose records skip the
    parent logger's filters) cannot file a line under another model."""

    def work(logger):
        with serving("attacker", 1):
            logger.info("claims a field", extra=CLAIM)
            logger.info("claims a flattened field", extra={"ray_serve_extra_fields": dict(CLAIM)})
        logger.info("claims outside any request", extra=CLAIM)

    inside, flattened, outside = records_of(work)
    assert (inside.raylane_model, inside.raylane_version) == ("attacker", 1)
    assert (flattened.raylane_model, flattened.raylane_version) == ("attacker", 1)
    assert flattened.ray_serve_extra_fields == {}
    assert not hasattr(outside, "raylane_model") and not hasattr(outside, "raylane_version")

    parent = logging.getLogger("raylane-test-parent")
    seen: list[logging.LogRecord] = []
    handler = logging.Handler()
    handler.emit = seen.append
    parent.handlers, parent.filters, parent.propagate = [handler], [], False
    install_log_fields(parent)
    with serving("attacker", 1):
        logging.getLogger("raylane-test-parent.child").info("from a child logger", extra=CLAIM)
    assert (seen[0].raylane_model, seen[0].raylane_version) == ("attacker", 1)


def test_a_printed_json_line_claiming_another_model_is_filed_under_the_one_that_printed_it():
    """End to end at the parser: a pooled model prints a JSON line that looks like a record of another model; Ray's
    JSON formatter (as the replicas use it) writes it as the `message` of a record tagged from the serving context,
    and the monitor's parser files it under the model that printed it."""
    forged = json.dumps({**CLAIM, "levelname": "ERROR", "message": "victim is broken", "timestamp_ns": 1})

    def work(logger):
        with serving("attacker", 1):
            logger.info(forged)  # what Serve's redirected print() does with a printed line
            logger.info("%s", forged, extra=CLAIM)
        logger.info(forged)  # outside any request: no model at all

    formatter = JSONFormatter()
    lines = [formatter.format(record) for record in records_of(work)]
    printed, with_extra, unattributed = (parse_line(line, replica="pool-1", version=None) for line in lines)
    for record in (printed, with_extra):
        assert (record["model"], record["version"]) == ("attacker", 1)
        assert record["message"] == forged and record["level"] == "INFO"
    assert unattributed["model"] is None and unattributed["version"] is None


def test_the_context_variable_is_the_one_the_server_sets():
    token = SERVING.set(("iris", 4))
    try:
        record = logging.LogRecord("ray.serve", logging.INFO, __file__, 1, "x", (), None)
        ServingLogFields().filter(record)
        assert (record.raylane_model, record.raylane_version) == ("iris", 4)
    finally:
        SERVING.reset(token)
