"""Every write to assets, job definitions and jobs.

Services take keyword-only arguments, validate everything before writing and
run in one transaction, so a rejected call leaves nothing behind. Failures
are ``ValidationError({field: [message]})``.
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, NamedTuple

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from audiences.models import Audience, Membership, QualificationAnswer, QualificationExample
from audiences.selectors import audience_visible_to
from labeling import events, ids, locks, validation
from labeling.errors import Conflict, ErrorCode, Forbidden
from labeling.validation import field

from . import assets as asset_files
from . import content, rows, wire
from .aggregation import leader_confidence
from .models import Asset, Datapoint, Job, JobDatapoint, JobDefinition, Lease, Response, TaskKind

MAX_DATAPOINTS = 100_000
# Candidates a labeler's next-task request tries before giving up (each one
# found full only because it filled up while the request ran).
MAX_SLOT_ATTEMPTS = 50
_random = random.SystemRandom()
MAX_RESPONSES_PER_DATAPOINT = 1000


# --- Assets ---------------------------------------------------------------------


def _key(kind: str, content: str) -> str:
    return hashlib.sha256(f"{kind}\x00{content}".encode()).hexdigest()


@transaction.atomic
def asset_upload(*, owner: AbstractBaseUser, upload, name: str | None = None,
                 known_regions: list[dict] | None = None) -> Asset:
    """Store an uploaded image (checked with Pillow) as one of ``owner``'s assets."""
    with field("file"):
        data = asset_files.read_upload(upload)
    return asset_create_image(owner=owner, data=data, name=name or getattr(upload, "name", "") or "",
                              known_regions=known_regions)


@transaction.atomic
def asset_create_image(*, owner: AbstractBaseUser, data: bytes, name: str = "",
                       known_regions: list[dict] | None = None) -> Asset:
    with field("file"):
        checked = asset_files.check_image(data)
    if known_regions is not None:  # [] records that the image holds no target
        with field("known_regions"):
            if not isinstance(known_regions, list):
                raise ValidationError("known_regions must be a list of boxes.")
            known_regions = [wire.parse_box(box, f"known_regions[{i}]").as_dict()
                             for i, box in enumerate(known_regions)]
    name = (name or "").replace("\\", "/").rsplit("/", 1)[-1][:255]
    stored = asset_files.store_image(checked)
    asset, created = Asset.objects.get_or_create(
        owner=owner,
        key=_key("image", checked.sha256),
        defaults={
            "kind": Asset.Kind.IMAGE,
            "file": stored,
            "name": name,
            "content_type": checked.content_type,
            "byte_size": len(checked.data),
            "width": checked.width,
            "height": checked.height,
            "known_regions": known_regions,
        },
    )
    if not created and known_regions is not None and asset.known_regions != known_regions:
        asset.known_regions = known_regions
        asset.save(update_fields=["known_regions"])
    return asset


def assets_from_items(*, owner: AbstractBaseUser, specs: Sequence[wire.ItemSpec], where: str) -> list[Asset]:
    """Resolve item specs to ``owner``'s assets, creating URL and text assets
    in bulk. Uploaded assets are looked up among the owner's own only."""
    by_key: dict[str, Asset] = {}
    wanted: dict[str, tuple[str, str]] = {}
    asset_ids = set()
    for spec in specs:
        if spec.kind == "asset":
            asset_ids.add(spec.value)
        else:
            wanted[_key(spec.kind, spec.value)] = (spec.kind, spec.value)
    uploaded = {a.public_id: a for a in _owned_assets(owner=owner, field="public_id", values=list(asset_ids))}
    missing_ids = sorted(asset_ids - uploaded.keys())
    if missing_ids:
        raise ValidationError({where: [f"unknown asset id {missing_ids[0]!r}; upload the file first."]})
    if wanted:
        by_key = {a.key: a for a in _owned_assets(owner=owner, field="key", values=list(wanted))}
        new = [
            Asset(owner=owner, key=key, kind=kind, **({"url": value} if kind == "url" else {"text": value}))
            for key, (kind, value) in wanted.items()
            if key not in by_key
        ]
        if new:
            Asset.objects.bulk_create(new, ignore_conflicts=True, batch_size=1000)
            by_key = {a.key: a for a in _owned_assets(owner=owner, field="key", values=list(wanted))}
    return [
        uploaded[spec.value] if spec.kind == "asset" else by_key[_key(spec.kind, spec.value)]
        for spec in specs
    ]


# Values per ``IN`` lookup: PostgreSQL takes at most 65,535 parameters a
# statement, and a definition may name 200,000 items.
LOOKUP_CHUNK = 10_000


def _owned_assets(*, owner: AbstractBaseUser, field: str, values: list[str]) -> list[Asset]:
    """``owner``'s assets whose ``field`` is among ``values``, looked up
    ``LOOKUP_CHUNK`` values at a time."""
    return [asset for start in range(0, len(values), LOOKUP_CHUNK)
            for asset in Asset.objects.filter(owner=owner, **{f"{field}__in": values[start:start + LOOKUP_CHUNK]})]


# --- Job definitions -------------------------------------------------------------


def _parse_common(*, name: Any, instruction: Any, datapoints: Any, responses_per_datapoint: Any,
                  contexts: Any, media_contexts: Any) -> tuple[str, str, int, list[str], list | None]:
    with field("name"):
        name = wire.check_text(name, "name", max_length=wire.MAX_NAME_LENGTH, required=True)
    with field("instruction"):
        instruction = wire.check_text(instruction, "instruction", max_length=wire.MAX_INSTRUCTION_LENGTH,
                                      required=True)
    rpd = validation.integer(responses_per_datapoint, "responses_per_datapoint",
                             low=1, high=MAX_RESPONSES_PER_DATAPOINT)
    clean_contexts, media_contexts = _parse_datapoint_lists(datapoints=datapoints, contexts=contexts,
                                                            media_contexts=media_contexts)
    return name, instruction, rpd, clean_contexts, media_contexts


def _parse_datapoint_lists(*, datapoints: Any, contexts: Any, media_contexts: Any,
                           room: int = MAX_DATAPOINTS) -> tuple[list[str], list | None]:
    """The datapoints' list checked (at most ``room`` of them), their
    contexts checked, and the media contexts' list checked."""
    if not isinstance(datapoints, (list, tuple)):
        raise ValidationError({"datapoints": ["must be a list."]})
    if not datapoints:
        raise ValidationError({"datapoints": ["must not be empty."]})
    if len(datapoints) > room:
        raise ValidationError({"datapoints": [f"at most {MAX_DATAPOINTS} datapoints per definition."]})
    count = len(datapoints)
    if contexts is None:
        contexts = [""] * count
    elif not isinstance(contexts, (list, tuple)):
        raise ValidationError({"contexts": ["must be a list of strings, one per datapoint."]})
    elif len(contexts) != count:
        raise ValidationError({"contexts": [f"has {len(contexts)} entries but there are {count} datapoints."]})
    clean_contexts = []
    for index, context in enumerate(contexts):
        with field("contexts"):
            clean_contexts.append(
                wire.check_text(context, f"contexts[{index}]", max_length=wire.MAX_CONTEXT_LENGTH, required=False)
            )
    if media_contexts is not None:
        if not isinstance(media_contexts, (list, tuple)):
            raise ValidationError({"media_contexts": ["must be a list, one entry (or null) per datapoint."]})
        if len(media_contexts) != count:
            raise ValidationError(
                {"media_contexts": [f"has {len(media_contexts)} entries but there are {count} datapoints."]}
            )
    return clean_contexts, media_contexts


