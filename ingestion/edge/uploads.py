"""The three ways a client sends a document to `$digitize`, read into one `Upload`.

- `multipart/form-data` with a `file` part (and optional `subject`, `encounter`, `performer`,
  `category`, `date-order` fields), as a browser form or `curl -F` sends it;
- a raw body in the document's own media type (`application/pdf`, `image/jpeg`, ...);
- a FHIR `Parameters` resource: `document` (valueAttachment with `contentType` + base64 `data`, or a
  `url` naming a stored Binary) and optional `subject`/`encounter`/`performer` (valueReference) and
  `category` (valueCode/valueString/valueCodeableConcept) and `date-order` (valueCode DMY/MDY/YMD);
  a raw body takes `date-order` as a URL parameter.
"""
from __future__ import annotations

import base64
import binascii
import email.parser
import email.policy

from fhirserver.core import guard
from fhirserver.core.errors import FhirError, bad_request
from fhirserver.core.request import FhirRequest
from fhirserver.storage import repository
from ingestion.digitize import Upload  # noqa: F401 - the service's input, built here
from ingestion.understanding.dates import DATE_ORDERS
from resources.validation import is_valid_id

JSON_TYPES = {"application/fhir+json", "application/json", "application/json+fhir"}


def read_upload(request: FhirRequest, *, max_bytes: int) -> Upload:
    """The document and options of a `$digitize` request; 4xx FhirError when there is none or it is too big."""
    media = (request.content_type or "").split(";")[0].strip().lower()
    if len(request.raw_body) > max_bytes * 3 // 2 + 65536:  # more than even a base64 Parameters body needs
        raise upload_too_large(len(request.raw_body), max_bytes)
    if media == "multipart/form-data":
        upload = _from_multipart(request)
    elif media in JSON_TYPES:
        upload = _from_parameters(request)
    elif request.raw_body:
        upload = Upload(data=request.raw_body, media_type=media or "application/octet-stream",
                        filename=clean_filename(_filename(request.header("content-disposition") or "")))
    else:
        raise bad_request(
            "$digitize needs a document: a multipart 'file' part, a raw PDF/image body, or Parameters.document",
            code="DIGITIZE_NO_DOCUMENT",
        )
    if not upload.subject and request.kind == "operation-instance" and request.resource_type == "Patient":
        upload.subject = f"Patient/{request.id}"
    elif (
        request.kind == "operation-instance"
        and request.resource_type == "Patient"
        and upload.subject != f"Patient/{request.id}"
    ):
        raise bad_request(
            f"subject {upload.subject} contradicts the URL's Patient/{request.id}", code="DIGITIZE_SUBJECT_CONFLICT"
        )
    if upload.subject:
        upload.subject = _reference(upload.subject, "subject", ("Patient",))
    if upload.encounter:
        upload.encounter = _reference(upload.encounter, "encounter", ("Encounter",))
    if upload.performer:
        upload.performer = _reference(
            upload.performer, "performer", ("Organization", "Practitioner", "PractitionerRole")
        )
    if not upload.date_order:
        upload.date_order = next((v for k, v in request.query if k == "date-order"), None)
    if upload.date_order:
        upload.date_order = upload.date_order.strip().upper()
        if upload.date_order not in DATE_ORDERS:
            raise bad_request(f"date-order must be one of {', '.join(DATE_ORDERS)}, not '{upload.date_order}'",
                              code="DIGITIZE_BAD_DATE_ORDER", expression=["date-order"])
    if not upload.data:
        raise bad_request("The document is empty", code="DOCUMENT_EMPTY")
    if len(upload.data) > max_bytes:
        raise too_large(len(upload.data), max_bytes)
    return upload


def sniff_media_type(data: bytes) -> str:
    """What the bytes are (PDF or an image type); 4xx FhirError for anything that is not a document at all.

    The one sniff of an upload: the job keeps its answer and the reader is handed it."""
    # The reader package (OpenCV, pdfplumber, pypdfium2) loads with the first upload, not at start-up.
    from ingestion.reader.errors import DocumentError
    from ingestion.reader.sniff import media_type

    try:
        return media_type(data)
    except DocumentError as exc:  # empty, text, ZIP, ...: refused before anything is stored
        raise FhirError(
            exc.status, exc.reason, issue_code="not-supported" if exc.status == 415 else "invalid", code=exc.code
        ) from None


