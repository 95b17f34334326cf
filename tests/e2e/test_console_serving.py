"""How Django serves the console: index.html at every console path (the app routes with the history API), never in
place of the API, the admin, static files, websockets or /metrics; hashed assets; and API types that match the
OpenAPI schema. No browser here: Django's test client, and node for the types."""

import re
import shutil
import subprocess
from pathlib import Path

import pytest
from django.conf import settings
from django.contrib.staticfiles import finders
from django.core.management import call_command

from controlplane import frontend

FRONTEND = Path(settings.BASE_DIR) / "frontend"
SCHEMA_TYPES = FRONTEND / "src" / "api" / "schema.d.ts"
OPENAPI_TYPESCRIPT = FRONTEND / "node_modules" / ".bin" / "openapi-typescript"

pytestmark = pytest.mark.django_db

CONSOLE_PATHS = ["/", "/models", "/models/iris", "/models/iris/", "/deployments/3", "/policies/new", "/a/b/c"]


@pytest.mark.parametrize("path", CONSOLE_PATHS)
def test_every_console_path_is_the_app(client, path: str) -> None:
    response = client.get(path)
    assert response.status_code == 200, path
    page = response.content.decode()
    assert '<div id="app"></div>' in page
    assert response["Content-Type"].startswith("text/html")
    assert response["Cache-Control"] == "no-cache"  # it names the hashed assets, so it is always revalidated


@pytest.mark.parametrize(
    ("path", "status"),
    [
        ("/api/v1/no-such-endpoint/", 404),
        ("/api/v1/models/", 401),  # the API itself answers (anonymous), not the console
        ("/api/", 404),
        ("/api/schema/", 200),
        ("/admin/", 302),
        ("/static/app/assets/missing-0000.js", 404),
        ("/static/anything", 404),
        ("/metrics", 401),
        ("/metrics/", 404),
        ("/ws/deployments/1/", 404),
        ("/healthz", 200),
        ("/internal/artifacts/" + "0" * 64, 403),
    ],
)
def test_the_console_never_shadows_what_is_not_its_own(client, path: str, status: int) -> None:
    response = client.get(path)
    assert response.status_code == status, (path, response.status_code, response.content[:200])
    assert b'<div id="app">' not in response.content, f"{path} answered with the console"


def test_bare_reserved_prefixes_redirect_to_their_own_pages(client) -> None:
    """/admin and /api without their slash still go where they went (CommonMiddleware's APPEND_SLASH), not to the
    console."""
    for path in ("/admin", "/api"):
        response = client.get(path)
        assert response.status_code == 301, path
        assert response["Location"] == f"{path}/"


def test_the_console_answers_only_reads(client) -> None:
    assert client.post("/models/iris").status_code == 405


def test_the_console_page_sets_the_csrf_cookie_and_names_the_serve_port(client, settings) -> None:
    settings.RAYLANE_SERVE_PORT = 18080
    response = client.get("/deployments/1")
    assert response.status_code == 200
    assert "csrftoken" in response.cookies
    assert '<meta name="raylane-serve-port" content="18080">' in response.content.decode()
    scripts = re.findall(r'src="/static/(app/assets/[^"]+\.js)"', response.content.decode())
    assert scripts, "the page names no script under /static/app/assets/"
    for script in scripts:
        assert re.search(r"-[A-Za-z0-9_-]{8}\.js$", script), f"{script} has no content hash in its name"
        assert finders.find(script), f"{script} is not found by the staticfiles finders (STATICFILES_DIRS)"


def test_without_a_build_the_console_says_how_to_build_it(client, monkeypatch, tmp_path: Path) -> None:
    monkeypatch.setattr(frontend, "INDEX_HTML", tmp_path / "dist" / "index.html")
    frontend.index_html.cache_clear()
    try:
        response = client.get("/models")
    finally:
        frontend.index_html.cache_clear()
    assert response.status_code == 503
    page = response.content.decode()
    assert "The console is not built: run <code>make up</code>" in page
    assert "<code>cd frontend &amp;&amp; npm ci &amp;&amp; npm run build</code>" in page


def test_the_consoles_api_types_match_the_openapi_schema(tmp_path: Path) -> None:
    """frontend/src/api/schema.d.ts is generated from the schema (`make api-types`); a serializer change that is not
    regenerated into it fails here, before it can break a page at run time."""
    if not OPENAPI_TYPESCRIPT.exists():
        pytest.fail("frontend/node_modules is not installed: run `make frontend/dist/index.html` (npm ci)")
    if shutil.which("node") is None:
        pytest.fail("node is not on PATH: the console's types are generated with node (openapi-typescript)")
    schema = tmp_path / "openapi.yaml"
    call_command("spectacular", "--file", str(schema))
    generated = tmp_path / "schema.d.ts"
    subprocess.run(
        [str(OPENAPI_TYPESCRIPT), str(schema), "--output", str(generated)],
        cwd=FRONTEND,
        check=True,
        capture_output=True,
        timeout=120,
    )
    assert generated.read_text() == SCHEMA_TYPES.read_text(), (
        "frontend/src/api/schema.d.ts is stale: the API's schema changed. Run `make api-types` and commit the result."
    )


def test_hashed_console_assets_are_cached_for_good_and_the_rest_revalidated() -> None:
    from whitenoise.middleware import WhiteNoiseMiddleware

    middleware = WhiteNoiseMiddleware(get_response=lambda request: None)
    assert middleware.immutable_file_test("", "/static/app/assets/index-B7x_2Qz9.js")
    assert middleware.immutable_file_test("", "/static/app/assets/index-Cq1-aZ0x.css")
    assert not middleware.immutable_file_test("", "/static/app/index.html")
    assert not middleware.immutable_file_test("", "/static/app/favicon.svg")
