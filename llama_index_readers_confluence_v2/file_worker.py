"""A parser worker (`python -m llama_index_readers_confluence_v2.file_worker`), run by
`files.ParserPool`: reads (suffix, bytes) requests from stdin, answers ("ok", text) or
("rejected", reason) on stdout, one at a time, until stdin closes. Messages are pickles behind
an 8-byte length, exchanged only with the parent that started this process."""

from __future__ import annotations

import contextlib
import logging
import os
import pickle
import sys
from typing import Any, BinaryIO

from .errors import FileRejected
from .files import parse_with_file_reader


def _send(out: BinaryIO, value: Any) -> None:
    message = pickle.dumps(value)
    out.write(len(message).to_bytes(8, "big") + message)
    out.flush()


def _receive(source: BinaryIO) -> Any:
    head = source.read(8)
    if len(head) < 8:
        return None
    return pickle.loads(source.read(int.from_bytes(head, "big")))


def serve(source: BinaryIO, out: BinaryIO) -> None:
    with contextlib.suppress(OSError):  # parsing yields the cores to the downloads feeding it
        os.nice(5)
    logging.basicConfig(level=logging.CRITICAL)  # before readers that configure logging on import
    with contextlib.suppress(ImportError):  # before "ready": no file's clock pays for it
        import llama_index.readers.file  # noqa: F401
    _send(out, "ready")
    while (request := _receive(source)) is not None:
        suffix, data = request
        try:
            _send(out, ("ok", parse_with_file_reader(suffix, data)))
        except FileRejected as exc:
            _send(out, ("rejected", str(exc)))
        except Exception as exc:  # a parser's own failure: a reason, never text
            _send(out, ("rejected", f"the parser failed ({type(exc).__name__}: {exc})"))


if __name__ == "__main__":
    real_stdout = sys.stdout.buffer
    sys.stdout = sys.stderr  # parsers that print must not corrupt the answers
    serve(sys.stdin.buffer, real_stdout)
