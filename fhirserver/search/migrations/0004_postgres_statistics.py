"""PostgreSQL: multi-column statistics so the planner knows how many rows (type, parameter, code)
has. Per-column statistics multiply independent selectivities and underestimate a code of one type
a hundred-fold, which makes it probe indexes row by row where a hash join is far cheaper."""
from django.db import migrations

STATEMENTS = [
    (
        "CREATE STATISTICS IF NOT EXISTS sx_token_mcv (mcv, dependencies) "
        "ON resource_type, name, code FROM search_token",
        "DROP STATISTICS IF EXISTS sx_token_mcv",
    ),
    (
        "ALTER TABLE search_token ALTER COLUMN code SET STATISTICS 1000",
        "ALTER TABLE search_token ALTER COLUMN code SET STATISTICS -1",
    ),
    (
        "CREATE STATISTICS IF NOT EXISTS sx_ref_mcv (mcv, dependencies) "
        "ON resource_type, name, target_type FROM search_reference",
        "DROP STATISTICS IF EXISTS sx_ref_mcv",
    ),
    (
        "CREATE STATISTICS IF NOT EXISTS sx_quantity_mcv (mcv, dependencies) "
        "ON resource_type, name, code FROM search_quantity",
        "DROP STATISTICS IF EXISTS sx_quantity_mcv",
    ),
]


def create(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        for forward, _ in STATEMENTS:
            schema_editor.execute(forward)


def drop(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        for _, backward in STATEMENTS:
            schema_editor.execute(backward)


class Migration(migrations.Migration):
    dependencies = [("search", "0003_covering_indexes")]
    operations = [migrations.RunPython(create, drop)]
