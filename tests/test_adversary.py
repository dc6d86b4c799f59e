"""A labeler who wants to cheat, working over HTTP as a browser would,
against a live server: from every public signal but timing (task ids, the
order and addresses of items, what the home page and the qualification
state say, before and after each answer) it tries to find the truth of
compare examples (listed first by the requester, as the seed documents
do) and to tell quality checks from the job's own tasks. It does no
better than chance.

The adversaries answer every task right (the test knows the truths), so
they stay in the audience and see many checks; what is measured is what
they would have guessed. Timing is left out of pass/fail tests: the
README says what it shows.
"""

from __future__ import annotations

import random
import secrets

import httpx
import pytest
from scipy.stats import binomtest

from audiences import services as audience_services
from demo.simulation import create_labelers
from jobs import services as job_services
from jobs.models import Lease
from tests.stack import AsgiServer, django_env

pytestmark = [pytest.mark.services, pytest.mark.django_db(transaction=True)]

EXAMPLES = 20
QUALIFICATION = 4  # examples each labeler answers to graduate; the other 16 are checks
LABELERS = 12


def image() -> str:
    """An address that says nothing about what is behind it."""
    return f"https://assets.example.org/{secrets.token_hex(8)}.jpg"


@pytest.fixture
def server(test_database_url, artifacts_dir):
    log_path = artifacts_dir / "adversary-server.log"
    log_path.unlink(missing_ok=True)
    process = AsgiServer(django_env(test_database_url, SUBMIT_RATE="none"), log_path).start()
    yield process
    process.stop()


class Adversary:
    def __init__(self, server: AsgiServer, token: str) -> None:
        self.http = httpx.Client(base_url=server.url, headers={"Authorization": f"Token {token}"}, timeout=30)
        self.seen: set[str] = set()  # every item address shown to this labeler

    def post(self, path: str, body: dict | None = None) -> dict:
        response = self.http.post(path, json=body)
        assert response.status_code == 200, (path, response.status_code, response.text)
        return response.json()

    def home(self) -> dict:
        return self.http.get("/api/labeler/home/").json()

    def guesses(self, task: dict) -> dict[str, str]:
        """Which item is the truth, by each public signal."""
        values = [item["value"] for item in task["items"]]
        unshuffled = values[:]
        random.Random(task["id"]).shuffle(unshuffled)  # the order as once shuffled from the task id
        return {"shown first": values[0], "task id": unshuffled[0]}

    def looks_like_a_check(self, task: dict, home_moved: bool) -> dict[str, bool]:
        addresses = {item["value"] for item in task["items"]}
        return {"address seen before": bool(addresses & self.seen), "home moved": home_moved}


def test_a_cheating_labeler_does_no_better_than_chance(server, requester):
    truths: dict[frozenset, str] = {}
    audience = audience_services.audience_create(
        owner=requester,
        name="Prompt judges",
        min_tasks=QUALIFICATION,
        max_tasks=QUALIFICATION,
        target_accuracy=0.5,
        gold_rate=0.5,
    )
    for index in range(EXAMPLES):
        truth, other = image(), image()
        audience_services.example_add_compare(
            audience=audience,
            owner=requester,
            instruction="Which image follows the prompt?",
            datapoint=[truth, other],
            truth=truth,
            context=f"prompt {index}",
        )
        truths[frozenset((truth, other))] = truth
    definition = job_services.job_definition_create_compare(
        owner=requester,
        name="Prompt alignment",
        instruction="Which image follows the prompt?",
        datapoints=[[image(), image()] for _ in range(40)],
        contexts=[f"prompt {i}" for i in range(40)],
        responses_per_datapoint=LABELERS,
    )
    job = job_services.job_create(owner=requester, definition=definition, audience=audience)

    hits = {"shown first": 0, "task id": 0}
    truth_tasks = 0
    flagged = {"address seen before": [0, 0], "home moved": [0, 0]}  # [checks flagged, job tasks flagged]
    checks = job_tasks = 0
    for _, token in create_labelers(LABELERS, prefix="adversary"):
        adversary = Adversary(server, token)
        base = f"/api/labeler/audiences/{audience.public_id}/qualification"
        state = adversary.post(f"{base}/next/")
        while state["task"]:
            task = state["task"]
            values = [item["value"] for item in task["items"]]
            truth = truths[frozenset(values)]
            truth_tasks += 1
            for signal, guess in adversary.guesses(task).items():
                hits[signal] += guess == truth
            adversary.seen.update(values)
            state = adversary.post(f"{base}/answer/", {"task_id": task["id"], "response": {"choice": truth}})
        assert state["status"] == "graduated"

        task = adversary.post(f"/api/labeler/jobs/{job.public_id}/tasks/next/")["task"]
        while task is not None:
            values = [item["value"] for item in task["items"]]
            check = frozenset(values) in truths
            before = adversary.home()
            choice = truths[frozenset(values)] if check else values[0]
            reply = adversary.post(f"/api/labeler/tasks/{task['id']}/submit/", {"response": {"choice": choice}})
            after = adversary.home()
            if check:
                checks += 1
                truth_tasks += 1
                for signal, guess in adversary.guesses(task).items():
                    hits[signal] += guess == choice
            else:
                job_tasks += 1
            # Judged only while the job still had work for them after the answer (the last answer empties it).
            if reply["next"] is not None:
                for signal, says in adversary.looks_like_a_check(task, before != after).items():
                    flagged[signal][0 if check else 1] += says
            adversary.seen.update(values)
            task = reply["next"]
        adversary.http.close()

    assert Lease.objects.filter(job=job, example__isnull=False).count() == checks
    assert truth_tasks >= 200 and checks >= 100 and job_tasks >= 100, (truth_tasks, checks, job_tasks)
    for signal, hit in hits.items():  # the truth is listed first on every one of them
        # No better than chance: hits not above half at the 0.1% level, so a fair run fails at most once in a
        # thousand (task ids are random here; tests/test_security_truths.py holds fixed ones to the 99% interval).
        # Before the order came from a server secret, "task id" scored every one.
        assert binomtest(hit, truth_tasks, 0.5, alternative="greater").pvalue > 0.001, (signal, hit, truth_tasks)
    for signal, (on_checks, on_job_tasks) in flagged.items():
        # No signal marks checks more often than job tasks (both are 0 here: nothing repeats, nothing moves).
        assert on_checks == on_job_tasks == 0, (signal, on_checks, checks, on_job_tasks, job_tasks)