def _media_context_specs(media_contexts: list | None) -> list[wire.ItemSpec | None]:
    if media_contexts is None:
        return []
    specs: list[wire.ItemSpec | None] = []
    for index, item in enumerate(media_contexts):
        if item is None:
            specs.append(None)
            continue
        with field("media_contexts"):
            spec = wire.parse_item(item, f"media_contexts[{index}]")
        if spec.kind == "text":
            raise ValidationError({"media_contexts": [f"media_contexts[{index}] must be an image URL or upload."]})
        specs.append(spec)
    return specs


def compare_pair_specs(pair: Any, where: str) -> tuple[wire.ItemSpec, wire.ItemSpec]:
    """A compare datapoint: exactly two distinct items."""
    if not isinstance(pair, (list, tuple)) or len(pair) != 2:
        raise ValidationError(f"{where} must be a list of exactly 2 items.")
    first = wire.parse_item(pair[0], f"{where}[0]")
    second = wire.parse_item(pair[1], f"{where}[1]")
    if first == second:
        raise ValidationError(f"{where} has the same item twice; the two items must differ.")
    return first, second


@transaction.atomic
def job_definition_create(
    *,
    owner: AbstractBaseUser,
    kind: str,
    name: Any,
    instruction: Any,
    datapoints: Any,
    responses_per_datapoint: Any = 10,
    contexts: Any = None,
    media_contexts: Any = None,
    confidence_threshold: Any = None,
    draw_aggregation: Any = JobDefinition.DrawAggregation.MAJORITY,
    client_key: Any = None,
) -> JobDefinition:
    """Create a draw or compare definition with its datapoints, all or nothing.

    ``client_key``: the requester's key for this request. A definition of
    theirs made with it already is returned as it is (the reply to the first
    request was lost and the request sent again), never made twice."""
    if kind not in TaskKind.values:
        raise ValidationError({"kind": [f"must be one of {', '.join(TaskKind.values)}."]})
    key = _client_key(client_key)
    name, instruction, rpd, clean_contexts, media_contexts = _parse_common(
        name=name, instruction=instruction, datapoints=datapoints,
        responses_per_datapoint=responses_per_datapoint, contexts=contexts, media_contexts=media_contexts,
    )
    if key and (existing := _definition_by_key(owner=owner, key=key, kind=kind, name=name)) is not None:
        return existing
    if confidence_threshold is not None:
        if kind != TaskKind.COMPARE:
            raise ValidationError({"confidence_threshold": ["applies to compare definitions only."]})
        confidence_threshold = validation.ratio(confidence_threshold, "confidence_threshold",
                                                low_open=True, high_open=True)
    if draw_aggregation not in JobDefinition.DrawAggregation.values:
        raise ValidationError({"draw_aggregation": [
            f"must be one of {', '.join(JobDefinition.DrawAggregation.values)}."]})

    try:
        with transaction.atomic():  # a savepoint: the same key sent twice at once makes one definition
            definition = JobDefinition.objects.create(
                owner=owner, kind=kind, name=name, instruction=instruction, responses_per_datapoint=rpd,
                confidence_threshold=confidence_threshold, draw_aggregation=draw_aggregation, client_key=key,
            )
    except IntegrityError:
        if not key:
            raise
        return _definition_by_key(owner=owner, key=key, kind=kind, name=name)
    rows = _datapoint_rows(owner=owner, definition=definition, datapoints=datapoints, contexts=clean_contexts,
                           media_contexts=media_contexts, start=0)
    Datapoint.objects.bulk_create(rows, batch_size=2000)
    return definition


MAX_CLIENT_KEY_LENGTH = 64


def _client_key(value: Any) -> str:
    if value is None:
        return ""
    with field("client_key"):
        return wire.check_text(value, "client_key", max_length=MAX_CLIENT_KEY_LENGTH, required=True)


def _definition_by_key(*, owner: AbstractBaseUser, key: str, kind: Any, name: Any) -> JobDefinition | None:
    """``owner``'s definition made with ``client_key`` ``key``, if any; a
    400 when it is not of this ``kind`` and ``name`` (the key was reused)."""
    definition = JobDefinition.objects.filter(owner=owner, client_key=key).first()
    if definition is not None and (definition.kind, definition.name) != (kind, name):
        raise ValidationError({"client_key": [
            f"already made the definition {definition.public_id} ({definition.kind}, {definition.name[:80]!r}); "
            "use a new key for a new definition."]})
    return definition


@transaction.atomic
def job_definition_add_datapoints(*, owner: AbstractBaseUser, definition: JobDefinition, start: Any,
                                  datapoints: Any, contexts: Any = None, media_contexts: Any = None) -> int:
    """Add a batch of datapoints to ``owner``'s definition at positions
    ``start``, ``start + 1``, ...; how many were new.

    Positions run on without gaps (``start`` at most the datapoints stored).
    A batch sent again after its reply was lost finds its datapoints stored
    as sent and adds nothing; one that differs from what is stored at its
    positions is a 400. A definition assigned to a job takes no more (its
    jobs keep the datapoints they were made with)."""
    if definition.owner_id != owner.pk:
        raise ValidationError({"job_definition": ["not found."]})
    start = validation.integer(start, "start", low=0, high=MAX_DATAPOINTS)
    clean_contexts, media_contexts = _parse_datapoint_lists(
        datapoints=datapoints, contexts=contexts, media_contexts=media_contexts, room=MAX_DATAPOINTS - start)
    definition = locks.job_definition_lock(pk=definition.pk)
    if definition.jobs.exists():
        raise Conflict(ErrorCode.DEFINITION_ASSIGNED,
                       "The definition is assigned to a job already: its datapoints are fixed. Make a new one.")
    count = definition.datapoints.count()
    if start > count:
        raise ValidationError({"start": [
            f"is {start} but the definition has {count} datapoints: send the batches in order, "
            "the next one starting at the count."]})
    rows = _datapoint_rows(owner=owner, definition=definition, datapoints=datapoints, contexts=clean_contexts,
                           media_contexts=media_contexts, start=start)
    stored = {
        row[0]: row[1:] for row in definition.datapoints.filter(position__gte=start, position__lt=start + len(rows))
        .values_list("position", "asset_id", "asset_b_id", "context", "media_context_id")
    }
    for index, row in enumerate(rows):
        if row.position in stored and stored[row.position] != (row.asset_id, row.asset_b_id, row.context,
                                                               row.media_context_id):
            raise ValidationError({"datapoints": [
                f"datapoints[{index}] differs from the datapoint stored at position {row.position}: a batch "
                "sent again must be the same as the first time."]})
    new = [row for row in rows if row.position not in stored]
    Datapoint.objects.bulk_create(new, batch_size=2000)
    return len(new)


