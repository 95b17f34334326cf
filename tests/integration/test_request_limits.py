"""Issue 10: request size before anything else. The real ASGI application served by uvicorn in a subprocess (the
web process whose memory is measured), on the test database.

- An anonymous 1 GiB body, declared, chunked, or behind a lying Content-Length, is refused after at most a few
  megabytes and the web process's peak RSS barely moves.
- An authenticated upload streams to a file on the artifact volume. CI sends 300 MiB (the body is written twice,
  spooled then parsed, and this machine's 2 cores are shared; the memory bound is the same either way);
  `make test-full` sends the full 1 GiB (RAYLANE_TEST_UPLOAD_BYTES, in bytes).
"""

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from django.conf import settings
from django.db import connections

from tests import factories

MiB = 1024 * 1024
CHUNK = b"\0" * MiB
RSS_GROWTH_LIMIT_KB = 100 * 1024
UPLOAD_BYTES = int(os.environ.get("RAYLANE_TEST_UPLOAD_BYTES") or 300 * MiB)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def peak_rss_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    raise AssertionError("no VmHWM")


class WebProcess:
    def __init__(self, artifact_root: Path) -> None:
        database = connections["default"].settings_dict
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.artifact_root = artifact_root
        env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "controlplane.settings.test",
            "DATABASE_URL": (
                f"postgres://{database['USER']}:{database.get('PASSWORD') or ''}@{database['HOST'] or '127.0.0.1'}:"
                f"{database['PORT'] or 5432}/{database['NAME']}"
            ),
            "RAYLANE_ARTIFACT_ROOT": str(artifact_root),
        }
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "uvicorn",
                "controlplane.asgi:application",
                "--host",
                "127.0.0.1",
                "--port",
                str(self.port),
                "--no-access-log",
                "--log-level",
                "warning",
                "--lifespan",
                "off",
            ],
            env=env,
            cwd=settings.BASE_DIR,
        )
        deadline = time.monotonic() + 60
        while True:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                break
            except OSError:
                if self.process.poll() is not None or time.monotonic() > deadline:
                    raise AssertionError("uvicorn did not start") from None
                time.sleep(0.1)

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=15)


@pytest.fixture
def web(transactional_db, tmp_path) -> Iterator[WebProcess]:
    server = WebProcess(tmp_path / "artifacts")
    try:
        # Warm up: the first requests import the URL conf, DRF and the views; that memory is not the body's.
        httpx.get(f"{server.url}/api/v1/models/", timeout=30)
        httpx.post(f"{server.url}/api/v1/models/", content=b"{}", timeout=30)
        yield server
    finally:
        server.stop()


def zeros(total: int, sent: list[int]) -> Iterator[bytes]:
    while sent[0] < total:
        sent[0] += len(CHUNK)
        yield CHUNK


def send_gigabyte(url: str, headers: dict[str, str]) -> tuple[int | None, int]:
    """(status or None when the server closed the connection first, bytes the client got to send)."""
    sent = [0]
    if headers.get("Content-Length") == "1000":  # httpx will not send more than it declares: a raw socket will
        port = int(url.split(":")[2].split("/")[0])
        with socket.create_connection(("127.0.0.1", port), timeout=30) as connection:
            connection.sendall(
                b"POST /api/v1/models/ HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                b"Content-Length: 1000\r\n\r\n"
            )
            try:
                for chunk in zeros(1024 * MiB, sent):
                    connection.sendall(chunk)
            except OSError:
                return None, sent[0]
        return None, sent[0]
    try:
        response = httpx.post(url, content=zeros(1024 * MiB, sent), headers=headers, timeout=60)
    except (httpx.WriteError, httpx.RemoteProtocolError, httpx.ReadError):
        return None, sent[0]
    return response.status_code, sent[0]


def read_response(connection: socket.socket) -> tuple[str, str]:
    """One whole HTTP/1.1 response: the head and a body of its Content-Length (TCP may split them over reads)."""
    received = b""
    while b"\r\n\r\n" not in received:
        chunk = connection.recv(65536)
        if not chunk:
            break
        received += chunk
    head, _, body = received.partition(b"\r\n\r\n")
    length = 0
    for line in head.decode("latin-1").split("\r\n")[1:]:
        name, _, value = line.partition(":")
        if name.strip().lower() == "content-length":
            length = int(value.strip())
    while len(body) < length:
        chunk = connection.recv(65536)
        if not chunk:
            break
        body += chunk
    return head.decode("latin-1"), body.decode()


