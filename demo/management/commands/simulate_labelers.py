"""Simulated labelers working over HTTP through the labeler API.

    python manage.py simulate_labelers [--audience ID ...] [--job ID ...] [--labelers N] [--accuracy P]
                                       [--until-done | --watch] [--timeout S] [--base-url URL]
                                       [--poll S] [--progress S] [--quiet] [--prefix NAME]

Creates N labeler accounts (with API tokens) and drives them all at once,
as browsers would (``demo.crowd``): each qualifies for a custom or
curated audience when one of its jobs needs it (once), then takes tasks
until the job has none left for it.

- By default they work the running jobs of the audiences given (all
  audiences when none is), or only ``--job``, as far as each goes, once.
- ``--until-done``: they keep coming back until those jobs are completed
  (an error if ``--timeout`` comes first).
- ``--watch``: a crowd beside the server, serving every running job of the
  audiences as jobs appear (the database is read every ``--poll`` seconds)
  until stopped (Ctrl-C, SIGTERM) or ``--timeout``.

The command runs with the server's settings: it reads the jobs, and the
truths that decide what a good labeler answers, in the server's database.
A summary (answers, retries, refusals per status, labelers qualified and
dropped per audience, jobs completed) is printed at the end, on a stop too.
"""

from __future__ import annotations

import signal
import threading
import time

from django.core.management.base import BaseCommand, CommandError
from django.db import DatabaseError, close_old_connections, connection

from audiences.models import Audience
from demo.crowd import Crowd, JobBoard, JobInfo, running_jobs
from demo.simulation import Oracle, create_labelers
from jobs.models import Job

ORACLE_WORKERS = 4
DEFAULT_TIMEOUT = 600.0  # without --watch
JOIN_SECONDS = 35.0  # a labeler's request in flight may take its timeout (30 s) to give up
EXHAUSTED_GRACE = 10.0  # seconds --until-done waits for a job's last results once no labeler can give more


