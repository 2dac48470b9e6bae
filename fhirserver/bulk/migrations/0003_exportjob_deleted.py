from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ("bulk", "0002_exportjob_elements_notes"),
    ]

    operations = [
        migrations.AddField(model_name="exportjob", name="deleted", field=models.JSONField(default=list)),
    ]
