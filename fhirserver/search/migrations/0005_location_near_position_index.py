"""search_position: Location.position as latitude/longitude rows, for the `near` parameter."""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('search', '0004_postgres_statistics'),
        ('storage', '0002_resource_json_text'),
    ]

    operations = [
        migrations.CreateModel(
            name="PositionIndex",
            fields=[
                ("id", models.BigAutoField(primary_key=True, serialize=False)),
                ("resource_type", models.CharField(max_length=64)),
                ("name", models.CharField(max_length=64)),
                ("latitude", models.FloatField()),
                ("longitude", models.FloatField()),
                (
                    "record",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE, related_name="+", to="storage.resourcerecord"
                    ),
                ),
            ],
            options={
                "db_table": "search_position",
                "indexes": [
                    models.Index(
                        fields=["resource_type", "name", "latitude", "longitude", "record"], name="sx_position_lat_r"
                    )
                ],
            },
        ),
    ]
