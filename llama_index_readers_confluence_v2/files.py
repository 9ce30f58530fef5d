"""Attached files to text: which parser takes which file, and parsing it safely.

Parsers follow `SimpleDirectoryReader`'s `file_extractor` convention: a lower-cased dotted suffix
maps to a LlamaIndex reader instance, whose documents' texts are joined into one text (one
attachment, one Document: a PDF's pages or a deck's slides are not split apart). Built in, with
no extra dependency: plain text and data files, and HTML (through this package's own converter,
since `HTMLTagReader` reads only `<section>` elements). PDF, DOCX, XLSX and PPTX use
`llama-index-readers-file` (the `[files]` extra).

Safety: Office files are zip archives, so their declared expanded size and compression ratio
are checked before any parser opens them (bombs are refused unexpanded); PDF and Office parsers
run in worker processes with a time limit per file (a hung parser is killed, not waited for);
a file is
written to a private temporary folder only for the parser's time, and folders left by a killed
run are removed on the next one. A file that cannot be parsed raises `FileRejected` with the
reason; it never becomes document text.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib.util
import io
import os
import pickle
import shutil
import sys
import tempfile
import zipfile
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .errors import FileRejected

DEFAULT_MAX_FILE_BYTES = 50 * 1024 * 1024
MAX_EXPANDED_BYTES = 512 * 1024 * 1024
MAX_COMPRESSION_RATIO = 200
PARSE_TIMEOUT = 60.0
INSTALL_HINT = "pip install 'llama-index-readers-confluence-v2[files]'"
TEMP_PREFIX = "confluence-v2-files-"

TEXT_SUFFIXES = frozenset(
    [
        ".txt",
        ".text",
        ".log",
        ".md",
        ".markdown",
        ".mdx",
        ".csv",
        ".tsv",
        ".json",
        ".xml",
        ".yaml",
        ".yml",
        ".conf",
        ".cfg",
        ".ini",
        ".sql",
        ".rst",
    ]
)
HTML_SUFFIXES = frozenset([".html", ".htm", ".xhtml"])
# suffix -> (class of llama_index.readers.file, constructor keyword arguments)
FILE_READERS: dict[str, tuple[str, dict[str, Any]]] = {
    ".pdf": ("PDFReader", {"return_full_document": True}),
    ".docx": ("DocxReader", {}),
    ".xlsx": ("PandasExcelReader", {}),
    ".pptx": ("PptxReader", {"raise_on_error": True}),
}
ARCHIVE_SUFFIXES = frozenset([".docx", ".xlsx", ".pptx"])
SUFFIX_OF_TYPE = {
    "application/pdf": ".pdf",
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document": ".docx",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": ".xlsx",
    "application/vnd.openxmlformats-officedocument.presentationml.presentation": ".pptx",
    "text/csv": ".csv",
    "text/html": ".html",
    "text/markdown": ".md",
    "text/plain": ".txt",
    "application/json": ".json",
    "application/xml": ".xml",
    "text/xml": ".xml",
}


@dataclass(frozen=True)
class AttachmentInfo:
    """What `attachment_filter` sees of an attachment, before anything is downloaded."""

    attachment_id: str
    file_name: str
    media_type: str
    file_size: int | None
    version: int | None
    page_id: str
    page_title: str

    @property
    def suffix(self) -> str:
        return suffix_of(self.file_name, self.media_type)


def suffix_of(file_name: str, media_type: str) -> str:
    """The lower-cased dotted suffix, from the name or else from the media type."""
    suffix = Path(file_name).suffix.lower()
    if suffix:
        return suffix
    return SUFFIX_OF_TYPE.get(media_type.split(";")[0].strip().lower(), "")


def needs_workers(file_extractor: Mapping[str, Any], originals: frozenset[str]) -> bool:
    """Whether some kind of file would be parsed in a worker process (not overridden)."""
    return any(s not in file_extractor and s not in originals for s in FILE_READERS)


def has_parser(suffix: str, file_extractor: Mapping[str, Any]) -> bool:
    return (
        suffix in file_extractor
        or suffix in TEXT_SUFFIXES
        or suffix in HTML_SUFFIXES
        or suffix in FILE_READERS
    )


# the incumbent's `custom_parsers` keys (its FileType enum, by name) -> suffixes
FILE_TYPE_SUFFIXES = {
    "PDF": (".pdf",),
    "DOCUMENT": (".docx", ".doc"),
    "SPREADSHEET": (".xlsx", ".xls"),
    "PRESENTATION": (".pptx", ".ppt"),
    "TEXT": (".txt",),
    "HTML": (".html", ".htm"),
    "CSV": (".csv",),
    "MARKDOWN": (".md", ".markdown"),
}


def parsers_of(custom_parsers: Mapping[Any, Any] | None) -> dict[str, Any]:
    """The incumbent's `custom_parsers={FileType.PDF: reader}` as a `file_extractor` map."""
    extractor: dict[str, Any] = {}
    for key, reader in (custom_parsers or {}).items():
        name = str(getattr(key, "name", key)).upper()
        for suffix in FILE_TYPE_SUFFIXES.get(name, ()):
            extractor[suffix] = reader
    return extractor


