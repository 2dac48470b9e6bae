from django.apps import AppConfig


class SearchConfig(AppConfig):
    name = "fhirserver.search"
    label = "search"
