"""Why a document cannot be read, with the HTTP status the API layer should answer."""
from __future__ import annotations


class DocumentError(Exception):
    """A document the reader refuses: `.status` is 400, 413, 415 or 422 and `.reason` says why."""

    def __init__(self, status: int, reason: str, *, code: str):
        super().__init__(reason)
        self.status = status
        self.reason = reason
        self.code = code  # stable, e.g. "DOCUMENT_ENCRYPTED", for logs and OperationOutcome details


def empty() -> DocumentError:
    return DocumentError(400, "The document is empty", code="DOCUMENT_EMPTY")


def too_large(size: int, limit: int) -> DocumentError:
    return DocumentError(
        413, f"The document is {size:,} bytes; the limit is {limit:,} bytes", code="DOCUMENT_TOO_LARGE"
    )


def too_many_pages(pages: int, limit: int) -> DocumentError:
    return DocumentError(413, f"The document has {pages} pages; the limit is {limit}", code="DOCUMENT_TOO_MANY_PAGES")


def too_many_pixels(number: int, pixels: int, limit: int) -> DocumentError:
    return DocumentError(
        413, f"Page {number} has {pixels:,} pixels; the limit is {limit:,} per page", code="DOCUMENT_TOO_MANY_PIXELS"
    )


def unsupported(what: str) -> DocumentError:
    return DocumentError(
        415,
        f"Unsupported document type ({what}); send PDF, PNG, JPEG, TIFF, WebP or HEIC",
        code="DOCUMENT_UNSUPPORTED_TYPE",
    )


def corrupt(media_type: str, detail: str) -> DocumentError:
    return DocumentError(
        422, f"The {media_type} document is damaged and cannot be read: {detail}", code="DOCUMENT_CORRUPT"
    )


def encrypted() -> DocumentError:
    return DocumentError(422, "The PDF is password-protected; send it without a password", code="DOCUMENT_ENCRYPTED")


def too_much_content(what: str, size: int, limit: int) -> DocumentError:
    return DocumentError(
        413, f"The PDF's {what} inflates to more than {limit:,} bytes (at least {size:,}); a lab report needs far "
        "less", code="DOCUMENT_INFLATES_TOO_MUCH"
    )


def too_many_words(number: int, words: int, limit: int) -> DocumentError:
    return DocumentError(
        413, f"Page {number} has {words:,} words; the limit is {limit:,} per page", code="DOCUMENT_TOO_MANY_WORDS"
    )


def too_slow(seconds: int) -> DocumentError:
    return DocumentError(
        422, f"Reading the document took longer than {seconds} s and was stopped", code="DOCUMENT_TOO_SLOW"
    )


def too_much_memory(limit: int) -> DocumentError:
    return DocumentError(
        413, f"Reading the document needs more memory than a reader may use ({limit // 2**20:,} MiB)",
        code="DOCUMENT_TOO_MUCH_MEMORY"
    )
