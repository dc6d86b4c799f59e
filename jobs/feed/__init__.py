"""The task feed: handing out a job's tasks as leases and taking the answers.

The invariant it keeps, on PostgreSQL (row locks) and SQLite (one writer):

- a job datapoint never has more responses plus live leases than its
  definition asks for (``room``: the one rule, for every path);
- its row's ``leases_active`` equals its active leases: every path that
  starts or ends a lease changes that count;

because leases and responses of a job datapoint are written only while
holding that row's lock (``locks``), so concurrent labelers cannot overrun
the count. Lock order: the job datapoint, then its lease, then the
labeler's membership.

Modules: ``room`` (the room rule and the open datapoints it finds),
``leasing`` (next task, skip, renew, release), ``answering`` (an answer
stored), ``gold`` (quality checks among the tasks), ``early_stop``
(confident compare datapoints closed early), ``membership`` (who may work),
``locks`` (the feed's row locks).
"""

from .answering import Submitted, response_validate, task_submit
from .leasing import has_work_for, task_next, task_release, task_renew, task_skip
from .membership import working_membership_get_or_create
from .room import has_open_datapoint

__all__ = [
    "Submitted",
    "has_open_datapoint",
    "has_work_for",
    "response_validate",
    "task_next",
    "task_release",
    "task_renew",
    "task_skip",
    "task_submit",
    "working_membership_get_or_create",
]
