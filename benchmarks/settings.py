"""The bench server's settings: production's, with the yardstick's URLconf (benchmarks/urls.py).

    DJANGO_SETTINGS_MODULE=benchmarks.settings   (rest_bench.py sets it for its gunicorn)
"""
from fhirserver.settings.production import *  # noqa: F401,F403

ROOT_URLCONF = "benchmarks.urls"
