"""API tokens and the audit log in a real browser: create a token and see its key once, revoke it, then find both
in the audit log and filter it. Screenshots of each step land in var/screenshots/.
"""

import re

import pytest
from playwright.sync_api import Page, expect

from controlplane.accounts.models import ApiToken, AuditEntry, hash_token

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def audit_row(page: Page, action: str):  # type: ignore[no-untyped-def]
    return page.locator(f"tbody tr:has(td[data-action='{action}'])")


def test_create_a_token_see_its_key_once_revoke_it_and_find_both_in_the_audit_log(
    page: Page, people, log_in, screenshot
) -> None:
    log_in("deployer")
    page.get_by_role("navigation", name="Main").get_by_role("link", name="API tokens").click()
    expect(page).to_have_url(re.compile(r"/tokens$"))
    expect(page.get_by_role("heading", name="API tokens", level=1)).to_be_visible()
    expect(page.get_by_text("No tokens yet")).to_be_visible()

    # Out of the server's bounds: its message shows at the field, and nothing is created.
    page.get_by_label("Token name").fill("ci pipeline")
    page.get_by_label("Expires in (days)").fill("9999")
    page.get_by_role("button", name="Create token").click()
    days = page.get_by_label("Expires in (days)")
    expect(days).to_have_attribute("aria-invalid", "true")
    expect(page.locator(".field-error")).to_contain_text("less than or equal to 365")
    assert not ApiToken.objects.exists()
    screenshot("tokens-1-field-error")

    days.fill("30")
    page.get_by_role("button", name="Create token").click()
    panel = page.locator("[data-new-key]")
    expect(panel).to_contain_text("Store it now: it will not be shown again.")
    key = panel.get_by_label("API token key").input_value()
    token = ApiToken.objects.get()
    assert token.name == "ci pipeline" and token.user == people["deployer"]
    assert hash_token(key) == token.key_hash, "the page shows the key the server made"
    assert round((token.expires_at - token.created_at).total_seconds() / 86400) == 30
    expect(panel.get_by_role("button", name="Copy the token key")).to_be_visible()  # offered, not pressed
    row = page.locator("tbody tr[data-token='ci pipeline']")
    expect(row).to_contain_text(token.key_prefix)
    expect(row).to_contain_text("Active")
    expect(row).to_contain_text("never")
    screenshot("tokens-2-key-shown-once")

    page.get_by_role("button", name="I have stored it").click()
    expect(panel).to_have_count(0)
    expect(page.locator("input[name=key]")).to_have_count(0)
    page.reload()
    expect(row).to_contain_text("Active")
    assert key not in page.content(), "the key is never shown again"

    # Revoke: a confirmation first; cancelling keeps the token.
    row.get_by_role("button", name="Revoke ci pipeline").click()
    dialog = page.get_by_role("dialog", name="Revoke “ci pipeline”?")
    expect(dialog).to_contain_text(token.key_prefix)
    screenshot("tokens-3-revoke-confirmation")
    dialog.get_by_role("button", name="Cancel").click()
    expect(dialog).to_have_count(0)
    token.refresh_from_db()
    assert token.revoked_at is None
    row.get_by_role("button", name="Revoke ci pipeline").click()
    dialog.get_by_role("button", name="Revoke token").click()
    expect(page.get_by_role("status").filter(has_text="Revoked token ci pipeline.")).to_be_visible()
    expect(row).to_contain_text("Revoked")
    expect(row.get_by_role("button", name="Revoke ci pipeline")).to_have_count(0)
    token.refresh_from_db()
    assert token.revoked_at is not None and not token.is_active
    screenshot("tokens-4-revoked")

    # The audit log names who did what to which token, newest first.
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Audit log").click()
    expect(page.get_by_role("heading", name="Audit log", level=1)).to_be_visible()
    created, revoked = audit_row(page, "token_create"), audit_row(page, "token_revoke")
    expect(created).to_contain_text("Create API token")
    expect(created).to_contain_text("deployer")
    expect(created).to_contain_text(f"ci pipeline ({token.key_prefix}…)")
    expect(created).to_contain_text("days: 30")
    expect(revoked).to_contain_text("Revoke API token")
    expect(revoked).to_contain_text(f"ci pipeline ({token.key_prefix}…)")
    actions = [cell.get_attribute("data-action") for cell in page.locator("tbody td[data-action]").all()]
    assert actions.index("token_revoke") < actions.index("token_create"), actions
    screenshot("audit-1-tokens")

    # A filter is applied from the form, kept in the URL, and survives a reload.
    page.get_by_label("Action").select_option("token_revoke")
    page.get_by_role("button", name="Apply filters").click()
    expect(page).to_have_url(re.compile(r"/audit\?action=token_revoke$"))
    expect(created).to_have_count(0)
    expect(revoked).to_have_count(1)
    page.reload()
    expect(page.get_by_label("Action")).to_have_value("token_revoke")
    expect(revoked).to_have_count(1)
    expect(created).to_have_count(0)
    screenshot("audit-2-filtered")

    page.get_by_label("Actor").fill("admin")
    page.get_by_role("button", name="Apply filters").click()
    expect(page.get_by_text("No entry matches these filters.")).to_be_visible()
    page.get_by_role("button", name="Clear filters").click()
    expect(page).to_have_url(re.compile(r"/audit$"))
    expect(created).to_have_count(1)
    assert AuditEntry.objects.filter(action__in=["token_create", "token_revoke"]).count() == 2


def test_the_audit_log_pages_through_its_entries(page: Page, people, log_in) -> None:
    for number in range(55):
        AuditEntry.objects.create(
            actor_id=people["deployer"].pk,
            actor_username="deployer",
            action="update",
            target_type="registry.model",
            target_repr=f"model-{number:02}",
            team_id=people["team"].pk,
            team_slug=people["team"].slug,
            changes={"description": {"from": "", "to": f"text {number}"}},
        )
    log_in("deployer")
    page.goto("/audit?action=update")
    nav = page.get_by_role("navigation", name="Audit log pages")
    expect(nav).to_contain_text("Page 1 of 2")
    expect(page.locator("tbody tr")).to_have_count(50)
    expect(page.locator("tbody")).to_contain_text("description: empty → text 54")
    nav.get_by_role("button", name="Next page").click()
    expect(page).to_have_url(re.compile(r"/audit\?action=update&page=2$"))
    expect(nav).to_contain_text("Page 2 of 2")
    expect(page.locator("tbody tr")).to_have_count(5)
    expect(nav.get_by_role("button", name="Next page")).to_be_disabled()
    page.go_back()
    expect(nav).to_contain_text("Page 1 of 2")