def _datapoint_rows(*, owner: AbstractBaseUser, definition: JobDefinition, datapoints: Sequence,
                    contexts: list[str], media_contexts: list | None, start: int) -> list[Datapoint]:
    """The definition's datapoints (unsaved) at positions ``start`` on, their
    items resolved to ``owner``'s assets (URL and text assets made)."""
    kind = definition.kind
    specs: list[wire.ItemSpec] = []
    for index, item in enumerate(datapoints):
        where = f"datapoints[{index}]"
        with field("datapoints"):
            if kind == TaskKind.DRAW:
                spec = wire.parse_item(item, where)
                if spec.kind == "text":
                    raise ValidationError(f"{where} must be an image (a URL, a file or an uploaded asset), not text.")
                specs.append(spec)
            else:
                specs.extend(compare_pair_specs(item, where))
    media_specs = _media_context_specs(media_contexts)

    resolved = assets_from_items(owner=owner, specs=specs, where="datapoints")
    media_resolved = assets_from_items(
        owner=owner, specs=[s for s in media_specs if s is not None], where="media_contexts"
    )
    for index, asset in enumerate(resolved if kind == TaskKind.DRAW else []):
        if asset.kind == Asset.Kind.TEXT:
            raise ValidationError({"datapoints": [f"datapoints[{index}] must be an image, not text."]})
    media_iter = iter(media_resolved)
    media_assets = [next(media_iter) if spec is not None else None for spec in media_specs]

    width = 1 if kind == TaskKind.DRAW else 2
    rows = []
    for index in range(len(contexts)):
        items = resolved[index * width:(index + 1) * width]
        rows.append(
            Datapoint(
                definition=definition,
                position=start + index,
                kind=kind,
                asset=items[0],
                asset_b=items[1] if width == 2 else None,
                context=contexts[index],
                media_context=media_assets[index] if media_assets else None,
            )
        )
    return rows


def job_definition_create_draw(*, owner: AbstractBaseUser, name: Any, instruction: Any, datapoints: Any,
                               responses_per_datapoint: Any = 10, contexts: Any = None,
                               media_contexts: Any = None,
                               draw_aggregation: Any = JobDefinition.DrawAggregation.MAJORITY) -> JobDefinition:
    return job_definition_create(
        owner=owner, kind=TaskKind.DRAW, name=name, instruction=instruction, datapoints=datapoints,
        responses_per_datapoint=responses_per_datapoint, contexts=contexts, media_contexts=media_contexts,
        draw_aggregation=draw_aggregation,
    )


def job_definition_create_compare(*, owner: AbstractBaseUser, name: Any, instruction: Any, datapoints: Any,
                                  responses_per_datapoint: Any = 10, contexts: Any = None,
                                  media_contexts: Any = None, confidence_threshold: Any = None) -> JobDefinition:
    return job_definition_create(
        owner=owner, kind=TaskKind.COMPARE, name=name, instruction=instruction, datapoints=datapoints,
        responses_per_datapoint=responses_per_datapoint, contexts=contexts, media_contexts=media_contexts,
        confidence_threshold=confidence_threshold,
    )


# --- Jobs ------------------------------------------------------------------------------


@transaction.atomic
def job_create(*, owner: AbstractBaseUser, definition: JobDefinition, audience: Audience) -> Job:
    """Assign ``definition`` to ``audience``: a running job with one slot set
    per datapoint. Both must be visible to ``owner``."""
    if definition.owner_id != owner.pk:
        raise ValidationError({"job_definition": ["not found."]})
    if not audience_visible_to(audience, owner):
        raise ValidationError({"audience": ["not found."]})
    locks.job_definition_lock(pk=definition.pk)  # no batch of datapoints is being added meanwhile
    positions = list(definition.datapoints.order_by("position").values_list("id", "position"))
    if not positions:
        raise ValidationError({"job_definition": ["has no datapoints."]})
    job = Job.objects.create(
        owner=owner,
        definition=definition,
        audience=audience,
        responses_needed=len(positions) * definition.responses_per_datapoint,
    )
    JobDatapoint.objects.bulk_create(
        [JobDatapoint(job=job, datapoint_id=pk, position=position) for pk, position in positions], batch_size=2000
    )
    rows.analyze_after_bulk_insert(JobDatapoint, added=len(positions))
    events.work_changed(audience.public_id)
    return job


# --- Task feed: leases and responses --------------------------------------------------------
#
# A datapoint never has more responses plus live leases than its definition
# asks for. Leases and responses of a job datapoint are written only while
# holding that row's lock (labeling.locks), so the count cannot be overrun
# by concurrent labelers, on PostgreSQL (row locks) or SQLite (one writer).
# The row also counts its active leases (JobDatapoint.leases_active): every
# path that starts or ends one changes that count under the same lock.


def _lease_duration(seconds: int | None = None) -> timedelta:
    """How long a lease runs: ``seconds``, or ``LEASE_SECONDS`` when not given."""
    return timedelta(seconds=settings.LEASE_SECONDS if seconds is None else seconds)


def working_membership(*, labeler: AbstractBaseUser, audience: Audience) -> Membership:
    """The membership that lets ``labeler`` work on ``audience``'s jobs:
    graduated, or (global audience) any labeler."""
    membership = Membership.objects.filter(labeler=labeler, audience=audience).first()
    return _working(labeler=labeler, audience=audience, membership=membership)


def _working(*, labeler: AbstractBaseUser, audience: Audience, membership: Membership | None) -> Membership:
    """``working_membership`` for the labeler's ``membership`` of ``audience``
    (``None``: they have none), already read."""
    if audience.kind == Audience.Kind.GLOBAL:
        if membership is None:
            membership, _ = Membership.objects.get_or_create(
                labeler=labeler, audience=audience, defaults={"state": Membership.State.GRADUATED}
            )
        return membership
    if membership is None or membership.state != Membership.State.GRADUATED:
        raise Forbidden(ErrorCode.NOT_ELIGIBLE, "Qualify for this job's audience before working on it.")
    return membership


def _room_sql(needed: int, now, *, other_than: AbstractBaseUser | None = None) -> tuple[str, list]:
    """The condition (on ``jd``) that a job datapoint has room for one more
    lease: not closed, and its answers and live leases (those of labelers
    ``other_than`` one, when given) fewer than ``needed``. Run in a statement
    that starts after the datapoint's lock was granted, it sees every lease
    and answer committed before."""
    mine = " AND live.labeler_id <> %s" if other_than is not None else ""
    return (
        f"NOT jd.closed AND jd.response_count + (SELECT COUNT(*) FROM {Lease._meta.db_table} live"
        f" WHERE live.job_datapoint_id = jd.id AND live.status = %s AND live.expires_at > %s{mine}) < %s",
        [Lease.Status.ACTIVE, rows.datetime_param(now), *([other_than.pk] if other_than is not None else []), needed],
    )


