"""Streaming upload handler: writes the body straight to disk, hashing and counting as it goes.

The size limit is enforced while the bytes arrive (and up front from Content-Length), so an oversized upload is
refused without ever being held in memory or fully written.
"""

import hashlib
import tempfile
from pathlib import Path
from typing import IO, Any

from django.conf import settings
from django.core.files.uploadedfile import UploadedFile
from django.core.files.uploadhandler import FileUploadHandler

from controlplane.core.errors import PayloadTooLarge
from serving.archive import human_bytes

from .storage import incoming_dir


def too_large_message(size: int) -> str:
    limit = settings.RAYLANE_MAX_UPLOAD_BYTES
    return f"artifact is {human_bytes(size)}; the limit is {human_bytes(limit)} (RAYLANE_MAX_UPLOAD_BYTES)"


class HashedUploadedFile(UploadedFile):
    """An upload on disk with its sha256 and size; the temporary file is removed on close unless it was moved."""

    file: IO[bytes]  # always the named temporary file the handler wrote, never None

    def __init__(
        self, file: IO[bytes], name: str | None, content_type: str | None, size: int, charset: str | None, sha256: str
    ) -> None:
        super().__init__(file, name, content_type, size, charset)
        self.sha256 = sha256

    def temporary_file_path(self) -> str:
        return self.file.name

    def close(self) -> None:
        try:
            self.file.close()
        finally:
            Path(self.file.name).unlink(missing_ok=True)


class HashingUploadHandler(FileUploadHandler):
    def handle_raw_input(
        self,
        input_data: IO[bytes],
        META: dict[str, str],
        content_length: int,
        boundary: str,
        encoding: str | None = None,
    ) -> None:
        # Multipart framing adds a little; anything far beyond the limit can be refused before reading a byte.
        if content_length and content_length > settings.RAYLANE_MAX_UPLOAD_BYTES + 1024 * 1024:
            raise PayloadTooLarge(too_large_message(content_length))

    def new_file(self, *args: Any, **kwargs: Any) -> None:
        super().new_file(*args, **kwargs)
        self.file = tempfile.NamedTemporaryFile(dir=incoming_dir(), prefix="upload-", delete=False)  # noqa: SIM115  closed by HashedUploadedFile
        self.digest = hashlib.sha256()
        self.size = 0

    def receive_data_chunk(self, raw_data: bytes, start: int) -> None:
        self.size += len(raw_data)
        if self.size > settings.RAYLANE_MAX_UPLOAD_BYTES:
            self.file.close()
            Path(self.file.name).unlink(missing_ok=True)
            raise PayloadTooLarge(too_large_message(self.size))
        self.digest.update(raw_data)
        self.file.write(raw_data)

    def file_complete(self, file_size: int) -> HashedUploadedFile:
        self.file.flush()
        self.file.seek(0)
        return HashedUploadedFile(
            self.file, self.file_name, self.content_type, self.size, self.charset, self.digest.hexdigest()
        )
