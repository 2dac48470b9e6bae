"""The yardstick for read throughput: a bare Django view returning the stored JSON by primary key.

Mounted only by the bench server's URLconf (benchmarks/urls.py); never part of the API.
"""
import json

from django.http import HttpResponse

from fhirserver.storage.models import ResourceRecord


def raw_resource(request, pk: int):
    content = ResourceRecord.objects.filter(pk=pk).values_list("content", flat=True).first()
    return HttpResponse(json.dumps(content, separators=(",", ":")), content_type="application/json")