def _room_on_row_sql(needed: int) -> tuple[str, list]:
    """``_room_sql`` as the row alone tells it: its answers and active leases
    (``JobDatapoint.leases_active``, those that ran out included) fewer than
    ``needed``. Never room that ``_room_sql`` would not see; a row changed
    since the statement began is checked again at its new version when the
    statement locks it."""
    return "NOT jd.closed AND jd.response_count + jd.leases_active < %s", [needed]


def _open_slot_sql(*, select: str, job: Job, labeler: AbstractBaseUser, now, exclude: Sequence[int] = (),
                   tail: str = "", unless: str = "", room_on_row: bool = False) -> tuple[str, list]:
    """SQL over the job datapoints with room for one more lease that
    ``labeler`` has not answered or skipped: the one definition of an open
    slot. Written as SQL rather than through the ORM because it runs on every
    task a labeler is given, and building this query with the ORM cost more
    than running it. ``unless``: a parameterless SQL condition under which
    there is none. ``room_on_row``: room as the row tells it
    (``_room_on_row_sql``), on datapoints where the labeler holds no lease
    at all (one that ran out is renewed where live leases are counted)."""
    excluded = f" AND jd.id NOT IN ({', '.join(['%s'] * len(exclude))})" if exclude else ""
    if unless:
        excluded += f" AND NOT ({unless})"
    needed = job.definition.responses_per_datapoint
    if room_on_row:
        (room, room_params), mine, mine_params = _room_on_row_sql(needed), "", []
    else:
        room, room_params = _room_sql(needed, now)
        mine, mine_params = " AND mine.status IN (%s, %s)", list(ENDED_FOR_GOOD)
    sql = (
        f"SELECT {select} FROM {JobDatapoint._meta.db_table} jd WHERE jd.job_id = %s{excluded}"
        f" AND NOT EXISTS (SELECT 1 FROM {Lease._meta.db_table} mine WHERE mine.job_datapoint_id = jd.id"
        f" AND mine.labeler_id = %s{mine}) AND {room}{tail}"
    )
    return sql, [job.pk, *exclude, labeler.pk, *mine_params, *room_params]


def has_open_slot(*, job: Job, labeler: AbstractBaseUser, now) -> bool:
    """Whether ``labeler`` could be given one of the job's datapoints now:
    the first open one looked up as for a task, never a count over the job."""
    return _open_slot(job=job, labeler=labeler, now=now, exclude=(), lock=False) is not None


def has_work_for(*, job: Job, labeler: AbstractBaseUser, now) -> bool:
    """Whether the job has a task for ``labeler``: one they hold (a check or
    a datapoint alike), or an open datapoint."""
    return _held_lease(job=job, labeler=labeler, now=now) is not None or has_open_slot(job=job, labeler=labeler,
                                                                                        now=now)


FEED_ORDER = " ORDER BY jd.response_count DESC, jd.position LIMIT 1"


class OpenSlot(NamedTuple):
    id: int
    datapoint_id: int
    position: int


OPEN_SLOT_COLUMNS = "jd.id, jd.datapoint_id, jd.position"


def _open_slot(*, job: Job, labeler: AbstractBaseUser, now, exclude: Sequence[int], lock: bool) -> OpenSlot | None:
    """The open slot closest to completion. ``lock``: the first one no one
    else holds locked, locked (see ``labeling.locks``); otherwise as of now,
    locked or not, and waiting on nothing."""
    sql, params = _open_slot_sql(select=OPEN_SLOT_COLUMNS, job=job, labeler=labeler, now=now, exclude=exclude,
                                 tail=FEED_ORDER)
    if lock:
        row = locks.job_datapoint_lock_first_of(sql, params, skip_locked=True)
    else:
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            row = cursor.fetchone()
    return None if row is None else OpenSlot(*row)


def _slot_with_room(slot_id: int, needed: int, labeler: AbstractBaseUser, now) -> bool:
    """Whether the locked job datapoint ``slot_id`` still has room for
    ``labeler`` (see ``_room_sql``)."""
    room, params = _room_sql(needed, now, other_than=labeler)
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT 1 FROM {JobDatapoint._meta.db_table} jd WHERE jd.id = %s AND {room}",
                       [slot_id, *params])
        return cursor.fetchone() is not None


def _gold_due(job: Job) -> bool:
    """Whether this task should be a quality check: now and then (the
    audience's ``gold_rate``) in a custom audience's jobs."""
    audience = job.audience
    if audience.kind != Audience.Kind.CUSTOM or audience.gold_rate <= 0:
        return False
    return _random.random() < audience.gold_rate


def _gold_example(job: Job, labeler: AbstractBaseUser, now) -> QualificationExample | None:
    """One of a custom audience's own examples that asks what the job asks
    (its kind and instruction: the labeler sees the job's instruction and is
    graded against the example's truth), served as if it were a job task;
    none while the labeler has no job work left, which the same look for an
    open datapoint as a job task's tells.

    Only an example the labeler has never been shown, in qualification or as
    a check: a job datapoint never comes to a labeler twice, so an image seen
    before would mark the task as a check. Ongoing checks therefore need more
    examples than qualification uses (its ``max_tasks``). None in a job whose
    tasks show a media context: an example has none to show."""
    definition = job.definition
    if content.shows_media_context(definition.pk):
        return None
    shown = Lease.objects.filter(labeler=labeler, example__isnull=False).values("example")
    answered = QualificationAnswer.objects.filter(membership__labeler=labeler,
                                                  membership__audience_id=job.audience_id).values("example")
    examples = list(job.audience.examples.filter(kind=definition.kind, instruction=definition.instruction)
                    .exclude(pk__in=shown).exclude(pk__in=answered).values_list("pk", flat=True))
    if not examples or not has_open_slot(job=job, labeler=labeler, now=now):
        return None
    return QualificationExample.objects.get(pk=_random.choice(examples))


