"""Re-aggregate results that fell behind their responses, and complete jobs
whose results are all in: the same sweep celery beat runs periodically."""

from django.core.management.base import BaseCommand

from jobs import result_updates
from jobs.tasks import publish_aggregation


class Command(BaseCommand):
    help = "Re-enqueue stale datapoint results (or aggregate them here with --inline) and finish done jobs."

    def add_arguments(self, parser):
        parser.add_argument(
            "--inline", action="store_true", help="aggregate in this process instead of enqueueing Celery tasks"
        )

    def handle(self, *args, inline: bool = False, **options):
        def aggregate_here(pk: int) -> None:
            result_updates.datapoint_aggregate(job_datapoint_id=pk)

        summary = result_updates.results_sweep(enqueue=aggregate_here if inline else publish_aggregation)
        self.stdout.write(f"requeued {summary['requeued']} stale result(s); completed {summary['completed']} job(s)")
