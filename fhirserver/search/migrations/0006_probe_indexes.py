"""Record-first indexes on the date and quantity tables (they replace the plain foreign-key index):
probing one record's value for a page driven by another condition, and the sort keys' correlated
subqueries, become index-only. PostgreSQL: the token statistics also cover `system`, so
`code=http://loinc.org|718-7` is estimated as well as `code=718-7` (the total estimate scales it)."""
import django.db.models.deletion
from django.db import migrations, models

STATISTICS = [
    ("DROP STATISTICS IF EXISTS sx_token_mcv; "
     "CREATE STATISTICS sx_token_mcv (mcv, dependencies) ON resource_type, name, code, system FROM search_token",
     "DROP STATISTICS IF EXISTS sx_token_mcv; "
     "CREATE STATISTICS sx_token_mcv (mcv, dependencies) ON resource_type, name, code FROM search_token"),
]


def statistics(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        for forward, _ in STATISTICS:
            schema_editor.execute(forward)


def statistics_back(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        for _, backward in STATISTICS:
            schema_editor.execute(backward)


class Migration(migrations.Migration):

    dependencies = [
        ('search', '0005_location_near_position_index'),
        ('storage', '0002_resource_json_text'),
    ]

    operations = [
        migrations.AddIndex(
            model_name="dateindex",
            index=models.Index(fields=["record", "name", "high", "low"], name="sx_date_probe"),
        ),
        migrations.AddIndex(
            model_name="quantityindex",
            index=models.Index(fields=["record", "name", "value"], name="sx_quantity_probe"),
        ),
        migrations.AlterField(
            model_name="dateindex",
            name="record",
            field=models.ForeignKey(
                db_index=False,
                on_delete=django.db.models.deletion.CASCADE,
                related_name="+",
                to="storage.resourcerecord",
            ),
        ),
        migrations.AlterField(
            model_name="quantityindex",
            name="record",
            field=models.ForeignKey(
                db_index=False,
                on_delete=django.db.models.deletion.CASCADE,
                related_name="+",
                to="storage.resourcerecord",
            ),
        ),
        migrations.RunPython(statistics, statistics_back),
    ]
