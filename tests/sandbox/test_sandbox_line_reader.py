"""The sandbox's socket reader takes lines from its buffer directly: it must read the
same lines, and count the same bytes, as cheroot's reader it replaces."""

from __future__ import annotations

import socket

import pytest
from cheroot.makefile import StreamReader

from reconcile.sandbox.server import _LineReader

DATA = (
    b"GET /api/v2/ticketing/ticket/REQ-0509 HTTP/1.1\r\n"
    + b"Authorization: Bearer "
    + b"x" * 600
    + b"\r\nAccept: application/json\r\n\r\n"
    + b"body line\n"
    + b"tail without a newline"
)


def lines(reader_class: type[StreamReader], size: int | None) -> tuple[list[bytes], int]:
    writer, reading = socket.socketpair()
    with writer, reading:
        writer.sendall(DATA)
        writer.shutdown(socket.SHUT_WR)
        reader = reader_class(reading, "rb")
        read = []
        while line := reader.readline(size):
            read.append(line)
        return read, reader.bytes_read


@pytest.mark.parametrize("size", [-1, None, 1, 7, 256, 5000])
def test_line_reader_reads_what_cheroots_reader_reads(size: int | None) -> None:
    expected = lines(StreamReader, size)
    assert b"".join(expected[0]) == DATA
    assert lines(_LineReader, size) == expected
