"""The web console in a real browser: log in, create a model, upload versions, deploy one.

Each test drives the page the way a person would (by label and role) and checks the result both on screen and in
the database. Screenshots of each step land in var/screenshots/.
"""

import hashlib
import re
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from controlplane.registry.models import Model, ModelVersion
from controlplane.rollouts.models import Deployment
from tests import factories

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def upload(page: Page, path: Path) -> None:
    page.get_by_label("Model file").set_input_files(path)
    page.get_by_role("button", name="Upload").click()


def version_row(page: Page, version: int):  # type: ignore[no-untyped-def]
    return page.get_by_role("row").filter(has=page.get_by_role("rowheader", name=f"v{version}", exact=True))


def test_login_shows_the_api_error_then_opens_the_overview(page: Page, people, screenshot) -> None:
    page.goto("/")
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    page.get_by_label("Username").fill("deployer")
    page.get_by_label("Password").fill("not-the-password")
    page.get_by_role("button", name="Log in").click()

    expect(page.get_by_role("alert")).to_have_text("Wrong username or password.")
    screenshot("login-1-wrong-password")

    page.get_by_label("Password").fill("deployer-pass-123")
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("heading", name="Overview", level=1)).to_be_visible()
    expect(page.get_by_text("No deployments yet")).to_be_visible()
    expect(page.get_by_role("banner")).to_contain_text("deployer")
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Models").click()
    expect(page).to_have_url(re.compile(r"/models$"))
    expect(page.get_by_role("heading", name="Models", level=1)).to_be_visible()
    expect(page.get_by_text("No models yet")).to_be_visible()
    screenshot("login-2-models-empty")

    page.reload()  # the session cookie, not page state, keeps us logged in; Django serves the app at /models too
    expect(page.get_by_role("heading", name="Models", level=1)).to_be_visible()

    page.get_by_role("button", name="Log out").click()
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    expect(page.get_by_text("You are logged out.")).to_be_visible()
    page.reload()
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()

    # Signing in on a deep link lands on that page.
    page.goto("/models?q=iris")
    page.get_by_label("Username").fill("deployer")
    page.get_by_label("Password").fill("deployer-pass-123")
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("heading", name="Models", level=1)).to_be_visible()
    expect(page.get_by_label("Search models")).to_have_value("iris")


def test_create_a_model_and_see_field_errors(page: Page, people, log_in, screenshot) -> None:
    factories.make_model(people["team"], "fraud-detector", description="Card fraud scores", tags=["tabular", "risk"])
    log_in("deployer")
    page.goto("/models")
    expect(page.get_by_role("link", name="fraud-detector")).to_be_visible()

    page.get_by_role("button", name="New model").click()
    page.get_by_label("Name", exact=True).fill("Iris Classifier!")
    page.get_by_label("Team").select_option("ml")
    page.get_by_label("Description").fill("Iris species from sepal and petal sizes")
    page.get_by_label("Tags", exact=True).fill("tabular, demo")
    page.get_by_role("button", name="Create model").click()

    name = page.get_by_label("Name", exact=True)
    expect(name).to_have_attribute("aria-invalid", "true")
    expect(page.get_by_text("Use 1-63 lowercase letters, digits and hyphens")).to_be_visible()
    screenshot("create-1-field-error")
    assert not Model.objects.filter(description__startswith="Iris species").exists()

    name.fill("iris")
    page.get_by_role("button", name="Create model").click()
    expect(page.get_by_role("heading", name="iris", level=1)).to_be_visible()
    expect(page.get_by_role("status").filter(has_text="Created model iris")).to_be_visible()
    expect(page).to_have_url(re.compile(r"/models/iris$"))
    model = Model.objects.get(name="iris")
    assert (model.team.slug, model.tags, model.owner.username) == ("ml", ["demo", "tabular"], "deployer")
    screenshot("create-2-model-page")

    page.get_by_role("navigation", name="Main").get_by_role("link", name="Models").click()
    page.get_by_label("Search models").fill("iris")
    expect(page.get_by_role("link", name="fraud-detector")).to_have_count(0)
    expect(page).to_have_url(re.compile(r"/models\?q=iris$"))
    row = page.get_by_role("row").filter(has=page.get_by_role("link", name="iris"))
    expect(row).to_contain_text("ml")
    expect(row).to_contain_text("demo")
    screenshot("create-3-search")


