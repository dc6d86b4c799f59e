"""Labelers racing for the slots of one job, in threads of one process.

Run as ``python -m tests.race N_LABELERS DATAPOINTS RESPONSES`` against
whatever database the environment configures (the SQLite default when
``DATABASE_URL`` is unset, after ``manage.py migrate``); prints a JSON
summary. ``race(...)`` is also called in-process by the PostgreSQL test.
"""

from __future__ import annotations

import json
import os
import sys
import threading
from collections import Counter


def race(*, labelers: int, datapoints: int, responses: int, prefix: str = "racer") -> dict:
    from django.db import close_old_connections, connection

    from audiences.selectors import global_audience
    from jobs import feed
    from jobs.models import Response
    from labeling.services import labeler_create, requester_create
    from tests import factories

    owner, _ = requester_create(username=f"{prefix}-owner")
    job = factories.draw_job(owner, global_audience(), datapoints=datapoints, responses=responses)
    users = [labeler_create(username=f"{prefix}{i}", password="correct-horse-battery-42") for i in range(labelers)]
    start = threading.Barrier(labelers)
    errors: list[str] = []

    def work(user):
        try:
            start.wait()
            while True:
                lease = feed.task_next(labeler=user, job=job)
                if lease is None:
                    return
                feed.task_submit(labeler=user, task_id=lease.public_id, response={"lines": []})
        except Exception as exc:  # reported, and fails the test
            errors.append(f"{type(exc).__name__}: {exc}")
        finally:
            close_old_connections()
            connection.close()

    threads = [threading.Thread(target=work, args=(user,)) for user in users]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    rows = list(Response.objects.filter(job=job).values_list("job_datapoint_id", "labeler_id"))
    per_datapoint = Counter(jd for jd, _ in rows)
    job.refresh_from_db()
    return {
        "miscounted_leases": factories.miscounted_leases(job),
        "vendor": connection.vendor,
        "errors": errors,
        "responses": len(rows),
        "per_datapoint": sorted(per_datapoint.values()),
        "duplicates": len(rows) - len(set(rows)),
        "job_state": job.state,
    }


if __name__ == "__main__":
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    import django

    django.setup()
    labelers, datapoints, responses = map(int, sys.argv[1:4])
    print(json.dumps(race(labelers=labelers, datapoints=datapoints, responses=responses)))