def test_an_oversized_declared_body_gets_a_413_json_before_anything_reads_it(web):
    with socket.create_connection(("127.0.0.1", web.port), timeout=10) as connection:
        connection.sendall(
            b"POST /api/v1/auth/login/ HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
            b"Content-Length: 1073741824\r\n\r\n" + b"{" * 1000
        )
        head, body = read_response(connection)
    assert head.startswith("HTTP/1.1 413"), head
    assert '"field": "body"' in body and "RAYLANE_MAX_REQUEST_BYTES" in body and "is 1 GiB" in body


@pytest.mark.parametrize(
    "headers",
    [{"Content-Length": str(1024 * MiB)}, {}, {"Content-Length": "1000"}],
    ids=["declared", "chunked", "lying-content-length"],
)
def test_an_anonymous_gigabyte_is_refused_early_and_the_web_process_stays_small(web, headers):
    before = peak_rss_kb(web.process.pid)
    status, sent = send_gigabyte(f"{web.url}/api/v1/models/", {"Content-Type": "application/json", **headers})
    growth = peak_rss_kb(web.process.pid) - before
    assert status in (None, 400, 413), status
    assert sent < 256 * MiB, f"the client got to send {sent // MiB} MiB"
    assert growth < RSS_GROWTH_LIMIT_KB, f"the web process grew by {growth // 1024} MiB"
    assert httpx.get(f"{web.url}/api/v1/models/", timeout=10).status_code == 401, "and it still answers"


def test_only_requests_with_credentials_get_the_upload_limit(web):
    status, sent = send_gigabyte(f"{web.url}/api/v1/models/iris/versions/", {"Content-Length": str(1024 * MiB)})
    assert status in (None, 401) and sent < 256 * MiB
    response = httpx.post(f"{web.url}/api/v1/models/iris/versions/", content=b"x" * 10, timeout=10)
    assert response.status_code == 401 and response.json()["code"] == "not_authenticated"


def test_an_authenticated_upload_streams_to_disk_on_the_artifact_volume(web, people, record_testsuite_property):
    model = factories.make_model(people["team"], "big")
    client = factories.client_for(people["deployer"])
    token = client._credentials["HTTP_AUTHORIZATION"]
    assert 64 * MiB <= UPLOAD_BYTES, "RAYLANE_TEST_UPLOAD_BYTES: at least 64 MiB, or the disk check proves nothing"
    total, sent, spooled = UPLOAD_BYTES, [0], []
    probe = total * 2 // 3 // MiB * MiB  # a whole number of chunks: `sent` grows by one chunk at a time
    boundary = "raylane-test-boundary"

    def body() -> Iterator[bytes]:
        yield (
            f'--{boundary}\r\nContent-Disposition: form-data; name="artifact"; filename="big.bin"\r\n'
            "Content-Type: application/octet-stream\r\n\r\n"
        ).encode()
        for chunk in zeros(total, sent):
            yield chunk
            if sent[0] == probe:  # how much of it is on disk now, in a file under the artifact root
                spooled.append(largest_open_file(web.process.pid, web.artifact_root))
        yield f"\r\n--{boundary}--\r\n".encode()

    before = peak_rss_kb(web.process.pid)
    response = httpx.post(
        f"{web.url}/api/v1/models/{model.name}/versions/",
        content=body(),
        headers={"Authorization": token, "Content-Type": f"multipart/form-data; boundary={boundary}"},
        timeout=300,
    )
    growth = peak_rss_kb(web.process.pid) - before
    # In the JUnit XML of `make test-full`: what the full-size run measured.
    record_testsuite_property("upload_bytes", total)
    record_testsuite_property("rss_growth_kb", growth)
    assert response.status_code == 400, response.text  # read whole, then refused by format: zeros are no model
    assert "artifact" in response.text
    assert spooled and spooled[0] >= probe - 32 * MiB, f"only {spooled} bytes on disk after {probe // MiB} MiB sent"
    assert growth < RSS_GROWTH_LIMIT_KB, f"the web process grew by {growth // 1024} MiB"
    leftovers = [p for p in (web.artifact_root / "incoming").iterdir()]
    assert leftovers == [], "spooled files are removed after the request"


def largest_open_file(pid: int, under: Path) -> int:
    """Spooled bodies are anonymous files (O_TMPFILE): find them through the process's descriptors."""
    largest = 0
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            target = os.readlink(fd)
            if target.startswith(str(under)):
                largest = max(largest, fd.stat().st_size)
        except OSError:
            continue
    return largest
