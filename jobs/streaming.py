"""Responses written while they are read from the database, so a server
process holds a bounded part of a large document, whatever the job's size.

A document is built from *parts*: ``json_object`` writes a JSON object
whose values may be iterators (written as arrays, one element at a time),
``csv_lines`` a CSV file row by row. ``streaming_attachment`` sends the
parts as an HTTP response in pieces of about ``PIECE_BYTES``.

Under ASGI, Django reads a synchronous streaming body whole before sending
it (``StreamingHttpResponse.__aiter__`` calls ``list`` on it);
``PiecewiseStreamingResponse`` pulls one piece at a time instead, each in
the request's own thread (``thread_sensitive``: the same database
connection as the view), so memory stays bounded there too.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Iterator
from typing import Any

from asgiref.sync import sync_to_async
from django.http import StreamingHttpResponse
from django.utils.cache import patch_cache_control
from django.utils.http import content_disposition_header

PIECE_BYTES = 64 * 1024
_END = object()


def json_object(fields: Iterable[tuple[str, Any]], *, ensure_ascii: bool = False) -> Iterator[str]:
    """The text of a JSON object of ``fields`` (key, value) in order, as
    ``json.dumps`` writes it (``", "`` and ``": "`` separators). A value
    that is an iterator (not a list, dict or string) is written as an
    array, element by element, without being held."""
    yield "{"
    for index, (key, value) in enumerate(fields):
        yield ("" if index == 0 else ", ") + json.dumps(key, ensure_ascii=ensure_ascii) + ": "
        if isinstance(value, Iterator):
            yield "["
            for position, element in enumerate(value):
                yield ("" if position == 0 else ", ") + json.dumps(element, ensure_ascii=ensure_ascii)
            yield "]"
        else:
            yield json.dumps(value, ensure_ascii=ensure_ascii)
    yield "}"


def csv_lines(header: Iterable[Any], rows: Iterable[Iterable[Any]]) -> Iterator[str]:
    """A CSV file (``\\r\\n`` line ends) line by line."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    for row in _chain(header, rows):
        writer.writerow(row)
        yield buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()


def _chain(header: Iterable[Any], rows: Iterable[Iterable[Any]]) -> Iterator[Iterable[Any]]:
    yield header
    yield from rows


def pieces(parts: Iterable[str], *, size: int = PIECE_BYTES) -> Iterator[bytes]:
    """``parts`` encoded as UTF-8 and joined into pieces of about ``size`` bytes."""
    held: list[bytes] = []
    length = 0
    for part in parts:
        data = part.encode("utf-8")
        held.append(data)
        length += len(data)
        if length >= size:
            yield b"".join(held)
            held, length = [], 0
    if held:
        yield b"".join(held)


class PiecewiseStreamingResponse(StreamingHttpResponse):
    """A streaming response that an ASGI server reads one piece at a time
    (see the module's docstring); under WSGI, as ``StreamingHttpResponse``."""

    async def __aiter__(self):
        iterator = iter(self.streaming_content)
        while (piece := await sync_to_async(next, thread_sensitive=True)(iterator, _END)) is not _END:
            yield piece


def streaming_attachment(parts: Iterable[str], *, content_type: str, filename: str) -> PiecewiseStreamingResponse:
    """A download of the text ``parts``, written as they are produced."""
    response = PiecewiseStreamingResponse(pieces(parts), content_type=content_type)
    response["Content-Disposition"] = content_disposition_header(as_attachment=True, filename=filename)
    patch_cache_control(response, private=True, no_cache=True)
    return response


def streaming_json(parts: Iterable[str]) -> PiecewiseStreamingResponse:
    """A JSON body (not an attachment) written as it is produced."""
    return PiecewiseStreamingResponse(pieces(parts), content_type="application/json")