def task_next(*, labeler: AbstractBaseUser, job: Job, membership: Membership | None = None,
              lease_seconds: int | None = None) -> Lease | None:
    """The labeler's next task in ``job``: their live lease if they hold one,
    else (sometimes) a quality check, else a new lease on the open datapoint
    closest to completion; ``None`` when the job has no work left for them.
    ``membership``, when the caller has just checked it, saves a query.
    A new lease runs ``lease_seconds`` (default ``LEASE_SECONDS``); a held
    one keeps its time.

    On PostgreSQL most tasks are one statement (``_held_or_new_lease``),
    which counts a datapoint's leases from its row; where that finds
    nothing (the only room is behind leases that ran out, or the labeler's
    own lease there ran out, or there is none), the general path below
    counts live leases under the datapoint's lock.

    The lease's job datapoint comes without its datapoint loaded: read it
    from ``jobs.content``."""
    if job.state != Job.State.RUNNING:
        raise Conflict(ErrorCode.JOB_NOT_RUNNING, f"This job is {job.state}; it takes no more responses.")
    if membership is None:
        working_membership(labeler=labeler, audience=job.audience)
    job.definition = content.definition(job.definition_id)
    gold_due = _gold_due(job)
    duration = _lease_duration(lease_seconds)
    held_looked_for = False
    if not gold_due and connection.vendor == "postgresql":
        # The common case, in one statement: the held lease, or a new one on
        # a datapoint whose row shows room. None: look closer, below.
        lease = _held_or_new_lease(job=job, labeler=labeler, now=timezone.now(), duration=duration)
        if lease is not None:
            return lease
        held_looked_for = True
    with transaction.atomic():
        now = timezone.now()
        if not held_looked_for:
            held = _held_lease(job=job, labeler=labeler, now=now)
            if held is not None:
                return held
        if gold_due:
            example = _gold_example(job, labeler, now)
            if example is not None:
                return Lease.objects.create(job=job, example=example, labeler=labeler, leased_at=now,
                                            expires_at=now + duration)
        slot = _open_slot(job=job, labeler=labeler, now=now, exclude=(), lock=True)
        tried: list[int] = []
        for _ in range(MAX_SLOT_ATTEMPTS):
            if slot is None:
                # Every candidate is held by someone answering or taking it, or
                # there is none. Which, a fresh look that waits on nothing tells:
                # a query that had to wait for a row checks it against its own
                # older view of the leases, where a lease just answered still
                # counts next to its answer, and may find no room.
                slot = _open_slot(job=job, labeler=labeler, now=now, exclude=tried, lock=False)
                if slot is None:
                    return None
                locks.job_datapoint_lock_id(pk=slot.id)
            lease = _lease_if_room(job=job, slot=slot, labeler=labeler, now=now, duration=duration)
            if lease is not None:
                return lease
            tried.append(slot.id)
            slot = _open_slot(job=job, labeler=labeler, now=now, exclude=tried, lock=True)
        return None


HELD_COLUMNS = "l.id, l.public_id, l.job_datapoint_id, l.example_id, l.leased_at, l.expires_at, jd.datapoint_id, jd.position"


def _held_lease_sql(*, job: Job, labeler: AbstractBaseUser, now) -> tuple[str, list]:
    """SQL for the labeler's live lease in ``job`` (``HELD_COLUMNS``)."""
    return (
        f"SELECT {HELD_COLUMNS} FROM {Lease._meta.db_table} l"
        f" LEFT JOIN {JobDatapoint._meta.db_table} jd ON jd.id = l.job_datapoint_id"
        f" WHERE l.job_id = %s AND l.labeler_id = %s AND l.status = '{Lease.Status.ACTIVE}' AND l.expires_at > %s"
        f" LIMIT 1",
        [job.pk, labeler.pk, rows.datetime_param(now)],
    )


def _held_lease(*, job: Job, labeler: AbstractBaseUser, now) -> Lease | None:
    """The labeler's live lease in ``job``, if any."""
    sql, params = _held_lease_sql(job=job, labeler=labeler, now=now)
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        row = cursor.fetchone()
    return None if row is None else _held_from_row(job, labeler, row)


def _held_or_new_lease(*, job: Job, labeler: AbstractBaseUser, now, duration: timedelta) -> Lease | None:
    """The labeler's live lease in ``job``, or else a new lease on the open
    slot closest to completion, in one statement (so in one transaction of
    its own, unless the caller is in one); ``None`` when it finds neither.
    A new lease runs ``duration``.

    The room it sees is the row's own (``_room_on_row_sql``). Every writer of
    a datapoint's leases changes that count under the row's lock, so a row
    this statement locks is current: when another transaction changed it
    after this statement began, PostgreSQL checks the conditions again
    against the new version before taking the lock (and passes the row over
    if they fail), and rows others hold locked are skipped. Leases that ran
    out still count, so it never sees room that is not there; the general
    path finds the room behind them, and renews a lease of the labeler's own
    that ran out."""
    held_sql, held_params = _held_lease_sql(job=job, labeler=labeler, now=now)
    open_sql, open_params = _open_slot_sql(select=OPEN_SLOT_COLUMNS, job=job, labeler=labeler, now=now,
                                           tail=FEED_ORDER, unless="EXISTS (SELECT 1 FROM held)", room_on_row=True)
    public_id, expires_at = ids.task_id(), now + duration
    slot_table, lease_table = JobDatapoint._meta.db_table, Lease._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"WITH held AS ({held_sql}),"
            f" slot AS ({open_sql}{locks.for_update_clause('jd', skip_locked=True)}),"
            f" leased AS (INSERT INTO {lease_table}"
            f" (public_id, job_id, job_datapoint_id, example_id, labeler_id, status, leased_at, expires_at)"
            f" SELECT %s, %s, slot.id, NULL, %s, %s, %s, %s FROM slot ON CONFLICT DO NOTHING"
            f" RETURNING id, job_datapoint_id),"
            f" counted AS (UPDATE {slot_table} jd SET leases_active = jd.leases_active + 1"
            f" FROM leased WHERE jd.id = leased.job_datapoint_id)"
            f" SELECT held.* FROM held UNION ALL SELECT leased.id, %s, slot.id, NULL, %s, %s,"
            f" slot.datapoint_id, slot.position FROM leased JOIN slot ON slot.id = leased.job_datapoint_id",
            [*held_params, *open_params,
             public_id, job.pk, labeler.pk, Lease.Status.ACTIVE, rows.datetime_param(now),
             rows.datetime_param(expires_at), public_id, rows.datetime_param(now), rows.datetime_param(expires_at)],
        )
        row = cursor.fetchone()
    return None if row is None else _held_from_row(job, labeler, row)


def _held_from_row(job: Job, labeler: AbstractBaseUser, row: Sequence) -> Lease:
    lease_id, public_id, slot_id, example_id, leased_at, expires_at, datapoint_id, position = row
    lease = rows.instance(Lease, id=lease_id, public_id=public_id, job_id=job.pk, job_datapoint_id=slot_id,
                          example_id=example_id, labeler_id=labeler.pk, status=Lease.Status.ACTIVE,
                          leased_at=rows.value(Lease, "leased_at", leased_at),
                          expires_at=rows.value(Lease, "expires_at", expires_at))
    lease.job = job
    if slot_id is not None:
        lease.job_datapoint = rows.instance(JobDatapoint, id=slot_id, job_id=job.pk, datapoint_id=datapoint_id,
                                            position=position)
    return lease


