"""Response headers that keep patient data out of caches and pages out of other sites' reach.

- `Cache-Control: no-store` on the API, the OAuth pages and the review pages: they carry patient data
  or credentials (a shared proxy or the browser's disk must not keep them). Responses that set their
  own policy (discovery documents, static files) keep it.
- A Content-Security-Policy on every HTML page: scripts, styles, images and connections only from this
  origin (styles may be inline: the sign-in pages carry theirs), no plug-ins, never framed elsewhere.
  No `form-action`: the consent form's answer is a redirect to the app, which form-action would block.
"""
from __future__ import annotations

PAGE_POLICY = ("default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data: blob:; "
               "connect-src 'self'; object-src 'none'; base-uri 'self'; frame-ancestors 'none'")
PRIVATE_PREFIXES = ("/fhir", "/oauth2/", "/review")
PUBLIC_PATHS = ("/fhir/metadata", "/fhir/.well-known/", "/oauth2/.well-known/")


class SecurityHeadersMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        path = request.path
        if path.startswith(PRIVATE_PREFIXES) and not path.startswith(PUBLIC_PATHS) and "Cache-Control" not in response:
            response["Cache-Control"] = "no-store"
        if response.get("Content-Type", "").startswith("text/html") and "Content-Security-Policy" not in response:
            response["Content-Security-Policy"] = PAGE_POLICY
        return response
