from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ("bulk", "0001_initial"),
    ]

    operations = [
        migrations.AddField(model_name="exportjob", name="elements", field=models.JSONField(default=list)),
        migrations.AddField(model_name="exportjob", name="notes", field=models.JSONField(default=list)),
    ]
