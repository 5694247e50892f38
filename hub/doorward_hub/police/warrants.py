"""Warrant documents: attached to a request by the agency, read by the person answering.

The agency's hub encrypts the document as a Matrix attachment (as a post's video:
`encrypt_attachment`, AES-CTR, the key and hash in the request's `warrant.file` block) and
uploads the ciphertext; the homeserver never sees the document. A household hub downloads and
decrypts it only when a person asks for it, and logs that. Only PDF, PNG and JPEG documents are
accepted, checked by their first bytes, so the household's hub never serves anything a browser
would run.
"""

from __future__ import annotations

import asyncio
import io

from nio.client.async_client import AsyncClient
from nio.crypto.attachments import encrypt_attachment
from nio.responses import MemoryDownloadResponse, UploadResponse

from ..neighborhood.account import checked
from ..neighborhood.errors import MatrixError
from .event_types import WarrantDocument
from .evidence import decrypt_clip
from .warrant_documents import MAX_WARRANT_BYTES, InvalidWarrant, WarrantFile, check_warrant


async def upload_warrant(
    client: AsyncClient, filename: str, mimetype: str, data: bytes
) -> WarrantDocument:
    """Encrypt the document, upload the ciphertext, describe it for the request."""
    check_warrant(filename, mimetype, data)
    ciphertext, keys = await asyncio.to_thread(encrypt_attachment, data)
    response, _ = await client.upload(
        io.BytesIO(ciphertext),
        content_type="application/octet-stream",
        filename="warrant.bin",
        filesize=len(ciphertext),
    )
    uploaded = checked(response, "uploading the warrant document")
    assert isinstance(uploaded, UploadResponse)
    block = {"url": str(uploaded.content_uri), "mimetype": mimetype, **dict(keys)}
    return WarrantDocument(block, filename, mimetype, len(data))


async def download_warrant(client: AsyncClient, warrant: WarrantDocument) -> WarrantFile:
    """Download and decrypt the document; `MatrixError` if it cannot be had intact."""
    response = await client.download(str(warrant.file["url"]))
    if not isinstance(response, MemoryDownloadResponse):
        raise MatrixError("downloading the warrant document failed")
    if len(response.body) > MAX_WARRANT_BYTES + 64:
        raise MatrixError("the warrant document is larger than a warrant may be")
    data = await asyncio.to_thread(decrypt_clip, response.body, warrant.file)
    if data is None:
        raise MatrixError("the warrant document does not decrypt (altered or wrong key)")
    try:
        check_warrant(warrant.filename, warrant.mimetype, data)
    except InvalidWarrant as err:
        raise MatrixError(f"the warrant document is not acceptable: {err}") from err
    return WarrantFile(warrant.filename, warrant.mimetype, data)
