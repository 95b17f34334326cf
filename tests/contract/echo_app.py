"""A minimal Serve application for the ServeCluster contract suite: it answers with its reply and replica id."""

import logging
import os

from ray import serve


@serve.deployment
class Echo:
    """Holds a ``reply`` taken from ``user_config``, so a config change is visible in the HTTP answer."""

    def __init__(self) -> None:
        self.reply = "unset"

    def reconfigure(self, user_config: dict) -> None:
        self.reply = user_config.get("reply", "unset")

    async def __call__(self, request) -> dict:
        if "say" in request.query_params:  # a line in this replica's log, for the log tests
            logging.getLogger("ray.serve").info("echo says %s", request.query_params["say"])
        return {
            "reply": self.reply,
            "replica": serve.get_replica_context().replica_id.unique_id,
            "pid": os.getpid(),
        }


app = Echo.bind()