class Command(BaseCommand):
    help = (
        "Create N labelers and have them qualify and work over HTTP, as browsers would; "
        "with --watch, keep a crowd serving every running job as jobs appear."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--audience",
            action="append",
            default=[],
            metavar="ID",
            help="audience id (repeatable, e.g. global); default: every audience",
        )
        parser.add_argument(
            "--job",
            action="append",
            default=[],
            metavar="ID",
            help="job id (repeatable); default: every running job of the audiences",
        )
        parser.add_argument("--labelers", type=int, default=5, help="how many labelers (default 5)")
        parser.add_argument(
            "--accuracy", type=float, default=0.9, help="probability that each answer is right, 0..1 (default 0.9)"
        )
        mode = parser.add_mutually_exclusive_group()
        mode.add_argument(
            "--until-done", action="store_true", help="keep working until the jobs are completed (or --timeout)"
        )
        mode.add_argument(
            "--watch",
            action="store_true",
            help="serve every running job of the audiences as jobs appear, until stopped "
            "(Ctrl-C, SIGTERM) or --timeout",
        )
        parser.add_argument("--base-url", default="http://127.0.0.1:8000", help="the server (default %(default)s)")
        parser.add_argument(
            "--timeout",
            type=float,
            default=None,
            help=f"stop after this many seconds (default {DEFAULT_TIMEOUT:g}; with --watch: none)",
        )
        parser.add_argument(
            "--poll", type=float, default=1.0, help="seconds between looks for jobs in the database (default 1)"
        )
        parser.add_argument(
            "--progress",
            type=float,
            default=10.0,
            help="seconds between progress lines with --until-done or --watch (0: none)",
        )
        parser.add_argument("--quiet", action="store_true", help="no progress lines: only the summary")
        parser.add_argument("--prefix", default="sim", help="prefix of the labelers' usernames")

    # --- arguments -----------------------------------------------------------------------------------

    def _check(self, options) -> tuple[list[str], list[str] | None]:
        if not 0.0 <= options["accuracy"] <= 1.0:
            raise CommandError(f"--accuracy must be between 0 and 1, not {options['accuracy']:g}")
        if options["labelers"] < 1:
            raise CommandError(f"--labelers must be at least 1, not {options['labelers']}")
        if options["timeout"] is not None and not options["timeout"] > 0:
            raise CommandError(f"--timeout must be a positive number of seconds, not {options['timeout']:g}")
        if not options["poll"] > 0:
            raise CommandError(f"--poll must be a positive number of seconds, not {options['poll']:g}")
        if not options["progress"] >= 0:
            raise CommandError(f"--progress must be 0 (none) or more seconds, not {options['progress']:g}")
        if not options["base_url"].startswith(("http://", "https://")):
            raise CommandError(f"--base-url must be an http:// or https:// URL, not {options['base_url']!r}")
        if options["watch"] and options["job"]:
            raise CommandError(
                "--watch serves every running job of the audiences as jobs appear; "
                "it takes no --job (use --until-done to work given jobs to the end)"
            )
        audiences = list(dict.fromkeys(options["audience"]))
        known = set(Audience.objects.filter(public_id__in=audiences).values_list("public_id", flat=True))
        missing = [audience for audience in audiences if audience not in known]
        if missing:
            raise CommandError(f"no audience {missing[0]!r}")
        if not options["job"]:
            return audiences, None
        job_ids = list(dict.fromkeys(options["job"]))
        jobs = Job.objects.filter(public_id__in=job_ids)
        if audiences:
            jobs = jobs.filter(audience__public_id__in=audiences)
        found = dict(jobs.values_list("public_id", "state"))
        missing = [job for job in job_ids if job not in found]
        if missing:
            where = f" on audience {', '.join(map(repr, audiences))}" if audiences else ""
            raise CommandError(f"no job {missing[0]!r}{where}")
        return audiences, job_ids

    # --- running -------------------------------------------------------------------------------------

    def handle(self, *args, **options):
        audiences, job_ids = self._check(options)
        watch, until_done = options["watch"], options["until_done"]
        timeout = options["timeout"] if options["timeout"] is not None else (None if watch else DEFAULT_TIMEOUT)
        self.quiet = options["quiet"]
        self.seen: dict[str, JobInfo] = {}
        self.completed: list[JobInfo] = []
        self.last_progress = ""

        board = JobBoard()
        if not watch:
            jobs = running_jobs(audiences=audiences, jobs=job_ids)
            if not jobs:
                which = (
                    "of the jobs given"
                    if job_ids
                    else (f"on audience {', '.join(map(repr, audiences))}" if audiences else "on any audience")
                )
                raise CommandError(f"no running job {which}: start one, or use --watch to wait for jobs")
            self._publish(board, jobs)
            job_ids = list(jobs)  # these, and no job started later

        accounts = create_labelers(options["labelers"], prefix=options["prefix"])
        oracle = Oracle(workers=min(ORACLE_WORKERS, len(accounts)))
        crowd = Crowd(
            base_url=options["base_url"],
            accounts=accounts,
            accuracy=options["accuracy"],
            oracle=oracle,
            board=board,
            persist=watch or until_done,
        )
        stop = threading.Event()
        self.stopping = False
        restore = self._on_signals(stop.set)
        started = time.monotonic()
        deadline = None if timeout is None else started + timeout
        timed_out = interrupted = False
        exhausted_since, exhausted = None, []
        try:
            if watch:
                scope = ", ".join(audiences) if audiences else "every audience"
                self._say(f"watching {scope} with {len(accounts)} labelers at {options['base_url']} (Ctrl-C to stop)")
                self._publish(board, running_jobs(audiences=audiences))
            crowd.start()
            next_progress = started + options["progress"]
            while True:
                if deadline is not None and time.monotonic() >= deadline:
                    timed_out = True
                    break
                if not (watch or until_done) and not crowd.working():
                    break
                if until_done and not board.jobs():
                    break
                if until_done and crowd.exhausted(board.jobs()):
                    # Each labeler gave all it can: wait a little for the last results, then say so.
                    exhausted_since = exhausted_since or time.monotonic()
                    if time.monotonic() - exhausted_since > EXHAUSTED_GRACE:
                        exhausted = [job.id for job in board.jobs()]
                        break
                else:
                    exhausted_since = None
                wait = options["poll"] if deadline is None else min(options["poll"], deadline - time.monotonic())
                if stop.wait(max(wait, 0.0)):
                    interrupted = True
                    break
                if watch or until_done:
                    try:
                        self._publish(board, running_jobs(audiences=audiences, jobs=job_ids))
                    except DatabaseError as exc:  # the database restarting, say: look again next time
                        self.stderr.write(f"could not read the jobs: {exc}".strip())
                        close_old_connections()
                        connection.close()
                    if options["progress"] and time.monotonic() >= next_progress:
                        next_progress = time.monotonic() + options["progress"]
                        self._progress(crowd, board, started)
        except KeyboardInterrupt:
            interrupted = True
        finally:
            self.stopping = True
            crowd.stop()
            try:
                stuck = not crowd.join(JOIN_SECONDS)
            except KeyboardInterrupt:  # a second Ctrl-C: wait no more
                stuck = bool(crowd.working())
            restore()
            oracle.close()
            close_old_connections()
            try:
                self._refresh_completed()
            except DatabaseError as exc:
                self.stderr.write(f"could not read which jobs completed: {exc}".strip())
            self._summary(
                crowd, started, stuck=stuck, ended="stopped" if interrupted else "timed out" if timed_out else "done"
            )
            connection.close()
        if exhausted:
            raise CommandError(
                f"the {len(accounts)} labelers gave all they can and job(s) {', '.join(exhausted)} still need "
                "answers: run more labelers (--labelers)"
            )
        if until_done and timed_out and not interrupted:
            raise CommandError("timed out before every job completed")

    def _on_signals(self, handler):
        """SIGINT (Ctrl-C) and SIGTERM stop the crowd cleanly (a second one
        stops the wait for labelers); a shell's background job, which
        ignores SIGINT, stops on it too. Only the main thread may set signal
        handlers: in another (a test's) nothing is set. Returns what puts
        the previous handlers back."""
        if threading.current_thread() is not threading.main_thread():
            return lambda: None
        signals = (signal.SIGINT, signal.SIGTERM)

        def on_signal(signum, frame) -> None:
            if self.stopping:
                raise KeyboardInterrupt
            self.stopping = True
            handler()

        previous = {signum: signal.signal(signum, on_signal) for signum in signals}
        return lambda: [signal.signal(signum, old) for signum, old in previous.items()]

    def _say(self, line: str) -> None:
        if not self.quiet:
            self.stdout.write(line)
            self.stdout.flush()

    def _publish(self, board: JobBoard, jobs: dict[str, JobInfo]) -> None:
        gone = [job for job_id, job in self.seen.items() if job_id not in jobs]
        for job in jobs.values():
            if job.id not in self.seen:
                self.seen[job.id] = job
                self._say(
                    f"serving job {job.id} {job.name!r} on {job.audience_name} ({job.audience_kind}): "
                    f"{job.datapoints} datapoints x {job.responses} responses"
                )
        if gone:
            self._refresh_completed()
        board.publish(jobs)

    def _refresh_completed(self) -> None:
        known = {job.id for job in self.completed}
        fresh = Job.objects.filter(
            public_id__in=[job_id for job_id in self.seen if job_id not in known], state=Job.State.COMPLETED
        ).values_list("public_id", flat=True)
        for job_id in sorted(fresh, key=list(self.seen).index):
            job = self.seen[job_id]
            self.completed.append(job)
            self._say(f"completed job {job.id} {job.name!r}")

    def _progress(self, crowd: Crowd, board: JobBoard, started: float) -> None:
        """A progress line, when something changed since the last."""
        totals = crowd.totals()
        line = (
            f"{len(board.jobs())} jobs running, {len(self.completed)} completed; {totals.answers} answers, "
            f"{totals.retries} retries, {totals.refusals[403] + totals.refusals[409]} refusals, "
            f"{totals.errors} errors"
        )
        if line != self.last_progress:
            self.last_progress = line
            self._say(f"[{time.monotonic() - started:.0f}s] {line}")

    def _summary(self, crowd: Crowd, started: float, *, stuck: bool, ended: str) -> None:
        totals = crowd.totals()
        write = self.stdout.write
        write(f"simulate_labelers {ended} after {time.monotonic() - started:.0f}s: {totals.labelers} labelers")
        write(f"  answers: {totals.answers} ({totals.gold} quality checks)")
        write(f"  retries: {totals.retries} (5xx or connection lost); waited out 429: {totals.throttled}")
        write(
            f"  refusals: 403: {totals.refusals[403]}, 409: {totals.refusals[409]} (answers refused: {totals.rejected})"
        )
        write(f"  errors: {totals.errors}")
        audiences = {job.audience_id: job.audience_name for job in self.seen.values() if job.needs_qualification}
        for audience_id, name in audiences.items():
            write(
                f"  audience {audience_id} {name!r}: {totals.qualified[audience_id]} qualified, "
                f"{totals.dropped[audience_id]} dropped"
            )
        write(f"  jobs completed: {len(self.completed)} of {len(self.seen)} served")
        for job in self.completed:
            write(f"    {job.id} {job.name!r}")
        for job in self.seen.values():
            if job not in self.completed:
                write(f"    not completed: {job.id} {job.name!r}")
        if stuck:
            write(f"  {crowd.working()} labelers still waiting on a request were left behind")
        self.stdout.flush()
