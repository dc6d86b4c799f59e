"""A crowd of simulated labelers serving running jobs: the engine of
``manage.py simulate_labelers``.

Every labeler (a ``SimulatedLabeler``, over HTTP) works at once, each in a
thread of its own. Threads rather than asyncio: ``SimulatedLabeler`` is a
blocking client that the tests and benchmarks drive from threads, and what
it waits on is the server, a few requests at a time per labeler; tens or a
few hundred threads blocked on sockets cost little, and every wait is on a
``threading.Event``, so a stop is seen at once. The ``Oracle``'s database
lookups run on its own small pool (``Oracle(workers=...)``), so the crowd
holds a handful of database connections whatever its size (a pooled
PostgreSQL configuration has 20).

The jobs come from a ``JobBoard``: the running jobs the crowd serves, read
from the database by the caller (``running_jobs``) every second or so.
Each labeler goes over the board's jobs in the order they were created:

- on a custom or curated audience it qualifies first, once per audience;
  dropped (by qualification, or later by quality checks: a 403), it stays
  out of that audience;
- it takes and answers tasks until the job has none for it;
- then it gives way: once it has answered every datapoint of the job it
  never asks that job again; otherwise (the slots left are leased by
  others, which may run out, or the job is paused) it asks again after
  1, 2, 4 ... 30 seconds, while the job runs, when the crowd ``persists``
  (``--until-done``, ``--watch``); a crowd that does not persist works each
  job once, as far as it goes;
- with nothing to do it sleeps until the board changes or a retry is due.

5xx replies and lost connections are sent again by the labeler with
backoff (``retry_seconds=None``: until the crowd stops) and counted; 429s
wait their ``Retry-After``. Anything else unexpected is logged and counted
as an error, and the labeler tries that job again later. On ``stop()`` a
labeler gives the task in hand back (``tasks/<id>/release/``), as a closing
work page does, so its datapoint is served again at once.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field

import httpx

from .simulation import Oracle, SimulatedLabeler, Stopped

logger = logging.getLogger("crowdcanvas.simulation")

IDLE_FIRST = 1.0  # seconds before a labeler asks a job with no task for it again ...
IDLE_MAX = 30.0  # ... doubling up to this
GRADUATED, DROPPED = "graduated", "dropped"


@dataclass(frozen=True)
class JobInfo:
    id: str
    name: str
    audience_id: str
    audience_name: str
    audience_kind: str
    datapoints: int
    responses: int  # per datapoint

    @property
    def needs_qualification(self) -> bool:
        return self.audience_kind != "global"


def running_jobs(*, audiences: Sequence[str] = (), jobs: Sequence[str] | None = None) -> dict[str, JobInfo]:
    """The running jobs of ``audiences`` (all when empty), or only those of
    ``jobs`` when given, oldest first, read from the database."""
    from jobs.models import Job

    query = Job.objects.filter(state=Job.State.RUNNING)
    if audiences:
        query = query.filter(audience__public_id__in=list(audiences))
    if jobs is not None:
        query = query.filter(public_id__in=list(jobs))
    rows = query.order_by("created_at", "id").values_list(
        "public_id",
        "definition__name",
        "audience__public_id",
        "audience__name",
        "audience__kind",
        "definition__responses_per_datapoint",
        "responses_needed",
    )
    return {
        job_id: JobInfo(
            id=job_id,
            name=name,
            audience_id=audience_id,
            audience_name=audience_name,
            audience_kind=kind,
            datapoints=needed // max(per_datapoint, 1),
            responses=per_datapoint,
        )
        for job_id, name, audience_id, audience_name, kind, per_datapoint, needed in rows
    }


class JobBoard:
    """The jobs the crowd serves; labelers with nothing to do wait on it."""

    def __init__(self) -> None:
        self._jobs: dict[str, JobInfo] = {}
        self._changed = threading.Condition()
        self.version = 0

    def publish(self, jobs: dict[str, JobInfo]) -> bool:
        """Put up ``jobs``; whether that changed the board (waiters wake)."""
        with self._changed:
            if jobs == self._jobs:
                return False
            self._jobs = dict(jobs)
            self.version += 1
            self._changed.notify_all()
            return True

    def jobs(self) -> list[JobInfo]:
        with self._changed:
            return list(self._jobs.values())

    def wait(self, version: int, timeout: float | None) -> None:
        """Until the board is other than at ``version``, or ``timeout``."""
        with self._changed:
            self._changed.wait_for(lambda: self.version != version, timeout)

    def wake(self) -> None:
        with self._changed:
            self.version += 1
            self._changed.notify_all()


@dataclass
class Turn:
    """A labeler's standing in one job."""

    done: bool = False  # never ask this job again
    next_try: float = 0.0
    idle: float = IDLE_FIRST


@dataclass
class Member:
    name: str
    labeler: SimulatedLabeler
    audiences: dict[str, str] = field(default_factory=dict)  # audience id -> graduated | dropped
    turns: dict[str, Turn] = field(default_factory=dict)
    errors: int = 0


@dataclass
class Totals:
    labelers: int
    working: int  # labeler threads still running
    answers: int
    gold: int
    retries: int
    throttled: int
    rejected: int
    refusals: dict[int, int]
    errors: int
    qualified: Counter  # audience id -> labelers graduated
    dropped: Counter  # audience id -> labelers dropped