def too_large(size: int, limit: int) -> FhirError:
    return FhirError(413, f"The document is {size:,} bytes; the limit is {limit:,} bytes ({_mib(limit)})",
                     issue_code="too-costly", code="DOCUMENT_TOO_LARGE")


def upload_too_large(size: int, limit: int) -> FhirError:
    """An upload whose body alone is over what any document within the limit can take (even as base64)."""
    return FhirError(413, f"The upload is {size:,} bytes: too large for a document, the limit is {limit:,} bytes "
                          f"({_mib(limit)})", issue_code="too-costly", code="DOCUMENT_TOO_LARGE")


def _mib(size: int) -> str:
    return f"{size / 1048576:g} MiB"


def _reference(value: str, name: str, types: tuple[str, ...]) -> str:
    value = value.strip()
    resource_type, _, id = value.partition("/")
    if resource_type not in types or not is_valid_id(id):
        raise bad_request(
            f"{name} must be a reference like {types[0]}/123, not '{value}'",
            code="DIGITIZE_BAD_REFERENCE",
            expression=[name],
        )
    return value


def _filename(disposition: str) -> str:
    for part in disposition.split(";"):
        key, _, value = part.strip().partition("=")
        if key.lower() == "filename":
            return value.strip('"')
    return ""


# --- multipart -----------------------------------------------------------------------------------
def _from_multipart(request: FhirRequest) -> Upload:
    if "boundary=" not in request.content_type:
        raise bad_request("multipart/form-data without a boundary", code="DIGITIZE_BAD_MULTIPART")
    head = f"Content-Type: {request.content_type}\r\nMIME-Version: 1.0\r\n\r\n".encode()
    message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(head + request.raw_body)
    if not message.is_multipart():
        raise bad_request("The multipart body could not be parsed", code="DIGITIZE_BAD_MULTIPART")
    fields: dict[str, list[str]] = {}
    upload: Upload | None = None
    upload_name = ""
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        if not name:
            continue
        payload = part.get_payload(decode=True) or b""
        if name in ("file", "document") and (upload is None or upload_name not in ("file", "document")):
            upload, upload_name = _part_upload(part, payload), name
        elif part.get_filename() and upload is None:  # a form that names its file field otherwise ("report", "upload")
            upload, upload_name = _part_upload(part, payload), name
        else:
            fields.setdefault(name, []).append(payload.decode("utf-8", "replace").strip())
    if upload is None:
        raise bad_request("The multipart body has no 'file' part", code="DIGITIZE_NO_DOCUMENT", expression=["file"])
    upload.subject = _first(fields, "subject")
    upload.encounter = _first(fields, "encounter")
    upload.performer = _first(fields, "performer")
    upload.category = [c for c in fields.get("category", []) if c]
    upload.date_order = _first(fields, "date-order")
    return upload


def _part_upload(part, payload: bytes) -> Upload:
    return Upload(
        data=payload,
        media_type=part.get_content_type() or "application/octet-stream",
        filename=clean_filename(part.get_filename() or ""),
    )


def _first(fields: dict[str, list[str]], name: str) -> str | None:
    values = [v for v in fields.get(name, []) if v]
    return values[0] if values else None


