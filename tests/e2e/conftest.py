"""End-to-end fixtures: Debian's Chromium driven by Playwright against pytest-django's live server, or against the
ASGI application served by uvicorn for the pages that need websockets.

Both serve the built console (frontend/dist, through STATICFILES_DIRS and the staticfiles finders) and the real API,
on the test database, with the in-memory Serve cluster of the test settings.
"""

import os
import shutil
import socket
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TypeVar

import pytest
import uvicorn
from django.conf import settings
from django.db import connections
from playwright.sync_api import Browser, Page, expect, sync_playwright

T = TypeVar("T")

CHROMIUM = os.environ.get("RAYLANE_E2E_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SCREENSHOTS = Path(settings.BASE_DIR) / "var" / "screenshots"
BUILT_CONSOLE = Path(settings.BASE_DIR) / "frontend" / "dist" / "index.html"

expect.set_options(timeout=15_000)


@pytest.fixture(scope="package", autouse=True)
def allow_orm_beside_playwright() -> Iterator[None]:
    """Let these tests use the ORM while Playwright runs, and only these tests.

    Playwright's sync API marks an asyncio event loop as running in the test thread between its calls, and Django
    refuses ORM calls from a thread with a running loop (SynchronousOnlyOperation). Fixtures and assertions here
    query the database on purpose, from plain synchronous code that never shares a connection with that loop, so
    the guard is safe to lift for this package. It is restored afterwards: left set, it would leak into the rest of
    the session (and `check --deploy` in a subprocess rightly refuses it).
    """
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
        yield


@pytest.fixture(scope="package")
def browser() -> Iterator[Browser]:
    """One Chromium for the e2e package, stopped after it so its event loop does not outlive these tests."""
    if not BUILT_CONSOLE.exists():
        pytest.fail("the console is not built: run `make frontend/dist/index.html` (or `npm ci && npm run build`)")
    if not settings.STATICFILES_DIRS:
        pytest.fail("frontend/dist appeared after settings were loaded: rerun the tests")
    if not (Path(CHROMIUM).exists() or shutil.which(CHROMIUM)):
        pytest.fail(f"no Chromium at {CHROMIUM}: run `make chromium` (apt-get install chromium)")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def server_url(live_server) -> str:  # type: ignore[no-untyped-def]
    """Where the browser goes. Modules whose pages use websockets override this with `asgi_server`."""
    return live_server.url


@pytest.fixture
def open_page(browser: Browser, server_url: str) -> Iterator[Callable[[], Page]]:
    """`open_page()` is a new browser context (cookies of its own: another person) with one page; all are closed
    after the test, which fails if any page threw an uncaught error."""
    contexts = []
    errors: list[str] = []

    def open_one() -> Page:
        context = browser.new_context(base_url=server_url, viewport={"width": 1280, "height": 800})
        context.set_default_timeout(15_000)
        contexts.append(context)
        page = context.new_page()
        page.on("pageerror", lambda error: errors.append(str(error)))
        return page

    yield open_one
    for context in contexts:
        context.close()
    assert not errors, f"uncaught errors in the page: {errors}"


@pytest.fixture
def page(open_page: Callable[[], Page]) -> Page:
    return open_page()


#: Every screenshot is taken at these widths: the console must read well on a laptop and in a 900 px window.
SCREENSHOT_WIDTHS = (1280, 900)


@pytest.fixture
def screenshot(page: Page) -> Callable[..., Path]:
    """`screenshot("login-1-wrong-password")` saves the whole page as var/screenshots/login-1-wrong-password.png
    (1280 px wide) and login-1-wrong-password-900.png (900 px); `screenshot(name, of=other_page)` another person's
    page. The viewport is put back afterwards."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)

    def take(name: str, *, of: Page | None = None) -> Path:
        target = of or page
        viewport = target.viewport_size or {"width": 1280, "height": 800}
        first = SCREENSHOTS / f"{name}.png"
        for width in SCREENSHOT_WIDTHS:
            path = first if width == SCREENSHOT_WIDTHS[0] else SCREENSHOTS / f"{name}-{width}.png"
            target.set_viewport_size({"width": width, "height": viewport["height"]})
            target.screenshot(path=str(path), full_page=True)
        target.set_viewport_size(viewport)
        return first

    return take


@pytest.fixture
def log_in(page: Page) -> Callable[..., None]:
    """Log in through the form as one of the `people`, whose password is `<username>-pass-123`; `on=` another
    page than the test's first one."""

    def log_in_as(username: str, *, on: Page | None = None) -> None:
        target = on or page
        target.goto("/")
        target.get_by_label("Username").fill(username)
        target.get_by_label("Password").fill(f"{username}-pass-123")
        target.get_by_role("button", name="Log in").click()
        expect(target.get_by_role("button", name="Log out")).to_be_visible()

    return log_in_as


class AsgiServer:
    """uvicorn serving the ASGI application in a thread of this process, on one port it can be stopped and started
    again on (for a browser to lose the server and get it back)."""

    def __init__(self) -> None:
        probe = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        probe.bind(("127.0.0.1", 0))
        self.port = probe.getsockname()[1]
        probe.close()
        self.url = f"http://127.0.0.1:{self.port}"
        self.server: uvicorn.Server | None = None
        self.thread: threading.Thread | None = None
        self.listener: socket.socket | None = None

    def start(self) -> None:
        from django.contrib.staticfiles.handlers import ASGIStaticFilesHandler

        from controlplane.asgi import application

        self.listener = listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        config = uvicorn.Config(
            ASGIStaticFilesHandler(application), lifespan="off", log_level="warning", timeout_graceful_shutdown=2
        )
        self.server = server = uvicorn.Server(config)
        self.thread = threading.Thread(
            target=server.run, kwargs={"sockets": [listener]}, name="asgi-server", daemon=True
        )
        self.thread.start()
        deadline = time.monotonic() + 15
        while not server.started:
            if not self.thread.is_alive() or time.monotonic() > deadline:
                pytest.fail("the ASGI server (uvicorn) did not start")
            time.sleep(0.05)

    def stop(self) -> None:
        if self.server is not None and self.thread is not None:
            self.server.should_exit = True
            self.thread.join(timeout=15)
        if self.listener is not None:
            self.listener.close()
        self.server, self.thread, self.listener = None, None, None


@pytest.fixture
def asgi_server(transactional_db) -> Iterator[AsgiServer]:  # type: ignore[no-untyped-def]
    """The ASGI application (HTTP and websockets) served by uvicorn on a free 127.0.0.1 port.

    pytest-django's live server speaks WSGI only, so pages with live updates need this one. It serves the built
    console's files as that live server does (the staticfiles finders, through ASGIStaticFilesHandler) and runs in a
    thread of this process: it shares the test database (committed rows only, hence `transactional_db`), the Serve
    twin and the Redis channel layer with the test. Its requests run in threads of their own, so their database
    connections are closed after each request (CONN_MAX_AGE 0): left open, they would keep the test database from
    being flushed or dropped.
    """
    database = connections["default"].settings_dict
    kept_for = database["CONN_MAX_AGE"]
    database["CONN_MAX_AGE"] = 0
    server = AsgiServer()
    server.start()
    try:
        yield server
    finally:
        server.stop()
        database["CONN_MAX_AGE"] = kept_for


@pytest.fixture
def off_the_loop() -> Callable[[Callable[[], T]], T]:
    """`off_the_loop(work)` runs `work` in a thread of its own and returns what it returns.

    For what pushes to websockets from the test (the monitor's `tick`, rollout commands through the API client):
    they call asgiref's async_to_sync, which refuses to run in a thread with a running event loop, and Playwright's
    sync API keeps one marked as running in the test thread. The thread's database connection is closed after.
    """

    def run_in_a_thread(work: Callable[[], T]) -> T:
        def run() -> T:
            try:
                return work()
            finally:
                connections.close_all()

        with ThreadPoolExecutor(max_workers=1) as pool:
            return pool.submit(run).result()

    return run_in_a_thread
