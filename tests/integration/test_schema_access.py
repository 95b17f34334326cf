"""With production settings the API schema and its docs pages need a login: they map every endpoint and field.

drf-spectacular reads SERVE_PERMISSIONS when its views are imported, so the check runs the production settings in
a process of their own, against this test's database (a token created here authenticates there)."""

import json
import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings

from controlplane.accounts.services import token_create
from tests import factories

pytestmark = pytest.mark.django_db(transaction=True)

PAGES = ("/api/schema/", "/api/docs/", "/api/redoc/")
PROBE = """
import json, os, sys
import django
django.setup()
from django.test import Client
headers = {"HTTP_AUTHORIZATION": "Bearer " + os.environ["PROBE_TOKEN"]} if os.environ.get("PROBE_TOKEN") else {}
print(json.dumps([Client().get(page, secure=True, **headers).status_code for page in sys.argv[1:]]))
"""


def statuses(token: str | None = None) -> list[int]:
    database = settings.DATABASES["default"]
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "controlplane.settings.production",
        "SECRET_KEY": secrets.token_urlsafe(50),
        "RAYLANE_ARTIFACT_SIGNING_KEY": secrets.token_urlsafe(50),
        "ALLOWED_HOSTS": "testserver",
        "DATABASE_URL": f"postgres://{database['USER']}@{database['HOST']}:{database['PORT']}/{database['NAME']}",
        "PROBE_TOKEN": token or "",
    }
    result = subprocess.run(
        [sys.executable, "-c", PROBE, *PAGES],
        env=env,
        cwd=Path(settings.BASE_DIR),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_schema_and_docs_need_a_login_in_production():
    assert statuses() == [401, 401, 401]


def test_a_logged_in_user_reads_them(db):
    _, key = token_create(user=factories.make_user("reader"), name="docs")
    assert statuses(key) == [200, 200, 200]