# --- Parameters ----------------------------------------------------------------------------------
def _from_parameters(request: FhirRequest) -> Upload:
    body = request.body
    if not isinstance(body, dict) or body.get("resourceType") != "Parameters":
        raise bad_request("A JSON body for $digitize must be a Parameters resource with a 'document' parameter",
                          code="DIGITIZE_NOT_PARAMETERS")
    params = _parameter_list(body)
    document = next((p for p in params if p.get("name") == "document"), None)
    if document is None or not isinstance(document.get("valueAttachment"), dict):
        raise bad_request("Parameters has no 'document' parameter with a valueAttachment", code="DIGITIZE_NO_DOCUMENT",
                          expression=["Parameters.parameter.where(name='document')"])
    attachment = document["valueAttachment"]
    for name in ("data", "url", "contentType", "title"):
        if name in attachment and not isinstance(attachment[name], str):
            raise bad_request(f"document.valueAttachment.{name} must be a string", code="DIGITIZE_BAD_PARAMETERS",
                              expression=[f"Parameters.parameter.where(name='document').valueAttachment.{name}"])
    if attachment.get("data"):
        try:
            data = base64.b64decode(attachment["data"], validate=True)
        except (binascii.Error, ValueError):
            raise bad_request("document.valueAttachment.data is not valid base64", code="DIGITIZE_BAD_BASE64") from None
        media = attachment.get("contentType") or "application/octet-stream"
    elif attachment.get("url"):
        data, media = _stored_binary(request, attachment["url"])
    else:
        raise bad_request(
            "document.valueAttachment needs 'data' (base64) or a 'url' to a stored Binary", code="DIGITIZE_NO_DOCUMENT"
        )
    upload = Upload(data=data, media_type=media, filename=clean_filename(attachment.get("title") or ""))
    for p in params:
        name = p.get("name")
        if name in ("subject", "encounter", "performer"):
            setattr(upload, name, _text(_reference_value(p, name), name))
        elif name == "date-order":
            upload.date_order = _text(p.get("valueCode") or p.get("valueString"), name)
        elif name == "category":
            concept = p.get("valueCodeableConcept") or {}
            codings = concept.get("coding", []) if isinstance(concept, dict) else None
            if not isinstance(codings, list):
                raise bad_request("category.valueCodeableConcept must be a CodeableConcept", expression=[
                    "Parameters.parameter.where(name='category')"], code="DIGITIZE_BAD_PARAMETERS")
            code = (
                p.get("valueCode")
                or p.get("valueString")
                or next((c.get("code") for c in codings if isinstance(c, dict)), None)
                or concept.get("text")
            )
            if code:
                upload.category.append(_text(code, "category"))
    return upload


def _parameter_list(body: dict) -> list[dict]:
    """Parameters.parameter as a list of objects, or a 400 that says what shape it must have."""
    params = body.get("parameter", [])
    if not isinstance(params, list) or not all(isinstance(p, dict) for p in params):
        raise bad_request("Parameters.parameter must be an array of objects with a 'name'",
                          code="DIGITIZE_BAD_PARAMETERS", expression=["Parameters.parameter"])
    return params


def _reference_value(parameter: dict, name: str):
    reference = parameter.get("valueReference")
    if reference is not None:
        if not isinstance(reference, dict):
            raise bad_request(f"{name}.valueReference must be a Reference object", code="DIGITIZE_BAD_PARAMETERS",
                              expression=[f"Parameters.parameter.where(name='{name}').valueReference"])
        return reference.get("reference")
    return parameter.get("valueString")


def _text(value, name: str) -> str | None:
    if value is None or isinstance(value, str):
        return value
    raise bad_request(f"{name} must be given as text", code="DIGITIZE_BAD_PARAMETERS",
                      expression=[f"Parameters.parameter.where(name='{name}')"])


def clean_filename(name: str) -> str:
    """A client's file name as stored text: no NUL or other control characters, no folders, 255 at most."""
    name = "".join(c for c in name if c.isprintable()).replace("\\", "/").rsplit("/", 1)[-1]
    return name.strip()[:255]


def _stored_binary(request: FhirRequest, url: str) -> tuple[bytes, str]:
    path = url.split("/fhir/", 1)[-1] if "://" in url else url
    resource_type, _, id = path.strip("/").partition("/")
    if resource_type != "Binary" or not id:
        raise bad_request(f"document.valueAttachment.url must name a stored Binary (Binary/<id>), not '{url}'",
                          code="DIGITIZE_BAD_URL")
    binary = repository.read("Binary", id.split("/")[0]).content
    guard.check(request, "read", "Binary", binary)
    return base64.b64decode(binary.get("data", "")), binary.get("contentType") or "application/octet-stream"