def test_upload_a_skops_file_then_an_empty_one(page: Page, people, log_in, screenshot, tmp_path: Path) -> None:
    factories.make_model(people["team"], "iris", tags=["tabular"])
    artifact = factories.write_skops(tmp_path / "iris.skops")
    sha256 = hashlib.sha256(artifact.read_bytes()).hexdigest()
    log_in("deployer")
    page.goto("/models")
    page.get_by_role("link", name="iris").click()
    expect(page.get_by_text("No versions yet")).to_be_visible()

    page.get_by_label("Metadata (JSON, optional)").fill('{"accuracy": 0.97}')
    upload(page, artifact)
    row = version_row(page, 1)
    expect(row.get_by_text("valid", exact=True)).to_be_visible()
    expect(row).to_contain_text("skops")
    expect(row.get_by_text(sha256[:12])).to_have_attribute("title", sha256)
    expect(page.get_by_role("status").filter(has_text="as version 1: valid")).to_be_visible()
    assert ModelVersion.objects.get(model__name="iris", version=1).metadata == {"accuracy": 0.97}
    screenshot("upload-1-valid-version")

    empty = tmp_path / "empty.skops"
    empty.write_bytes(b"")
    upload(page, empty)
    expect(page.get_by_role("alert")).to_contain_text("empty")
    screenshot("upload-2-empty-file")
    unknown = tmp_path / "weights.bin"
    unknown.write_bytes(b"not a model")
    upload(page, unknown)
    expect(page.get_by_role("alert")).to_contain_text("extension")
    expect(version_row(page, 2)).to_have_count(0)
    assert ModelVersion.objects.filter(model__name="iris").count() == 1
    screenshot("upload-3-unknown-extension")


def test_deploy_creates_then_updates_the_deployment(page: Page, people, log_in, screenshot, model_files) -> None:
    model = factories.make_model(people["team"], "iris", description="Iris species", tags=["tabular"])
    api = factories.client_for(people["deployer"])
    for path in (model_files["skops"], model_files["skops_v2"]):
        with path.open("rb") as artifact:
            response = api.post(f"/api/v1/models/{model.name}/versions/", {"artifact": artifact}, format="multipart")
        assert response.status_code == 201, response.content
    log_in("deployer")
    page.goto("/#/models/iris")  # a link from the console's hash-routed days still opens the page
    expect(page).to_have_url(re.compile(r"/models/iris$"))
    expect(page.get_by_text("not deployed")).to_be_visible()

    page.get_by_role("button", name="Deploy version 1").click()
    expect(page.get_by_role("status").filter(has_text="Version 1 is deployed")).to_be_visible()
    host = re.sub(r"^https?://([^:/]+).*$", r"\1", page.url)
    predict = f"http://{host}:8080/v1/models/iris:predict"
    expect(page.get_by_text(predict, exact=True)).to_be_visible()
    expect(page.get_by_text(f"http://{host}:8080/v2/models/iris/infer", exact=True)).to_be_visible()
    expect(version_row(page, 1).get_by_text("serving")).to_be_visible()
    assert Deployment.objects.get(model__name="iris").stable_version.version == 1
    screenshot("deploy-1-version-1")

    page.get_by_role("button", name="Deploy version 2").click()
    expect(version_row(page, 2).get_by_text("serving")).to_be_visible()  # at once: the page expects success
    expect(page.get_by_role("status").filter(has_text="Version 2 is deployed")).to_be_visible()  # and the server agrees
    expect(page.get_by_role("button", name="Deploy version 1")).to_be_visible()
    deployment = Deployment.objects.get(model__name="iris")
    assert deployment.stable_version.version == 2
    assert Deployment.objects.count() == 1
    expect(page.get_by_text(predict, exact=True)).to_be_visible()
    screenshot("deploy-2-version-2")
