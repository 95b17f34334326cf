"""serving.archive: unsafe archives are refused before anything reaches the disk of a Ray node."""

from __future__ import annotations

import os
import stat
import struct
import zipfile
from pathlib import Path

import pytest

from serving import archive
from serving.archive import ArchiveError, ArchiveLimits, check_zip, folder_holding, human_bytes, safe_extract

MIB = 1024**2
LIMITS = {"max_unpacked_bytes": 64 * MIB, "max_ratio": 100, "max_entries": 50}


def make_zip(path: Path, members: dict[str, bytes], *, compression: int = zipfile.ZIP_DEFLATED) -> Path:
    with zipfile.ZipFile(path, "w", compression=compression) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return path


def test_clean_archive_is_listed_and_extracted(tmp_path: Path) -> None:
    path = make_zip(tmp_path / "ok.zip", {"model/config.json": b"{}", "model/weights.bin": os.urandom(4096)})

    assert check_zip(path, **LIMITS) == ["model/config.json", "model/weights.bin"]
    dest = safe_extract(path, tmp_path / "out", **LIMITS)

    assert (dest / "model/config.json").read_bytes() == b"{}"
    assert (dest / "model/weights.bin").stat().st_size == 4096


@pytest.mark.parametrize(
    ("name", "problem"),
    [
        ("../evil.py", "'..'"),
        ("model/../../evil.py", "'..'"),
        ("/etc/cron.d/evil", "absolute path"),
        ("\\windows\\evil.dll", "absolute path"),
        ("C:\\Windows\\evil.dll", "drive-letter"),
        ("model\\..\\..\\evil.py", "'..'"),
    ],
)
def test_members_escaping_the_destination_are_refused(tmp_path: Path, name: str, problem: str) -> None:
    path = make_zip(tmp_path / "evil.zip", {"ok.txt": b"fine", name: b"payload"})

    with pytest.raises(ArchiveError, match=problem) as caught:
        check_zip(path, **LIMITS)
    assert repr(name) in str(caught.value)
    with pytest.raises(ArchiveError):
        safe_extract(path, tmp_path / "out", **LIMITS)
    assert not (tmp_path / "evil.py").exists()
    assert not (tmp_path / "out" / "ok.txt").exists()


def test_symlink_member_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "link.zip"
    with zipfile.ZipFile(path, "w") as zf:
        info = zipfile.ZipInfo("model/weights.bin")
        info.create_system = 3
        info.external_attr = (stat.S_IFLNK | 0o777) << 16
        zf.writestr(info, "/etc/passwd")

    with pytest.raises(ArchiveError, match=r"'model/weights.bin' is a symbolic link"):
        check_zip(path, **LIMITS)


def test_too_many_entries_is_refused(tmp_path: Path) -> None:
    path = make_zip(tmp_path / "many.zip", {f"f{i}.txt": b"x" for i in range(11)})

    assert len(check_zip(path, **{**LIMITS, "max_entries": 11})) == 11
    with pytest.raises(ArchiveError, match=r"archive has 11 entries; the limit is 10 \(RAYLANE_MAX_ZIP_ENTRIES\)"):
        check_zip(path, **{**LIMITS, "max_entries": 10})