def _lease_if_room(*, job: Job, slot: OpenSlot, labeler: AbstractBaseUser, now,
                   duration: timedelta) -> Lease | None:
    """A live lease of the locked ``slot`` for ``labeler``, running
    ``duration``, if it still has room (``_room_sql``): a new row, or (their
    earlier lease ran out) the old row renewed under a new id, and the
    slot's active leases counted afresh (``JobDatapoint.leases_active``). ``None`` when full, or when the
    labeler's row there was answered or skipped (never revived: callers
    pass only slots ``_open_slot_sql`` finds, which leaves those out)."""
    public_id, expires_at = ids.task_id(), now + duration
    room, room_params = _room_sql(job.definition.responses_per_datapoint, now, other_than=labeler)
    lease_table = Lease._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {lease_table}"
            f" (public_id, job_id, job_datapoint_id, example_id, labeler_id, status, leased_at, expires_at)"
            f" SELECT %s, %s, jd.id, NULL, %s, %s, %s, %s FROM {JobDatapoint._meta.db_table} jd"
            f" WHERE jd.id = %s AND {room}"
            f" ON CONFLICT (job_datapoint_id, labeler_id) DO UPDATE SET public_id = EXCLUDED.public_id,"
            f" status = EXCLUDED.status, leased_at = EXCLUDED.leased_at, expires_at = EXCLUDED.expires_at"
            f" WHERE {lease_table}.status NOT IN (%s, %s)"
            f" RETURNING id",
            [public_id, job.pk, labeler.pk, Lease.Status.ACTIVE, rows.datetime_param(now),
             rows.datetime_param(expires_at), slot.id, *room_params, *ENDED_FOR_GOOD],
        )
        row = cursor.fetchone()
        if row is None:
            return None
        cursor.execute(*_leases_counted_sql(slot.id))
    lease = rows.instance(Lease, id=row[0], public_id=public_id, job_id=job.pk, job_datapoint_id=slot.id,
                          example_id=None, labeler_id=labeler.pk, status=Lease.Status.ACTIVE, leased_at=now,
                          expires_at=expires_at)
    lease.job = job
    lease.job_datapoint = rows.instance(JobDatapoint, id=slot.id, job_id=job.pk, datapoint_id=slot.datapoint_id,
                                        position=slot.position)
    return lease


def _leases_counted_sql(slot_id: int) -> tuple[str, list]:
    """Count the active leases of a job datapoint (whose lock the caller
    holds) into its row, whatever the count said before."""
    return (
        f"UPDATE {JobDatapoint._meta.db_table} SET leases_active = (SELECT COUNT(*) FROM {Lease._meta.db_table} l"
        f" WHERE l.job_datapoint_id = %s AND l.status = %s) WHERE id = %s",
        [slot_id, Lease.Status.ACTIVE, slot_id],
    )


# Statuses a lease never leaves: the labeler answered, or will not be offered the datapoint again.
ENDED_FOR_GOOD = (Lease.Status.SUBMITTED, Lease.Status.SKIPPED)

# An active lease ended (answered, skipped, released): one fewer on its datapoint's row.
LEASE_ENDED = "leases_active = CASE WHEN leases_active > 0 THEN leases_active - 1 ELSE 0 END"


def response_validate(*, datapoint: Datapoint, response: Any) -> dict:
    """A labeler's answer to ``datapoint``, checked against the wire format
    and normalized; ``ValidationError`` on ``response`` otherwise."""
    with field("response"):
        if datapoint.kind == TaskKind.DRAW:
            return wire.parse_draw_response(response)
        return wire.parse_compare_response(response, [datapoint.asset.labeler_value, datapoint.asset_b.labeler_value])


def _claim_lease(*, labeler: AbstractBaseUser, task_id: Any) -> tuple[Lease, JobDatapoint | None]:
    """The labeler's lease ``task_id`` and, for a job datapoint, that row,
    locked. ``Lease.DoesNotExist`` for anyone else's. Leases of a datapoint
    change only under its lock, so the status read after it is current."""
    if not isinstance(task_id, str):
        raise Lease.DoesNotExist
    slot = locks.job_datapoint_lock_for_task(task_id=task_id, labeler_id=labeler.pk)
    if slot is None:  # a quality check (no datapoint), or not this labeler's task
        lease = locks.lease_lock(public_id=task_id, labeler_id=labeler.pk)
    else:
        lease = Lease.objects.select_related("job__definition", "job__audience").get(
            public_id=task_id, labeler=labeler
        )
        lease.job_datapoint = slot
    _check_open(lease.status)
    return lease, slot


def _check_open(status: str) -> None:
    if status == Lease.Status.SUBMITTED:
        raise Conflict(ErrorCode.TASK_SUBMITTED, "You have already answered this task.")
    if status == Lease.Status.SKIPPED:
        raise Conflict(ErrorCode.TASK_SKIPPED, "You skipped this task.")


def _check_running(job: Job) -> None:
    """Answers are taken while the job runs, and (for tasks already held)
    while it is paused."""
    if job.state not in (Job.State.RUNNING, Job.State.PAUSED):
        raise Conflict(ErrorCode.JOB_NOT_RUNNING, f"This job is {job.state}; it takes no more responses.")


@dataclass(frozen=True)
class Submitted:
    lease: Lease
    membership: Membership | None  # the working membership, when the labeler still has one


def task_submit(*, labeler: AbstractBaseUser, task_id: Any, response: Any) -> Submitted:
    """Take the labeler's answer to their task. A job datapoint's answer is
    validated against the wire format and stored with the labeler's current
    user score and the time the task was held; a late answer (lease expired,
    or given back) is still taken while the datapoint has room. A quality check's answer is
    graded into the labeler's score instead.

    Everything that needs no lock (finding the task, checking the answer,
    the labeler's membership) happens before the datapoint is locked, so the
    lock, which every labeler on that datapoint waits for, is held briefly.
    """
    if not isinstance(task_id, str):
        raise Lease.DoesNotExist
    lease, known_membership = _lease_to_answer(task_id=task_id, labeler=labeler)
    job = lease.job
    _check_open(lease.status)
    _check_running(job)
    if lease.job_datapoint_id is None:
        with transaction.atomic():
            lease = locks.lease_lock(public_id=task_id, labeler_id=labeler.pk)
            _check_open(lease.status)
            membership = _gold_submit(labeler=labeler, lease=lease, response=response)
            _mark_submitted(lease)
        return Submitted(lease=lease, membership=membership)
    slot = lease.job_datapoint
    slot.datapoint = content.datapoint(slot.datapoint_id)
    payload = response_validate(datapoint=slot.datapoint, response=response)
    membership = _working(labeler=labeler, audience=job.audience, membership=known_membership)
    if _answer_at_once(labeler=labeler, lease=lease, payload=payload, membership=membership):
        return Submitted(lease=lease, membership=membership)
    # The lease ran out or is no longer open (or this database, or the
    # definition, needs the general path): decided under the lock, in steps.
    with transaction.atomic():
        now = timezone.now()
        locked = locks.job_datapoint_lock_with_lease(pk=slot.pk, lease_id=lease.pk, now=rows.datetime_param(now))
        slot.response_count, slot.closed, slot.stopped_early = locked.response_count, locked.closed, locked.stopped_early
        lease.status, expired = locked.lease_status, locked.lease_expired
        _check_open(lease.status)
        _response_store(labeler=labeler, lease=lease, slot=slot, payload=payload, membership=membership,
                        expired=expired or lease.status == Lease.Status.RELEASED, now=now)
    return Submitted(lease=lease, membership=membership)


