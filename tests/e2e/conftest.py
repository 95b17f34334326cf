"""End-to-end fixtures: Debian's Chromium driven by Playwright against pytest-django's live server.

The live server serves the built console (frontend/dist, through STATICFILES_DIRS and the staticfiles finders) and
the real API, on the test database, with the in-memory Serve cluster of the test settings.
"""

import os
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from django.conf import settings
from playwright.sync_api import Browser, Page, expect, sync_playwright

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
def page(browser: Browser, live_server) -> Iterator[Page]:  # type: ignore[no-untyped-def]
    context = browser.new_context(base_url=live_server.url, viewport={"width": 1280, "height": 800})
    context.set_default_timeout(15_000)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    yield page
    context.close()
    assert not errors, f"uncaught errors in the page: {errors}"


@pytest.fixture
def screenshot(page: Page) -> Callable[[str], Path]:
    """`screenshot("login-1-wrong-password")` saves the whole page as var/screenshots/login-1-wrong-password.png."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)

    def take(name: str) -> Path:
        path = SCREENSHOTS / f"{name}.png"
        page.screenshot(path=str(path), full_page=True)
        return path

    return take


@pytest.fixture
def log_in(page: Page) -> Callable[[str], None]:
    """Log in through the form as one of the `people`, whose password is `<username>-pass-123`."""

    def log_in_as(username: str) -> None:
        page.goto("/")
        page.get_by_label("Username").fill(username)
        page.get_by_label("Password").fill(f"{username}-pass-123")
        page.get_by_role("button", name="Log in").click()
        expect(page.get_by_role("button", name="Log out")).to_be_visible()

    return log_in_as
