"""Opaque public identifiers.

Objects are addressed in URLs and the API by a prefixed random id
(``aud_3f9c...``), never by their sequential primary key, so ids reveal
nothing about how many objects exist and cannot be guessed.
"""

import uuid


def _new(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex}"


def audience_id() -> str:
    return _new("aud")


def example_id() -> str:
    return _new("qex")


def asset_id() -> str:
    return _new("ast")


def job_definition_id() -> str:
    return _new("jdf")


def job_id() -> str:
    return _new("job")


def task_id() -> str:
    return _new("tsk")


def response_id() -> str:
    return _new("rsp")
