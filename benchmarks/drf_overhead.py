"""Why the FHIR endpoint is a plain Django view and not a Django REST framework APIView (docs/benchmarks.md).

The same JSON returned by a plain Django view and by a DRF APIView with its JSON renderer and no
authentication, called in this process with RequestFactory (no middleware, no database), alternating;
prints the lowest of 5 rounds of CPU time per request and the ratio.

    .venv/bin/pip install djangorestframework   (no longer a requirement of the server)
    .venv/bin/python benchmarks/drf_overhead.py
"""
from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "fhirserver.settings.test")

import django  # noqa: E402

django.setup()

from django.http import HttpResponse  # noqa: E402
from django.test import RequestFactory  # noqa: E402
from rest_framework.renderers import JSONRenderer  # noqa: E402
from rest_framework.response import Response  # noqa: E402
from rest_framework.views import APIView  # noqa: E402

PATIENT = {"resourceType": "Patient", "id": "p1", "name": [{"family": "Doe", "given": ["Ada"]}], "gender": "female",
           "birthDate": "1970-01-02", "identifier": [{"system": "urn:mrn", "value": "MRN-1"}]}


def plain(request):
    return HttpResponse(json.dumps(PATIENT, separators=(",", ":")), content_type="application/fhir+json")


class DrfPatient(APIView):
    authentication_classes: list = []
    permission_classes: list = []
    renderer_classes = [JSONRenderer]

    def get(self, request):
        return Response(PATIENT)


def microseconds(view, n: int = 5000) -> float:
    factory = RequestFactory()
    started = time.process_time()
    for _ in range(n):
        response = view(factory.get("/fhir/Patient/p1"))
        if hasattr(response, "render"):
            response.render()
    return (time.process_time() - started) / n * 1e6


def main() -> None:
    drf = DrfPatient.as_view()
    rounds = {"plain": [], "drf": []}
    for _ in range(5):
        rounds["plain"].append(microseconds(plain))
        rounds["drf"].append(microseconds(drf))
    best = {name: min(values) for name, values in rounds.items()}
    print(f"plain Django view {best['plain']:.1f} us, DRF APIView {best['drf']:.1f} us CPU per request "
          f"(lowest of 5); DRF/plain {best['drf'] / best['plain']:.2f}x")


if __name__ == "__main__":
    main()
