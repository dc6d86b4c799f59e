"""Each job datapoint counts its active leases (``JobDatapoint.leases_active``),
counted here for the leases that exist."""

from django.db import migrations, models

COUNT_ACTIVE_LEASES = (
    "UPDATE jobs_jobdatapoint SET leases_active = (SELECT COUNT(*) FROM jobs_lease"
    " WHERE jobs_lease.job_datapoint_id = jobs_jobdatapoint.id AND jobs_lease.status = 'active')"
)


class Migration(migrations.Migration):

    dependencies = [
        ('jobs', '0005_fewer_indexes_on_hot_tables'),
    ]

    operations = [
        migrations.AddField(
            model_name='jobdatapoint',
            name='leases_active',
            field=models.PositiveIntegerField(default=0),
        ),
        migrations.RunSQL(COUNT_ACTIVE_LEASES, migrations.RunSQL.noop),
    ]