def test_declared_total_above_the_limit_is_refused_in_human_units(tmp_path: Path) -> None:
    path = make_zip(tmp_path / "big.zip", {"a.bin": os.urandom(MIB), "b.bin": os.urandom(MIB // 2)})

    with pytest.raises(ArchiveError) as caught:
        check_zip(path, **{**LIMITS, "max_unpacked_bytes": MIB})
    assert str(caught.value) == ("archive would unpack to 1.5 MiB; the limit is 1 MiB (RAYLANE_MAX_UNPACKED_BYTES)")


def test_highly_compressed_large_member_is_refused_as_a_zip_bomb(tmp_path: Path) -> None:
    path = tmp_path / "bomb.zip"
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as zf, zf.open("zeros.bin", "w") as member:
        for _ in range(50):
            member.write(bytes(MIB))

    with pytest.raises(ArchiveError, match=r"'zeros.bin' would unpack from .* KiB to 50 MiB .*zip bomb") as caught:
        check_zip(path, **LIMITS)
    assert "the limit is 100:1 (RAYLANE_MAX_ZIP_RATIO)" in str(caught.value)
    with pytest.raises(ArchiveError):
        safe_extract(path, tmp_path / "out", **LIMITS)
    assert not (tmp_path / "out" / "zeros.bin").exists()


def test_small_compressible_members_are_not_mistaken_for_bombs(tmp_path: Path) -> None:
    path = make_zip(tmp_path / "padding.zip", {"padding.bin": bytes(MIB - 1)})

    assert check_zip(path, **LIMITS) == ["padding.bin"]


def _lie_about_size(path: Path, declared: int) -> None:
    """Rewrite the uncompressed size in the local and central headers, as a hostile archive would."""
    data = bytearray(path.read_bytes())
    local = data.index(b"PK\x03\x04")
    central = data.index(b"PK\x01\x02")
    struct.pack_into("<I", data, local + 22, declared)
    struct.pack_into("<I", data, central + 24, declared)
    path.write_bytes(bytes(data))


def test_member_larger_than_declared_is_not_extracted(tmp_path: Path) -> None:
    path = make_zip(tmp_path / "liar.zip", {"weights.bin": bytes(3 * MIB)})
    _lie_about_size(path, 100)

    assert check_zip(path, **LIMITS) == ["weights.bin"]
    with pytest.raises(ArchiveError, match="corrupt"):
        safe_extract(path, tmp_path / "out", **LIMITS)
    assert not (tmp_path / "out" / "weights.bin").exists()


def test_extraction_counts_real_bytes_even_if_the_directory_check_is_bypassed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = make_zip(tmp_path / "big.zip", {"a.bin": os.urandom(2 * MIB), "b.bin": os.urandom(2 * MIB)})
    monkeypatch.setattr(archive, "check_zip", lambda *args, **kwargs: [])

    with pytest.raises(ArchiveError, match=r"more than 3 MiB while extracting 'b.bin'"):
        safe_extract(path, tmp_path / "out", **{**LIMITS, "max_unpacked_bytes": 3 * MIB})
    assert list((tmp_path / "out").iterdir()) == []


def test_corrupt_and_non_zip_files_are_refused(tmp_path: Path) -> None:
    not_zip = tmp_path / "model.skops"
    not_zip.write_bytes(b"definitely not a zip")
    truncated = make_zip(tmp_path / "cut.zip", {"a.txt": os.urandom(1000)})
    truncated.write_bytes(truncated.read_bytes()[:-30])

    for path in (not_zip, truncated):
        with pytest.raises(ArchiveError, match="not a zip archive, or a corrupt one"):
            check_zip(path, **LIMITS)


def test_archive_error_is_a_value_error() -> None:
    assert issubclass(ArchiveError, ValueError)


@pytest.mark.parametrize(
    ("size", "text"),
    [
        (0, "0 bytes"),
        (1, "1 byte"),
        (512, "512 bytes"),
        (1536, "1.5 KiB"),
        (8 * 1024**3, "8 GiB"),
        (int(9.3 * 1024**3), "9.3 GiB"),
        (int(3.14 * 1024**3), "3.1 GiB"),
        (5 * 1024**4, "5 TiB"),
    ],
)
def test_human_bytes(size: int, text: str) -> None:
    assert human_bytes(size) == text


def test_limits_come_from_the_environment() -> None:
    limits = ArchiveLimits.from_env({"RAYLANE_MAX_UNPACKED_BYTES": "1024", "RAYLANE_MAX_ZIP_ENTRIES": "7"})

    assert limits.as_kwargs() == {"max_unpacked_bytes": 1024, "max_ratio": 200, "max_entries": 7}
    with pytest.raises(ArchiveError, match="RAYLANE_MAX_ZIP_RATIO must be a whole number, got 'lots'"):
        ArchiveLimits.from_env({"RAYLANE_MAX_ZIP_RATIO": "lots"})


@pytest.mark.parametrize(
    ("names", "expected"),
    [
        (["model.py", "weights.json"], ""),
        (["export/", "export/model.py", "export/data/w.bin"], "export"),
        (["a/model.py", "b/other.py"], None),
        (["deep/er/model.py"], None),
        (["weights.json"], None),
    ],
)
def test_folder_holding(names: list[str], expected: str | None) -> None:
    assert folder_holding(names, "model.py") == expected
