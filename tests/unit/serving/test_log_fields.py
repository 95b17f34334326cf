"""Replica log lines name the model and version they are about, so the monitor can file and filter them."""

import logging

from serving.model_server import SERVING, ServingLogFields
from serving.versions import log_fields


def records_of(work) -> list[logging.LogRecord]:
    seen: list[logging.LogRecord] = []
    logger = logging.getLogger("raylane-test-log-fields")
    logger.propagate = False
    handler = logging.Handler()
    handler.emit = seen.append
    logger.handlers = [handler]
    logger.filters = [ServingLogFields()]
    work(logger)
    return seen


def test_lines_logged_while_a_version_predicts_name_it_and_explicit_fields_win():
    def work(logger):
        logger.info("before any request")
        token = SERVING.set(("iris", 3))
        logger.info("printed by the model")
        logger.info("iris v2 dropped", extra=log_fields("iris", 2))
        SERVING.reset(token)

    before, during, explicit = records_of(work)
    assert not hasattr(before, "raylane_version")
    assert (during.raylane_model, during.raylane_version) == ("iris", 3)
    assert (explicit.raylane_model, explicit.raylane_version) == ("iris", 2)
