from django.apps import AppConfig


class StorageConfig(AppConfig):
    name = "fhirserver.storage"
    label = "storage"
