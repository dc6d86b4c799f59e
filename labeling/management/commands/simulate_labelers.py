"""Simulated labelers working over HTTP through the labeler API.

    python manage.py simulate_labelers --audience ID [--job ID] --labelers N --accuracy P
                                       [--until-done] [--base-url URL]

Creates N labeler accounts (with API tokens) and drives each as a browser
would: qualifying for the audience when it is curated or custom, then taking
tasks from its running jobs (or only ``--job``) until none remain. With
``--until-done`` they keep coming back until those jobs are completed.
"""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor

from django.core.management.base import BaseCommand, CommandError
from django.db import close_old_connections, connection

from audiences.models import Audience
from jobs.models import Job
from labeling.simulation import Oracle, SimulatedLabeler, create_labelers


class Command(BaseCommand):
    help = "Create N labelers and have them qualify and work over HTTP, as browsers would."

    def add_arguments(self, parser):
        parser.add_argument("--audience", required=True, help="audience id (e.g. global)")
        parser.add_argument("--job", action="append", default=[], help="job id (repeatable); default: all running")
        parser.add_argument("--labelers", type=int, default=5)
        parser.add_argument("--accuracy", type=float, default=0.9,
                            help="probability that each answer is right (0..1)")
        parser.add_argument("--until-done", action="store_true", help="keep working until the jobs complete")
        parser.add_argument("--base-url", default="http://127.0.0.1:8000")
        parser.add_argument("--timeout", type=float, default=600.0, help="give up after this many seconds")
        parser.add_argument("--prefix", default="sim")

    def handle(self, *args, **options):
        if not 0.0 <= options["accuracy"] <= 1.0:
            raise CommandError("--accuracy must be between 0 and 1")
        if options["labelers"] < 1:
            raise CommandError("--labelers must be at least 1")
        try:
            audience = Audience.objects.get(public_id=options["audience"])
        except Audience.DoesNotExist:
            raise CommandError(f"no audience {options['audience']!r}") from None
        jobs = Job.objects.filter(audience=audience)
        if options["job"]:
            jobs = jobs.filter(public_id__in=options["job"])
            missing = set(options["job"]) - set(jobs.values_list("public_id", flat=True))
            if missing:
                raise CommandError(f"no job {sorted(missing)[0]!r} on audience {audience.public_id!r}")
        else:
            jobs = jobs.filter(state=Job.State.RUNNING)
        job_ids = list(jobs.values_list("public_id", flat=True))

        accounts = create_labelers(options["labelers"], prefix=options["prefix"])
        oracle = Oracle()
        deadline = time.monotonic() + options["timeout"]
        qualify = audience.kind != Audience.Kind.GLOBAL

        def unfinished() -> list[str]:
            close_old_connections()
            return list(Job.objects.filter(public_id__in=job_ids, state=Job.State.RUNNING)
                        .values_list("public_id", flat=True))

        def run(index: int) -> tuple[str, int]:
            username, token = accounts[index]
            labeler = SimulatedLabeler(base_url=options["base_url"], token=token, accuracy=options["accuracy"],
                                       oracle=oracle, seed=username)
            try:
                status = labeler.qualify(audience.public_id) if qualify else "graduated"
                answered = 0
                if status == "graduated":
                    while True:
                        for job_id in job_ids:
                            answered += labeler.work(job_id, stop=lambda: time.monotonic() > deadline)
                        if not options["until_done"] or time.monotonic() > deadline or not unfinished():
                            break
                        time.sleep(1.0)  # leases of others may expire and free slots
                return status, answered
            finally:
                labeler.close()
                connection.close()

        with ThreadPoolExecutor(max_workers=min(16, len(accounts))) as pool:
            outcomes = list(pool.map(run, range(len(accounts))))
        graduated = sum(1 for status, _ in outcomes if status == "graduated")
        self.stdout.write(
            f"{len(accounts)} labelers: {graduated} working, {len(accounts) - graduated} dropped; "
            f"{sum(n for _, n in outcomes)} answers"
        )
        for job in Job.objects.filter(public_id__in=job_ids):
            self.stdout.write(f"  {job.public_id} {job.definition.name}: {job.state}")
        if options["until_done"] and unfinished():
            raise CommandError("timed out before every job completed")