class Crowd:
    """Labelers (``accounts``: [(username, token)]) serving ``board``'s jobs."""

    def __init__(
        self,
        *,
        base_url: str,
        accounts: Sequence[tuple[str, str]],
        accuracy: float,
        oracle: Oracle,
        board: JobBoard,
        persist: bool,
        request_timeout: float = 30.0,
    ) -> None:
        self.board = board
        self.persist = persist
        self.stopping = threading.Event()
        self.members = [
            Member(
                name=name,
                labeler=SimulatedLabeler(
                    base_url=base_url,
                    token=token,
                    accuracy=accuracy,
                    oracle=oracle,
                    seed=name,
                    timeout=request_timeout,
                    retry_seconds=None,
                    stopping=self.stopping,
                ),
            )
            for name, token in accounts
        ]
        self.threads = [
            threading.Thread(target=self._run, args=(member,), name=f"labeler-{index}", daemon=True)
            for index, member in enumerate(self.members)
        ]

    def start(self) -> Crowd:
        for thread in self.threads:
            thread.start()
        return self

    def stop(self) -> None:
        self.stopping.set()
        self.board.wake()

    def join(self, timeout: float) -> bool:
        """Wait for every labeler to finish; whether all did in time."""
        deadline = time.monotonic() + timeout
        for thread in self.threads:
            thread.join(max(0.0, deadline - time.monotonic()))
        return not self.working()

    def working(self) -> int:
        return sum(thread.is_alive() for thread in self.threads)

    def exhausted(self, jobs: Sequence[JobInfo]) -> bool:
        """Whether every labeler has given all it can to each of ``jobs``
        (answered every datapoint, or is not allowed to work there)."""
        return all(member.turns.get(job.id, Turn()).done for job in jobs for member in self.members)

    # --- one labeler -------------------------------------------------------------------------------

    def _run(self, member: Member) -> None:
        from django.db import connection

        try:
            while not self.stopping.is_set():
                version = self.board.version
                wait, pending = IDLE_MAX, False
                for job in self.board.jobs():
                    if self.stopping.is_set():
                        break
                    turn = member.turns.setdefault(job.id, Turn())
                    if turn.done:
                        continue
                    if time.monotonic() >= turn.next_try:
                        try:
                            self._take_turn(member, job, turn)
                        except Stopped:
                            raise
                        except Exception:  # counted, and tried again later
                            member.errors += 1
                            logger.warning("%s on job %s", member.name, job.id, exc_info=True)
                            self._later(turn)
                    if not turn.done:
                        pending = True
                        wait = min(wait, max(0.0, turn.next_try - time.monotonic()))
                if not (self.persist or pending):
                    return
                self.board.wait(version, wait)
        except Stopped:
            pass
        finally:
            member.labeler.close()
            connection.close()

    def _later(self, turn: Turn) -> None:
        turn.next_try = time.monotonic() + turn.idle
        turn.idle = min(turn.idle * 2, IDLE_MAX)

    def _qualified(self, member: Member, job: JobInfo, turn: Turn) -> bool:
        status = member.audiences.get(job.audience_id)
        if status is None:
            try:
                status = member.labeler.qualify(job.audience_id)
            except httpx.HTTPStatusError as exc:
                if exc.response.status_code != 409:
                    raise
                status = None  # the audience takes nobody yet (too few examples): later
            if status in (GRADUATED, DROPPED):
                member.audiences[job.audience_id] = status
            else:
                self._later(turn)
                return False
        if status == DROPPED:
            turn.done = True
            return False
        return True

    def _take_turn(self, member: Member, job: JobInfo, turn: Turn) -> None:
        labeler = member.labeler
        if job.needs_qualification and not self._qualified(member, job, turn):
            return
        answered = labeler.work(job.id, stop=self.stopping.is_set)
        if self.stopping.is_set():
            return
        refusal = labeler.last_refusal
        if refusal is not None and refusal[0] == 403:  # not (or no longer) eligible
            if job.needs_qualification:
                member.audiences[job.audience_id] = DROPPED
            turn.done = True
        elif labeler.job_answers[job.id] >= job.datapoints or not self.persist:
            turn.done = True  # gives way
        else:
            if answered:
                turn.idle = IDLE_FIRST
            self._later(turn)

    # --- counts --------------------------------------------------------------------------------------

    def totals(self) -> Totals:
        stats = [member.labeler.stats for member in self.members]
        qualified, dropped = Counter(), Counter()
        for member in self.members:
            for audience_id, status in list(member.audiences.items()):
                (qualified if status == GRADUATED else dropped)[audience_id] += 1
        return Totals(
            labelers=len(self.members),
            working=self.working(),
            answers=sum(s.answers for s in stats),
            gold=sum(s.gold for s in stats),
            retries=sum(s.retries for s in stats),
            throttled=sum(s.throttled for s in stats),
            rejected=sum(s.rejected for s in stats),
            refusals={status: sum(s.refusals.get(status, 0) for s in stats) for status in (403, 409)},
            errors=sum(member.errors for member in self.members),
            qualified=qualified,
            dropped=dropped,
        )
