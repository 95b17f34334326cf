"""`python manage.py monitor`: sample every deployed version once a second, store and publish it, tail logs."""

import contextlib
import logging
import signal
import sys
from typing import Any

from django.core.management.base import BaseCommand

from controlplane.monitoring.collector import Monitor


class Command(BaseCommand):
    help = "Samples metrics and tails replica logs from Ray every second (one monitor runs at a time)."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--stop-after", type=float, default=None, help="exit after this many seconds")

    def handle(self, *args: Any, stop_after: float | None, **options: Any) -> None:
        logging.getLogger("controlplane").setLevel(logging.INFO)
        monitor = Monitor()

        def stop(signum: int, frame: Any) -> None:
            monitor.release()
            sys.exit(0)

        signal.signal(signal.SIGTERM, stop)
        self.stdout.write(f"monitor {monitor.identity}: sampling {type(monitor.cluster).__name__} every second")
        with contextlib.suppress(KeyboardInterrupt):
            monitor.run(stop_after_s=stop_after)
