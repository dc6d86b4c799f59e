"""Streamed bodies (``jobs.streaming``): JSON written as ``json.dumps``
writes it with iterators as arrays, CSV line by line, and under ASGI a body
read one piece at a time (Django's own streaming response reads a
synchronous body whole before sending any of it)."""

from __future__ import annotations

import asyncio
import json

from jobs import streaming


def test_json_object_writes_iterators_as_arrays_as_json_dumps_would():
    fields = [
        ("info", {"name": "Bücher", "n": 1}),
        ("results", iter([{"a": 1}, {"b": [2, None]}])),
        ("empty", iter([])),
        ("summary", {"ranking": None}),
    ]
    text = "".join(streaming.json_object(fields))
    assert text == json.dumps(
        {
            "info": {"name": "Bücher", "n": 1},
            "results": [{"a": 1}, {"b": [2, None]}],
            "empty": [],
            "summary": {"ranking": None},
        },
        ensure_ascii=False,
    )


def test_csv_lines_are_whole_rows():
    lines = list(streaming.csv_lines(["a", "b"], iter([[1, "x,y"], [2, 'say "hi"']])))
    assert lines == ["a,b\r\n", '1,"x,y"\r\n', '2,"say ""hi"""\r\n']


def test_pieces_join_parts_up_to_the_size():
    pieces = list(streaming.pieces(iter(["ab", "cd", "é", "f"]), size=4))
    assert pieces == [b"abcd", "éf".encode()]


def test_an_asgi_server_reads_the_body_one_piece_at_a_time():
    produced = []

    def parts():
        for index in range(5):
            produced.append(index)
            yield "x" * streaming.PIECE_BYTES  # a piece each

    response = streaming.streaming_attachment(parts(), content_type="text/plain", filename="a.txt")

    async def first_piece():
        body = aiter(response)
        piece = await anext(body)
        await body.aclose()
        return piece

    assert asyncio.run(first_piece()) == b"x" * streaming.PIECE_BYTES
    assert produced == [0]  # nothing of the rest of the body
    assert response["Content-Disposition"] == 'attachment; filename="a.txt"'