# ---- checks and built-in parsers (pure) ---------------------------------------------------------


def check_archive(data: bytes, *, max_expanded: int = MAX_EXPANDED_BYTES) -> None:
    """Refuse a zip whose entries would expand past `max_expanded` bytes, or by an absurd
    ratio, from its central directory alone (nothing is decompressed)."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            entries = archive.infolist()
    except (zipfile.BadZipFile, ValueError) as exc:
        raise FileRejected(f"corrupt or not an Office file ({exc})") from None
    expanded = sum(entry.file_size for entry in entries)
    if expanded > max_expanded:
        raise FileRejected(
            f"refused as a zip bomb: it would expand to {expanded:,} bytes "
            f"(the cap is {max_expanded:,})"
        )
    if expanded > 10 * 1024 * 1024 and expanded > MAX_COMPRESSION_RATIO * max(1, len(data)):
        raise FileRejected(
            f"refused as a zip bomb: {len(data):,} bytes would expand {expanded // len(data)}-fold"
        )


def check_original(suffix: str, data: bytes) -> None:
    """A file to be handed over as it is (not parsed here): refused when nothing could open it
    (a zip bomb, a broken Office package, a PDF cut short or encrypted). Structure only."""
    if suffix in ARCHIVE_SUFFIXES:
        check_archive(data)
    elif suffix == ".pdf":
        check_pdf_structure(data)


def check_pdf_structure(data: bytes) -> None:
    """A PDF has a header, an end-of-file marker near its end and, when encrypted, an
    /Encrypt entry in its (never compressed) trailer dictionary."""
    if b"%PDF-" not in data[:1024]:
        raise FileRejected("corrupt: not a PDF (no %PDF- header)")
    if b"%%EOF" not in data[-2048:] or b"startxref" not in data[-4096:]:
        raise FileRejected("corrupt: the PDF is cut short (no startxref and %%EOF at its end)")
    if b"/Encrypt" in data:
        raise FileRejected("encrypted, cannot be read without its password")


def text_of_plain_file(data: bytes) -> str:
    if data[:2] in (b"\xff\xfe", b"\xfe\xff"):
        return data.decode("utf-16", errors="replace")
    if b"\x00" in data[:8192]:
        raise FileRejected("binary data where text was expected")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return data.decode("cp1252", errors="replace")


def text_of_html_file(data: bytes) -> str:
    from .markdown import storage_to_markdown

    return storage_to_markdown(text_of_plain_file(data)).markdown


def text_of_documents(documents: list[Any]) -> str:
    """One text from a reader's documents (pages, slides, sheets), in order."""
    texts = [str(getattr(document, "text", "") or "").strip() for document in documents]
    return "\n\n".join(text for text in texts if text)


# ---- running parsers ----------------------------------------------------------------------------


def parse_builtin(suffix: str, data: bytes) -> str:
    """Text and HTML files: cheap, no dependency (run in a thread)."""
    return text_of_html_file(data) if suffix in HTML_SUFFIXES else text_of_plain_file(data)


def parse_with_file_reader(suffix: str, data: bytes) -> str:
    """PDF and Office files through llama-index-readers-file (run in a worker process)."""
    name, options = FILE_READERS[suffix]
    try:
        import llama_index.readers.file as file_readers
    except ImportError:
        raise FileRejected(
            f"{suffix} files need llama-index-readers-file: {INSTALL_HINT}"
        ) from None
    return parse_with_reader(getattr(file_readers, name)(**options), suffix, data)


def parse_with_reader(reader: Any, suffix: str, data: bytes, folder: str | None = None) -> str:
    """Give `reader` the file as a temporary file of the right suffix, as readers expect (in
    `folder` when given: the incumbent's `custom_folder`)."""
    with temporary_file(suffix, data, folder) as path:
        try:
            documents = reader.load_data(path)
        except FileRejected:
            raise
        except Exception as exc:
            raise FileRejected(_reason(exc)) from None
    return text_of_documents(list(documents or []))


def _reason(exc: BaseException) -> str:
    last_attempt = getattr(exc, "last_attempt", None)  # a reader retried by tenacity
    if last_attempt is not None and last_attempt.exception() is not None:
        exc = last_attempt.exception()
    text = " ".join(str(exc).split())[:200]
    if "crypt" in f"{type(exc).__name__} {text}".lower():
        return f"encrypted, cannot be read without its password ({type(exc).__name__})"
    return f"could not be parsed ({type(exc).__name__}: {text or 'no detail'})"