def _answer_at_once(*, labeler: AbstractBaseUser, lease: Lease, payload: dict, membership: Membership) -> bool:
    """Store the answer to a live lease in one statement, the way most answers
    arrive: lock the job datapoint and the lease (in that order, as the
    general path does), and only if the lease is still open and live and the
    datapoint still short of its answers, insert the response, count it and
    mark the lease submitted. A locked row is read at its latest version even
    after waiting, and every condition here is about the two locked rows, so
    nothing is decided on an older view. ``False`` (nothing written) when
    it does not apply: PostgreSQL only; not for definitions that stop a
    datapoint early, whose check reads the other answers."""
    job, slot = lease.job, lease.job_datapoint
    definition = job.definition
    if connection.vendor != "postgresql" or definition.confidence_threshold is not None:
        return False
    now = timezone.now()
    needed = definition.responses_per_datapoint
    slot_table, lease_table = JobDatapoint._meta.db_table, Lease._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"WITH locked AS (SELECT jd.id, jd.response_count, l.status, l.expires_at > %s AS live, jd.closed"
            f" FROM {slot_table} jd JOIN {lease_table} l ON l.job_datapoint_id = jd.id"
            f" WHERE jd.id = %s AND l.id = %s{locks.for_update_clause('jd, l')}),"
            f" ok AS (SELECT id, response_count + 1 AS answered FROM locked"
            f" WHERE status = %s AND live AND NOT closed AND response_count < %s),"
            f" answer AS (INSERT INTO {Response._meta.db_table} ({RESPONSE_COLUMNS})"
            f" SELECT %s, %s, %s, %s, %s, %s, %s, %s, %s FROM ok),"
            f" counted AS (UPDATE {slot_table} jd SET response_count = ok.answered, last_response_at = %s,"
            f" closed = ok.answered >= %s, {LEASE_ENDED} FROM ok WHERE jd.id = ok.id)"
            f" UPDATE {lease_table} SET status = %s WHERE id = %s AND EXISTS (SELECT 1 FROM ok)"
            f" RETURNING id",
            [rows.datetime_param(now), slot.pk, lease.pk, Lease.Status.ACTIVE, needed,
             *_response_values(lease=lease, labeler=labeler, payload=payload, membership=membership, now=now),
             rows.datetime_param(now), needed,
             Lease.Status.SUBMITTED, lease.pk],
        )
        row = cursor.fetchone()
    if row is None:
        return False
    lease.status = Lease.Status.SUBMITTED
    _answer_stored(job=job, slot=slot)
    return True


RESPONSE_COLUMNS = ("public_id, job_id, job_datapoint_id, labeler_id, payload, user_score, graded_answers,"
                    " time_spent_ms, created_at")


def _response_values(*, lease: Lease, labeler: AbstractBaseUser, payload: dict, membership: Membership,
                     now) -> list:
    """The values of the answer to ``lease`` as a row (``RESPONSE_COLUMNS``):
    the labeler's current user score and the graded answers behind it, and
    how long they held the task."""
    time_spent_ms = min(int((now - lease.leased_at).total_seconds() * 1000), 2**31 - 1)
    return [ids.response_id(), lease.job_id, lease.job_datapoint_id, labeler.pk,
            rows.to_db(Response, "payload", payload), membership.user_score, membership.answers, time_spent_ms,
            rows.datetime_param(now)]


def _answer_stored(*, job: Job, slot: JobDatapoint) -> None:
    """After an answer is stored: its datapoint's aggregation, and the job's
    watchers told (once the transaction commits)."""
    from .tasks import enqueue_aggregation

    enqueue_aggregation(slot.pk)
    events.job_progressed(job.public_id)


def _lease_to_answer(*, task_id: str, labeler: AbstractBaseUser) -> tuple[Lease, Membership | None]:
    """The labeler's lease ``task_id``, with its job, the job's audience and
    the job datapoint, and the labeler's membership of that audience (or
    ``None``), in one statement. ``Lease.DoesNotExist`` for anyone else's."""
    audience_fields = [f.attname for f in Audience._meta.concrete_fields]
    sql = (
        f"SELECT l.id, l.status, l.leased_at, l.job_id, l.job_datapoint_id, l.example_id,"
        f" j.public_id, j.owner_id, j.definition_id, j.state,"
        f" {', '.join(f'a.{Audience._meta.get_field(name).column}' for name in audience_fields)},"
        f" jd.datapoint_id, jd.position, m.id, m.state, m.user_score, m.answers"
        f" FROM {Lease._meta.db_table} l JOIN {Job._meta.db_table} j ON j.id = l.job_id"
        f" JOIN {Audience._meta.db_table} a ON a.id = j.audience_id"
        f" LEFT JOIN {JobDatapoint._meta.db_table} jd ON jd.id = l.job_datapoint_id"
        f" LEFT JOIN {Membership._meta.db_table} m ON m.audience_id = j.audience_id AND m.labeler_id = l.labeler_id"
        f" WHERE l.public_id = %s AND l.labeler_id = %s"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [task_id, labeler.pk])
        row = cursor.fetchone()
    if row is None:
        raise Lease.DoesNotExist
    lease_id, status, leased_at, job_id, slot_id, example_id, job_public_id, owner_id, definition_id, state = row[:10]
    audience_values = row[10:10 + len(audience_fields)]
    datapoint_id, position, membership_id, membership_state, user_score, answers = row[10 + len(audience_fields):]
    audience = rows.instance(Audience, **{
        name: rows.value(Audience, name, value) for name, value in zip(audience_fields, audience_values, strict=True)
    })
    job = rows.instance(Job, id=job_id, public_id=job_public_id, owner_id=owner_id, definition_id=definition_id,
                        audience_id=audience.pk, state=state)
    job.definition, job.audience = content.definition(definition_id), audience
    lease = rows.instance(Lease, id=lease_id, public_id=task_id, job_id=job_id, job_datapoint_id=slot_id,
                          example_id=example_id, labeler_id=labeler.pk, status=status,
                          leased_at=rows.value(Lease, "leased_at", leased_at))
    lease.job = job
    if slot_id is not None:
        lease.job_datapoint = rows.instance(JobDatapoint, id=slot_id, job_id=job_id, datapoint_id=datapoint_id,
                                            position=position)
    membership = None if membership_id is None else rows.instance(
        Membership, id=membership_id, labeler_id=labeler.pk, audience_id=audience.pk, state=membership_state,
        user_score=user_score, answers=answers)
    return lease, membership


def _mark_submitted(lease: Lease) -> None:
    rows.write_together([_lease_submitted_sql(lease)])
    lease.status = Lease.Status.SUBMITTED


def _lease_submitted_sql(lease: Lease) -> tuple[str, list]:
    return f"UPDATE {Lease._meta.db_table} SET status = %s WHERE id = %s", [Lease.Status.SUBMITTED, lease.pk]


