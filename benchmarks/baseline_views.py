"""The yardstick for read throughput: a bare Django view returning the stored JSON by primary key.

Mounted only when FHIR_BENCH_BASELINE=1 (see fhirserver/urls.py); never part of the API.
"""
from django.http import HttpResponse

from fhirserver.storage.models import ResourceRecord


def raw_resource(request, pk: int):
    content = ResourceRecord.objects.filter(pk=pk).values_list("content", flat=True).first()
    import json

    return HttpResponse(json.dumps(content, separators=(",", ":")), content_type="application/json")
