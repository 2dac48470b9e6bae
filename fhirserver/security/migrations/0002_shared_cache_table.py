"""The database table behind the shared cache (settings.CACHES when REDIS_URL is not set): rate-limit
counters, assertion jti replay and JWKS live there, shared by every worker. `createcachetable` does
nothing for tables that exist or for a Redis cache, so this is safe on every database."""
from django.core.management import call_command
from django.db import migrations


def create_cache_table(apps, schema_editor):
    call_command("createcachetable", database=schema_editor.connection.alias, verbosity=0)


class Migration(migrations.Migration):
    dependencies = [("security", "0001_initial")]

    operations = [migrations.RunPython(create_cache_table, migrations.RunPython.noop)]
