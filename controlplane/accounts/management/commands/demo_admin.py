"""Create (once) the demo admin, its team and an API token, and print how to log in.

The password and token are kept in var/demo-admin.json (mode 600) so every `make up` prints the same credentials.
"""

import json
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandParser

from controlplane.accounts.services import demo_admin_ensure


class Command(BaseCommand):
    help = "Create the demo admin user, the 'demo' team and an API token; print the credentials."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--username", default="admin")
        parser.add_argument("--file", default=str(Path(settings.BASE_DIR) / "var" / "demo-admin.json"))

    def handle(self, *args: Any, username: str, file: str, **options: Any) -> None:
        path = Path(file)
        saved = json.loads(path.read_text()) if path.exists() else {}
        saved = demo_admin_ensure(username=username, saved=saved)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(saved, indent=2))
        path.chmod(0o600)
        self.stdout.write(f"username: {saved['username']}\npassword: {saved['password']}\napi token: {saved['token']}")
