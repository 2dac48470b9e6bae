"""The server's own pages outside the API: a landing page at `/` that says where everything is, and the
project's documentation (docs/*.md) rendered at /docs/, so a newcomer's browser finds both offline."""
from __future__ import annotations

import re
from pathlib import Path

from django.conf import settings
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from fhirserver.api.http import base_url

DOC_NAME = re.compile(r"^[a-z0-9][a-z0-9-]*$")
IMAGE_NAME = re.compile(r"^[a-z0-9][a-z0-9-]*\.png$")


def docs_dir() -> Path:
    return Path(settings.BASE_DIR) / "docs"


@require_GET
def home(request: HttpRequest) -> HttpResponse:
    api = base_url(request)
    documents = sorted(p.stem for p in docs_dir().glob("*.md"))
    return render(request, "site/home.html", {"api": api, "documents": documents})


@require_GET
def document(request: HttpRequest, name: str = "") -> HttpResponse:
    import markdown

    path = Path(settings.BASE_DIR) / "README.md" if not name else docs_dir() / f"{name}.md"
    if name and not DOC_NAME.match(name) or not path.is_file():
        raise Http404(name)
    text = path.read_text(encoding="utf-8")
    # Links between the documents point at their .md files (as on a code host); here they are pages.
    text = re.sub(r"\]\((?:docs/)?([a-z0-9-]+)\.md(#[^)]*)?\)", lambda m: f"](/docs/{m[1]}{m[2] or ''})", text)
    text = re.sub(r"\]\((?:docs/)?images/", "](/docs/images/", text)
    html = markdown.markdown(text, extensions=["tables", "fenced_code", "toc"])
    return render(request, "site/document.html", {"title": name or "README", "html": html})


@require_GET
def image(request: HttpRequest, name: str) -> FileResponse:
    path = docs_dir() / "images" / name
    if not IMAGE_NAME.match(name) or not path.is_file():
        raise Http404(name)
    return FileResponse(path.open("rb"), content_type="image/png")