def _response_store(*, labeler: AbstractBaseUser, lease: Lease, slot: JobDatapoint, payload: dict,
                    membership: Membership, expired: bool, now) -> None:
    """Store a validated answer on the locked ``slot`` (the caller holds its
    lock; ``expired``: the lease ran out before ``now``, or was released):
    the response, the datapoint's count and the lease's status, written in
    one round trip. A released lease was already counted out of the row's
    active leases."""
    job = lease.job
    ended = f", {LEASE_ENDED}" if lease.status == Lease.Status.ACTIVE else ""
    definition = job.definition
    if expired and not _slot_with_room(slot.pk, definition.responses_per_datapoint, labeler, now):
        raise Conflict(ErrorCode.TASK_EXPIRED,
                       "Your time for this task ran out and its place was given to someone else.")
    if slot.closed or slot.response_count >= definition.responses_per_datapoint:
        raise Conflict(ErrorCode.TASK_EXPIRED, "This datapoint already has all the answers it needs.")
    slot.response_count += 1
    slot.last_response_at = now
    if slot.response_count >= definition.responses_per_datapoint:
        slot.closed = True
    elif definition.confidence_threshold is not None and _confident(slot, definition, payload, membership):
        slot.closed = slot.stopped_early = True
        # Outstanding leases end now: the datapoint takes no more answers.
        Lease.objects.filter(job_datapoint=slot, status=Lease.Status.ACTIVE).exclude(pk=lease.pk).end(now)
    rows.write_together([
        (f"INSERT INTO {Response._meta.db_table} ({RESPONSE_COLUMNS}) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s)",
         _response_values(lease=lease, labeler=labeler, payload=payload, membership=membership, now=now)),
        (f"UPDATE {JobDatapoint._meta.db_table} SET response_count = %s, last_response_at = %s, closed = %s,"
         f" stopped_early = %s{ended} WHERE id = %s",
         [slot.response_count, rows.datetime_param(now), slot.closed, slot.stopped_early, slot.pk]),
        _lease_submitted_sql(lease),
    ])
    lease.status = Lease.Status.SUBMITTED
    _answer_stored(job=job, slot=slot)


def _confident(slot: JobDatapoint, definition: JobDefinition, payload: dict, membership: Membership) -> bool:
    """Whether, with the vote ``payload`` about to be stored, the compare
    datapoint's leader reaches the definition's confidence threshold
    (jobs.aggregation.leader_confidence: votes of labelers nobody graded
    count for nothing)."""
    first = slot.datapoint.asset.labeler_value
    stored = Response.objects.filter(job_datapoint=slot).values_list("payload__choice", "user_score",
                                                                     "graded_answers")
    votes = [
        (0 if choice == first else 1, score, graded)
        for choice, score, graded in [*stored, (payload["choice"], membership.user_score, membership.answers)]
    ]
    leader, confidence = leader_confidence(votes)
    return leader is not None and confidence + 1e-9 >= definition.confidence_threshold  # 1e-9: float rounding


def _gold_submit(*, labeler: AbstractBaseUser, lease: Lease, response: Any) -> Membership | None:
    """Grade a quality check into the labeler's membership; drop them from
    the audience when their score falls below its bar (then ``None``). Their
    earlier responses keep the score they were given with. A labeler no
    longer graduated (dropped meanwhile) is refused, as on a job task."""
    from audiences.services import membership_check_bar, membership_grade_gold

    try:
        locked = locks.membership_lock(labeler_id=labeler.pk, audience_id=lease.job.audience_id)
    except Membership.DoesNotExist:
        locked = None
    membership = _working(labeler=labeler, audience=lease.job.audience, membership=locked)
    membership_grade_gold(membership=membership, example=lease.example, response=response)
    if membership_check_bar(membership=membership):
        return membership
    # Dropped: their tasks in this audience's jobs go back to the pool.
    Lease.objects.filter(labeler=labeler, job__audience_id=membership.audience_id,
                         status=Lease.Status.ACTIVE).exclude(pk=lease.pk).end(timezone.now())
    return None


@transaction.atomic
def task_skip(*, labeler: AbstractBaseUser, task_id: Any) -> Lease:
    """Give the task back: its slot returns to the pool, and the labeler will
    not be offered this datapoint again."""
    lease, slot = _claim_lease(labeler=labeler, task_id=task_id)
    _lease_end(lease, slot, Lease.Status.SKIPPED)
    return lease


def _lease_end(lease: Lease, slot: JobDatapoint | None, status: str) -> None:
    """Give the claimed ``lease`` its final ``status`` (skipped, released)
    and, when it was still active, count it out of its locked datapoint's
    row, in one round trip."""
    writes = [(f"UPDATE {Lease._meta.db_table} SET status = %s WHERE id = %s", [status, lease.pk])]
    if slot is not None and lease.status == Lease.Status.ACTIVE:  # a released lease no longer counts
        writes.append((f"UPDATE {JobDatapoint._meta.db_table} SET {LEASE_ENDED} WHERE id = %s", [slot.pk]))
    rows.write_together(writes)
    lease.status = status


def task_renew(*, labeler: AbstractBaseUser, task_id: Any, lease_seconds: int | None = None) -> Lease:
    """Extend the labeler's live lease ``task_id`` to ``lease_seconds``
    (default ``LEASE_SECONDS``) from now: what a work page does while it is
    open. Under the datapoint's lock, and only then the time: a lease that
    has run out by then may have had its room given to someone else, so it
    is not extended (409 ``task_expired``: ask for the next task, which may
    be the same datapoint again); nor is a released one (``task_released``).
    Quality checks alike, under their own row's lock."""
    with transaction.atomic():
        lease, _ = _claim_lease(labeler=labeler, task_id=task_id)
        now = timezone.now()
        _check_running(lease.job)
        if lease.status == Lease.Status.RELEASED:
            raise Conflict(ErrorCode.TASK_RELEASED, "You gave this task back; ask for your next task.")
        if lease.expires_at <= now:
            raise Conflict(ErrorCode.TASK_EXPIRED, "Your time for this task ran out; ask for your next task.")
        # From now, and never before it was leased (lease_expires_after_start), whatever the clocks.
        lease.expires_at = max(now, lease.leased_at) + _lease_duration(lease_seconds)
        rows.write_together([(f"UPDATE {Lease._meta.db_table} SET expires_at = %s WHERE id = %s",
                              [rows.datetime_param(lease.expires_at), lease.pk])])
    return lease


def task_release(*, labeler: AbstractBaseUser, task_id: Any) -> Lease:
    """Give the task back without skipping it (the labeler's page closed):
    its room returns to the pool at once, and the labeler may be given the
    datapoint again later. Releasing a released task changes nothing; one
    that ran out is released all the same (it stops counting)."""
    with transaction.atomic():
        lease, slot = _claim_lease(labeler=labeler, task_id=task_id)
        if lease.status != Lease.Status.RELEASED:
            _lease_end(lease, slot, Lease.Status.RELEASED)
    return lease


# --- Job state ----------------------------------------------------------------------------


@transaction.atomic
def job_set_paused(*, job: Job, paused: bool) -> Job:
    """Pause a running job (no new tasks are handed out; answers to tasks
    already held are still taken) or resume a paused one."""
    job = locks.job_lock(pk=job.pk)
    wanted, allowed_from = (
        (Job.State.PAUSED, Job.State.RUNNING) if paused else (Job.State.RUNNING, Job.State.PAUSED)
    )
    if job.state == wanted:
        return job
    if job.state != allowed_from:
        raise Conflict(ErrorCode.JOB_NOT_RUNNING,
                       f"This job is {job.state}; only a {allowed_from} job can be {'paused' if paused else 'resumed'}.")
    job.state = wanted
    job.save(update_fields=["state"])
    events.job_state_changed(job.public_id, job.audience.public_id)
    return job