@contextlib.contextmanager
def temporary_file(suffix: str, data: bytes, parent: str | None = None) -> Iterator[Path]:
    folder = Path(tempfile.mkdtemp(prefix=f"{TEMP_PREFIX}{os.getpid()}-", dir=parent))
    try:
        path = folder / f"attachment{suffix}"
        path.write_bytes(data)
        yield path
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def remove_stale_temporary_folders() -> int:
    """Folders left by runs that were killed (their process is gone); returns how many."""
    removed = 0
    for folder in Path(tempfile.gettempdir()).glob(f"{TEMP_PREFIX}*"):
        pid = folder.name[len(TEMP_PREFIX) :].split("-", 1)[0]
        if pid.isdigit() and not _alive(int(pid)):
            shutil.rmtree(folder, ignore_errors=True)
            removed += 1
    return removed


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class ParserPool:
    """Worker processes for PDF and Office files, each file with a time limit.

    Each worker is a fresh interpreter (`python -m ...file_worker`) fed through pipes, not a
    fork or a multiprocessing spawn: nothing of the caller's program is re-run or inherited,
    and a worker whose parser runs over the limit (or crashes) is killed and replaced.
    Workers start on the first such file and stop when the run ends.
    """

    def __init__(self, workers: int | None = None, timeout: float = PARSE_TIMEOUT) -> None:
        self.workers = workers or max(1, min(4, os.cpu_count() or 1))
        self.timeout = timeout
        self._idle: list[_Worker] = []
        self._starting: list[asyncio.Task[_Worker]] = []
        self._free: asyncio.Semaphore | None = None

    def warm(self) -> None:
        """Start the workers now, in the background: their start-up (importing the readers,
        about 2 s) then overlaps the listing instead of holding up the first file."""
        if self._free is None and importlib.util.find_spec("llama_index.readers.file"):
            self._open()
            self._starting = [asyncio.ensure_future(_Worker.start()) for _ in range(self.workers)]

    def _open(self) -> asyncio.Semaphore:
        if self._free is None:
            remove_stale_temporary_folders()
            self._free = asyncio.Semaphore(self.workers)
        return self._free

    async def _worker(self) -> _Worker:
        if self._idle:
            return self._idle.pop()
        if self._starting:
            return await self._starting.pop()
        return await _Worker.start()

    async def parse(self, suffix: str, data: bytes) -> str:
        """The file's text, or FileRejected with the reason (a time-out included)."""
        async with self._open():
            worker = await self._worker()
            try:
                verdict, value = await asyncio.wait_for(worker.ask(suffix, data), self.timeout)
            except asyncio.TimeoutError:
                await worker.kill()
                raise FileRejected(
                    f"parsing took longer than {self.timeout:g} s; stopped"
                ) from None
            except (EOFError, OSError, ConnectionError):
                await worker.kill()
                raise FileRejected("the parser crashed on this file") from None
            except BaseException:  # cancelled mid-file: the worker cannot be reused
                await asyncio.shield(worker.kill())
                raise
            self._idle.append(worker)
        if verdict != "ok":
            raise FileRejected(value)
        return value

    async def close(self) -> None:
        idle, self._idle = self._idle, []
        starting, self._starting = self._starting, []
        for task in starting:  # never used: not worth waiting for their start-up
            if task.done() and not task.cancelled() and task.exception() is None:
                idle.append(task.result())
            else:
                task.cancel()
        await asyncio.gather(*starting, return_exceptions=True)
        for worker in idle:
            await worker.stop()


class _Worker:
    """One worker process and its pipes; length-prefixed pickles both ways (our own child)."""

    def __init__(self, process: asyncio.subprocess.Process) -> None:
        self.process = process

    @classmethod
    async def start(cls) -> _Worker:
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "llama_index_readers_confluence_v2.file_worker",
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.DEVNULL,  # parsers' own chatter; reasons come back as answers
        )
        worker = cls(process)
        try:
            await worker.answer()  # "ready": the readers are imported before any clock runs
        except BaseException:  # cancelled (the run ended first), or it died starting
            await worker.kill()
            raise
        return worker

    async def ask(self, suffix: str, data: bytes) -> tuple[str, str]:
        assert self.process.stdin is not None
        message = pickle.dumps((suffix, data))
        self.process.stdin.write(len(message).to_bytes(8, "big") + message)
        await self.process.stdin.drain()
        answer: tuple[str, str] = await self.answer()
        return answer

    async def answer(self) -> Any:
        assert self.process.stdout is not None
        size = int.from_bytes(await self.process.stdout.readexactly(8), "big")
        return pickle.loads(await self.process.stdout.readexactly(size))

    async def kill(self) -> None:
        with contextlib.suppress(ProcessLookupError):
            self.process.kill()
        await self.process.wait()
        await self._drain()

    async def _drain(self) -> None:
        """Read the pipe to its end, so that its transport is closed while the loop runs
        (not later, by the garbage collector, after the loop is gone)."""
        if self.process.stdout is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self.process.stdout.read(), 5)

    async def stop(self) -> None:
        if self.process.stdin is not None:
            self.process.stdin.close()
        try:
            await asyncio.wait_for(self.process.wait(), 5)
        except asyncio.TimeoutError:
            await self.kill()
            return
        await self._drain()
