"""Create (once) the demo admin, its team and an API token, and print how to log in.

The password and token are kept in var/demo-admin.json (mode 600) so every `make up` prints the same credentials.
"""

import json
import secrets
from pathlib import Path

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand
from django.db import transaction
from django.utils import timezone

from controlplane.accounts.choices import Role
from controlplane.accounts.models import ApiToken, Membership, Team, hash_token
from controlplane.accounts.services import token_create


class Command(BaseCommand):
    help = "Create the demo admin user, the 'demo' team and an API token; print the credentials."

    def add_arguments(self, parser) -> None:  # type: ignore[no-untyped-def]
        parser.add_argument("--username", default="admin")
        parser.add_argument("--file", default=str(Path(settings.BASE_DIR) / "var" / "demo-admin.json"))

    def handle(self, *args, username: str, file: str, **options) -> None:  # type: ignore[no-untyped-def]
        path = Path(file)
        saved = json.loads(path.read_text()) if path.exists() else {}
        User = get_user_model()
        with transaction.atomic():
            user = User.objects.filter(username=username).first()
            if user is None or saved.get("username") != username or not user.check_password(saved.get("password", "")):
                saved = {"username": username, "password": secrets.token_urlsafe(12)}
                user = user or User(username=username, email=f"{username}@example.com")
                user.is_staff = user.is_superuser = user.is_active = True
                user.set_password(saved["password"])
                user.save()
            team, _ = Team.objects.get_or_create(slug="demo", defaults={"name": "Demo team"})
            Membership.objects.update_or_create(team=team, user=user, defaults={"role": Role.ADMIN})
            token = saved.get("token", "")
            if not ApiToken.objects.filter(
                key_hash=hash_token(token), revoked_at__isnull=True, expires_at__gt=timezone.now()
            ).exists():
                _, token = token_create(user=user, name="demo", expires_in_days=settings.RAYLANE_TOKEN_MAX_DAYS)
                saved["token"] = token
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(saved, indent=2))
        path.chmod(0o600)
        self.stdout.write(f"username: {saved['username']}\npassword: {saved['password']}\napi token: {saved['token']}")
