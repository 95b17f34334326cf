"""Writes go through services: the layers that call them (API views and serializers, Celery tasks, websocket
consumers, management commands) hold no ORM write, transaction or audit entry of their own. A view that saved a
row itself would skip the rules and the audit entry the service writes, as the old shared viewset base did."""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3] / "controlplane"
SHELLS = sorted(
    [
        *ROOT.glob("*/api/*.py"),
        *ROOT.glob("api/*.py"),
        *ROOT.glob("*/tasks.py"),
        *ROOT.glob("*/consumers.py"),
        *ROOT.glob("*/management/commands/*.py"),
    ]
)
# Method and function names that write rows, open transactions or append to the audit log.
WRITES = {
    "save",
    "delete",
    "create",
    "update",
    "bulk_create",
    "bulk_update",
    "get_or_create",
    "update_or_create",
    "select_for_update",
    "atomic",
    "audit_record",
}


def writes_in(path: Path, root: Path = ROOT.parent) -> list[str]:
    found = []
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if not isinstance(node, ast.Call):
            continue
        name = node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", "")
        owner = node.func.value if isinstance(node.func, ast.Attribute) else None
        # `services.thing_create(...)`, `self.create(...)` (DRF's own dispatch) are calls into the right layer.
        if isinstance(owner, ast.Name) and owner.id in ("services", "self", "super"):
            continue
        if isinstance(owner, ast.Call) and getattr(owner.func, "id", "") == "super":
            continue
        if name in WRITES:
            found.append(f"{path.relative_to(root)}:{node.lineno} {ast.unparse(node.func)}(...)")
    return found


def test_the_shells_are_found():
    assert len(SHELLS) > 15, SHELLS


@pytest.mark.parametrize("path", SHELLS, ids=lambda path: str(path.relative_to(ROOT)))
def test_shells_write_only_through_services(path: Path):
    assert writes_in(path) == []


def test_the_check_sees_a_write(tmp_path: Path):
    view = tmp_path / "views.py"
    view.write_text("def perform_create(self, serializer):\n    with transaction.atomic():\n        serializer.save()")
    assert writes_in(view, tmp_path) == ["views.py:2 transaction.atomic(...)", "views.py:3 serializer.save(...)"]
