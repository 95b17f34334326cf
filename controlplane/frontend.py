"""The web console: Django serves the single-page app's index.html at every console path, and its assets as static
files.

The console routes with real paths (/, /models/iris, /deployments/3: the history API), so a reload or a shared link
asks Django for that path: `CONSOLE_PATH` answers every path with the page, except those that belong to someone else
(the API, the admin, static files, websockets, /metrics, /healthz, the replicas' artifact downloads), which keep their
own 404s. New console pages need no change here.

`npm run build` (run by `make up` and `make test`) writes frontend/dist; settings put that folder in STATICFILES_DIRS
under the `app/` prefix, which is why Vite builds with `base: "/static/app/"`. The assets' names carry content hashes.
"""

from functools import cache
from html import escape
from pathlib import Path

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.views.decorators.csrf import ensure_csrf_cookie
from django.views.decorators.http import require_safe

INDEX_HTML = Path(settings.BASE_DIR) / "frontend" / "dist" / "index.html"

# First path segments that are never the console's: a missing API endpoint or static file must stay a 404, not
# become a page that loads the app.
RESERVED_PREFIXES = ("api", "admin", "static", "ws", "metrics", "healthz", "internal")
CONSOLE_PATH = "^(?!(?:" + "|".join(RESERVED_PREFIXES) + ")(?:/|$))"

NOT_BUILT = """<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><title>Raylane: console not built</title></head>
<body style="font-family: system-ui, sans-serif; max-width: 40rem; margin: 4rem auto; padding: 0 1rem; color: #1f2933">
<h1>Raylane</h1>
<p>The console is not built: run <code>make up</code>
(or <code>cd frontend &amp;&amp; npm ci &amp;&amp; npm run build</code>).</p>
<p>The REST API works without it: <a href="/api/docs/">API docs</a> · <a href="/admin/">Django admin</a>.</p>
</body>
</html>
"""


@cache
def index_html() -> str:
    """The built page, read once per process. A missing build raises and is not cached, so building later works."""
    return INDEX_HTML.read_text(encoding="utf-8")


@require_safe
@ensure_csrf_cookie
def console(request: HttpRequest) -> HttpResponse:
    """Serve the console; the CSRF cookie it sets is what the app sends back as X-CSRFToken on writes."""
    try:
        page = index_html()
    except FileNotFoundError:
        return HttpResponse(NOT_BUILT, status=503, content_type="text/html; charset=utf-8")
    # The app shows inference URLs on this page's host; Serve's port is a server setting, so announce it here.
    serve_port = f'<meta name="raylane-serve-port" content="{escape(str(settings.RAYLANE_SERVE_PORT))}">'
    response = HttpResponse(page.replace("</head>", f"{serve_port}\n</head>", 1))
    # Asset names carry content hashes and may be cached for long; this page names them, so it must be revalidated.
    response["Cache-Control"] = "no-cache"
    return response
