"""Rebuild the search index of stored resources: `python manage.py reindex [--type Observation ...]`."""
from django.core.management.base import BaseCommand

from fhirserver.search.indexer import reindex


class Command(BaseCommand):
    help = "Rewrite the search index rows of every current resource (after definitions change)."

    def add_arguments(self, parser):
        parser.add_argument("--type", action="append", dest="types", help="only this resource type (repeatable)")
        parser.add_argument("--batch", type=int, default=500)

    def handle(self, *args, types=None, batch=500, **options):
        count = reindex(types=types, batch=batch)
        self.stdout.write(f"reindexed {count} resources")
