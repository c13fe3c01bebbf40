"""One uploaded file from a multipart body (field ``file``), read within a size limit.

The declared length is checked before the multipart parser spools anything, so an
oversized upload costs no disk or memory; the read itself stops one byte past the limit.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from fastapi import Request
from starlette.datastructures import UploadFile
from starlette.exceptions import HTTPException

from vocable.api.errors import ApiError

MULTIPART_OVERHEAD = 64 * 1024
"""Multipart framing around the file: boundaries, part headers, the file name."""


@dataclass(frozen=True, slots=True)
class Upload:
    data: bytes
    """At most the limit plus one byte: a longer file is cut, and the feature refuses it."""
    filename: str | None


async def read_upload(
    request: Request, *, max_bytes: int, too_large: Callable[[], Exception]
) -> Upload:
    """The body's ``file`` part; ``too_large()`` is raised for a declared length over the
    limit, 411 without a length, 422 (field ``file``) when the part is missing."""
    declared = request.headers.get("content-length")
    if declared is None or not declared.isdigit():
        raise ApiError(411, "length_required", "Send the upload with a Content-Length header")
    if int(declared) > max_bytes + MULTIPART_OVERHEAD:
        raise too_large()
    try:
        form = await request.form(max_files=1, max_fields=4)
    except HTTPException as e:
        if e.status_code != 400:
            raise
        # the multipart parser refused the body (a part's headers or name too long,
        # broken framing): the file is what the caller got wrong
        raise _bad_file(f"the upload could not be read ({e.detail})") from None
    try:
        upload = form.get("file")
        if not isinstance(upload, UploadFile):
            raise _bad_file("a file is required")
        return Upload(data=await upload.read(max_bytes + 1), filename=upload.filename)
    finally:
        await form.close()


def _bad_file(message: str) -> ApiError:
    """422 naming the ``file`` field."""
    return ApiError(
        422,
        "invalid_request",
        "Invalid request: check file",
        errors=[{"field": "file", "message": message}],
    )
