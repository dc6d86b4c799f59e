"""Each response records how many graded answers its user score rests on
(``Response.graded_answers``; 0: the score is the prior, not evidence, and
the vote counts for nothing in a compare datapoint's confidence).

Responses stored before carry no count: they take their labeler's graded
answers in the job's audience now. Graded answers only accumulate, and
labelers work in an audience with examples (custom, curated) only once
graduated, so this is 0 exactly for those whose score was the prior when
they answered (the global audience's labelers, who are never graded)."""

from django.db import migrations, models

GRADED_ANSWERS_NOW = (
    "UPDATE jobs_response SET graded_answers = COALESCE((SELECT m.answers FROM audiences_membership m"
    " JOIN jobs_job j ON j.audience_id = m.audience_id"
    " WHERE j.id = jobs_response.job_id AND m.labeler_id = jobs_response.labeler_id), 0)"
)


class Migration(migrations.Migration):

    dependencies = [
        ('audiences', '0004_membership_current_task'),
        ('jobs', '0007_lease_status_released'),
    ]

    operations = [
        migrations.AddField(
            model_name='response',
            name='graded_answers',
            field=models.PositiveIntegerField(
                default=0,
                help_text="graded answers (qualification and gold) behind user_score when submitted; "
                          "0: the score is the prior, not evidence"),
        ),
        migrations.RunSQL(GRADED_ANSWERS_NOW, migrations.RunSQL.noop),
    ]
