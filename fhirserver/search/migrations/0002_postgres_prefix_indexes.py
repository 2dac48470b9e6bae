"""PostgreSQL: prefix searches (`LIKE 'abc%'`) can only use a btree built with *_pattern_ops
under a non-C collation; SQLite's LIKE is served by the plain index (or a scan) either way."""
from django.db import migrations

INDEXES = [
    ("sx_string_prefix", "search_string", "resource_type, name, value varchar_pattern_ops"),
    ("sx_uri_prefix", "search_uri", "resource_type, name, uri varchar_pattern_ops"),
]


def create(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        for name, table, columns in INDEXES:
            schema_editor.execute(f"CREATE INDEX IF NOT EXISTS {name} ON {table} ({columns})")


def drop(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        for name, _, _ in INDEXES:
            schema_editor.execute(f"DROP INDEX IF EXISTS {name}")


class Migration(migrations.Migration):
    dependencies = [("search", "0001_initial")]
    operations = [migrations.RunPython(create, drop)]
