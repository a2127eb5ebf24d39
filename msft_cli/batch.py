"""Batches: folders and many files through ``analyze``, ``resynth`` or ``render``.

:func:`run` walks folders (recursively, by extension or ``glob``), mirrors
their tree under an output folder, and converts the files in worker processes.
It is built to be stopped and started again:

* **Atomic outputs.** Every output is written under a temporary name
  ``.<name>.<8 random characters>.part`` in its folder and renamed when
  complete, so a file under its final name is always complete. Temporary files
  left by a killed run (``kill -9``, a node crash) are removed when the next
  run starts: those of this run's outputs, older than the run.
* **Resumable.** An output is up to date, and skipped, when it exists and was
  made from the same source (same size and modification time, or with
  ``checksum=True`` the same SHA-256 of its content) with the same parameters.
  A container records this in root attributes (``source_size``,
  ``source_mtime_ns``, ``source_sha256``, ``analysis_options``: see
  docs/FORMAT.md); every output also has a record in the manifest, which
  holds its size and modification time, so a file replaced since is redone.
  ``overwrite=True`` redoes everything. Failed files are tried again.
* **Interruptible.** On SIGINT (Ctrl-C), SIGTERM or SIGHUP, the batch stops
  scheduling and sends SIGTERM to its workers, which abandon their file at the
  end of the block they are on (never inside a write or a rename), removing
  its temporary file; one that takes more than 10 s is killed and its
  temporary file removed by the parent. :func:`run` then returns a report
  whose ``interrupted`` names the signal. Workers also get SIGTERM when the
  parent dies (Linux), so a ``kill -9`` of the parent leaves no worker behind.
* **Failures are per file.** A file that cannot be converted gets a record
  with its reason, and the batch goes on (``fail_fast=True`` stops at the
  first). A worker process that dies (e.g. killed for lack of memory) fails
  its file only; a new worker takes over.
* **Manifest.** One JSON object per line and per file and run (see
  :data:`RECORD_FIELDS`), appended as files complete, to ``manifest.jsonl``
  in the output folder (``manifest-<I>-of-<N>.jsonl`` for shard ``I/N``, so
  that shards never write the same file). :func:`merge_manifests` merges them.
* **Shards.** ``shard=(I, N)`` keeps the files whose relative path hashes
  (SHA-256, so the same on every machine and in any listing order) to ``I``
  modulo ``N``: ``N`` tasks of a job array convert disjoint shares of a
  dataset that together cover it, into the same output tree.

Workers are separate processes (``forkserver`` on Linux, ``spawn`` elsewhere)
that each keep their transforms, and so their FFTW plans, from file to file.
Each uses ``cores // jobs`` FFTW threads (at least 1) unless ``threads`` is
given, so the cores are not oversubscribed. "Cores" are the CPUs this process
may run on (``os.sched_getaffinity``), e.g. a Slurm job's allocation.

:class:`ConsoleProgress` is what ``msft`` shows: one progress bar on stderr,
one line per failed file, and a summary.
"""

import datetime
import fnmatch
import hashlib
import inspect
import json
import multiprocessing
import os
import re
import signal
import sys
import tempfile
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from multiprocessing.connection import wait as _wait_for
from pathlib import Path

from . import container, convert
from ._version import __version__
from .audio import AUDIO_EXTENSIONS, publish
from .audio import info as audio_info
from .container import load
from .errors import MsftError, ParameterError
from .transform import MSFT

#: What a batch can do to each file.
COMMANDS = ("analyze", "resynth", "render")

#: Extensions taken for containers when walking a folder.
CONTAINER_EXTENSIONS = (".h5", ".hdf5")

#: Options that change how fast an output is made, not what it holds: changing
#: them does not make an output out of date (block sizes agree to float32 rounding).
SPEED_OPTIONS = ("threads", "planner", "block_size")

#: The fields of a manifest record, in order.
RECORD_FIELDS = (
    "time",             # when the record was written, UTC, ISO 8601
    "command",          # analyze, resynth or render
    "source",           # the input file, as found (a path given, or a folder given + its path)
    "output",           # the output file, relative to the manifest's folder
    "status",           # ok, skipped (up to date) or failed
    "reason",           # why it failed ("" otherwise)
    "duration",         # seconds of audio (null if unknown)
    "seconds",          # wall time spent on this file
    "shard",            # "I/N", or null
    "source_size",      # bytes
    "source_mtime_ns",  # modification time, ns since the epoch
    "source_sha256",    # content hash with checksum=True, else null
    "output_size",      # bytes (null if failed)
    "output_mtime_ns",  # (null if failed)
    "parameters",       # the options that decide the output (not SPEED_OPTIONS)
    "msft_version",
)

#: Names of the files :func:`run` appends records to (and reads back to resume).
MANIFEST_GLOBS = ("manifest.jsonl", "manifest-*-of-*.jsonl")

#: Default name of :func:`merge_manifests`'s output.
MERGED_MANIFEST = "manifest-merged.jsonl"

_INPUTS = {"analyze": AUDIO_EXTENSIONS, "resynth": CONTAINER_EXTENSIONS,
           "render": CONTAINER_EXTENSIONS + AUDIO_EXTENSIONS}
_TEMP_NAME = re.compile(r"^\.(?P<name>.+)\.[a-z0-9_]{8}\.part$")
_SIGNALS = tuple(s for s in (getattr(signal, n, None) for n in ("SIGINT", "SIGTERM", "SIGHUP"))
                 if s is not None)
_TRANSFORM_PARAMS = tuple(k for k in inspect.signature(MSFT.__init__).parameters
                          if k not in ("self", "sr"))
_IMAGE_FORMATS = ("png", "svg", "pdf")
_PROBE_SR = 192000  # transform parameters that fail at this rate fail at every lower one
_PROGRESS_EVERY = 0.5  # seconds between a worker's progress messages
_RESYNTH_SET = ("output", "reference", "progress", "transform", "phase_progress")  # not options


# -- what to convert ---------------------------------------------------------------
def cores():
    """CPUs this process may use: its affinity (e.g. a Slurm allocation), else all."""
    try:
        return len(os.sched_getaffinity(0)) or 1
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def parse_shard(shard):
    """``"I/N"`` or ``(I, N)`` as a tuple of ints with ``0 <= I < N``; None stays None.

    Raises
    ------
    ParameterError
        Not two integers, or ``I`` outside ``0 .. N - 1``.
    """
    if shard is None:
        return None
    if isinstance(shard, str):
        m = re.fullmatch(r"\s*(-?\d+)\s*/\s*(-?\d+)\s*", shard)
        if not m:
            raise ParameterError(f"shard={shard!r} must be I/N, e.g. 0/4 (share I of N, "
                                 "counting from 0)")
        i, n = int(m.group(1)), int(m.group(2))
    else:
        try:
            i, n = (int(v) for v in shard)
        except (TypeError, ValueError):
            raise ParameterError(f"shard={shard!r} must be I/N or a pair (I, N)") from None
    if n < 1 or not 0 <= i < n:
        raise ParameterError(f"shard={i}/{n} is out of range: must be I/N with 0 <= I < N")
    return i, n


def shard_of(key, n):
    """The shard (``0 .. n - 1``) of a relative path: SHA-256 of its UTF-8, modulo ``n``.

    The same on every machine and Python run (unlike :func:`hash`).
    """
    digest = hashlib.sha256(str(key).encode("utf-8", "surrogateescape")).digest()
    return int.from_bytes(digest[:8], "big") % n


@dataclass(frozen=True)
class Task:
    """One file of a batch.

    Attributes
    ----------
    source : Path
        The input: a path given, or a folder given joined with the file's path in it.
    output : Path
        Where its output goes.
    key : str
        Its path relative to the folder it was found in (its name if it was
        given itself), with ``/``: what shards are drawn by.
    size : int
        Its size in bytes when listed.
    """

    source: Path
    output: Path
    key: str
    size: int


def output_name(command, name, format=None):
    """The name of ``command``'s output for an input named ``name``.

    ``analyze``: ``.h5``; ``resynth``: ``.resynth.wav`` (never the name of a
    source); ``render``: ``.png`` or ``.<format>``.
    """
    stem = Path(name).stem
    if command == "analyze":
        return stem + ".h5"
    if command == "resynth":
        return stem + ".resynth.wav"
    return f"{stem}.{format or 'png'}"


def _picked(rel, name, globs, extensions):
    if globs:
        return any(fnmatch.fnmatch(rel, g) or fnmatch.fnmatch(name, g) for g in globs)
    return Path(name).suffix.lower() in extensions


def _walk(folder, globs, extensions):
    """``(path, relative path with /, size)`` of the files picked under ``folder``.

    Hidden files and folders (names starting with ``.``, e.g. temporary
    files) are passed over; symbolic links to folders are not followed.
    """
    found = []

    def onerror(exc):
        raise ParameterError(f"{exc.filename}: cannot list ({exc.strerror})") from exc
    for top, dirs, files in os.walk(folder, onerror=onerror):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        for name in sorted(files):
            if name.startswith("."):
                continue
            path = Path(top) / name
            rel = path.relative_to(folder).as_posix()
            if _picked(rel, name, globs, extensions):
                try:
                    found.append((path, rel, path.stat().st_size))
                except OSError:  # vanished, or a dangling link: reported when converted
                    found.append((path, rel, 0))
    return found


def _check_inputs(command, inputs):
    if command not in COMMANDS:
        raise ParameterError(f"command={command!r} is unknown: must be one of "
                             f"{', '.join(COMMANDS)}")
    inputs = [inputs] if isinstance(inputs, (str, Path)) else list(inputs)
    if not inputs:
        raise ParameterError("no input given")
    for item in inputs:
        if str(item) == "-":
            raise ParameterError("standard input (-) cannot be part of a batch: give files "
                                 "or folders")
    return [Path(i) for i in inputs]


def _output_folder(command, output, format):
    if output is None:
        return None
    out = Path(output)
    if out.exists() and not out.is_dir():
        raise ParameterError(f"{out}: is a file: for folders or several inputs, the output "
                             "must be a folder")
    known = {"analyze": CONTAINER_EXTENSIONS, "resynth": AUDIO_EXTENSIONS,
             "render": tuple("." + f for f in _IMAGE_FORMATS)}[command]
    if not out.exists() and out.suffix.lower() in known:
        raise ParameterError(f"{out}: must be a folder for folders or several inputs (one "
                             "output each)")
    return out


def _nothing_in(command, folder, globs):
    """Why a folder gives nothing to convert (an empty one, as a single input did before)."""
    article, what = {"analyze": ("an", "audio file"), "resynth": ("a", "container"),
                     "render": ("a", "container or audio file")}[command]
    with os.scandir(folder) as entries:
        empty = next(entries, None) is None
    if empty:
        return f"{folder}: is a folder, not {article} {what}"
    if globs:
        return f"{folder}: holds no file matching {' or '.join(globs)}"
    return (f"{folder}: holds no {what} ({', '.join(_INPUTS[command])}): use --glob to "
            "pick other files")


def plan(command, inputs, output=None, glob=None, shard=None, format=None):
    """The files a batch converts, and where each output goes.

    Parameters
    ----------
    command : {"analyze", "resynth", "render"}
    inputs : str, Path or list of them
        Files and folders. A folder stands for the files in it and its
        subfolders: audio files for ``analyze``, containers (``.h5``,
        ``.hdf5``) for ``resynth``, both for ``render``; or those matching
        ``glob``. Files given are taken whatever their extension.
    output : str or Path, optional
        The folder to write into: each folder's tree is mirrored under it,
        and files given go to its top. Default: beside each input.
    glob : str or list of str, optional
        Shell patterns (``*``, ``?``, ``[...]``; ``*`` also matches ``/``)
        matched against each file's name and its path relative to the folder
        given; a file matching any is taken, whatever its extension.
    shard : "I/N" or (I, N), optional
        Keep only share ``I`` of ``N`` (see :func:`shard_of`).
    format : {"png", "svg", "pdf"}, optional
        ``render``'s image format (default png).

    Returns
    -------
    list of Task
        Largest first (so the longest files do not finish last), then by path.

    Raises
    ------
    ParameterError
        A missing input, a folder holding no file to convert, an output that
        is a file, or two inputs that would write the same output.
    """
    inputs = _check_inputs(command, inputs)
    if format is not None and (command != "render" or format not in _IMAGE_FORMATS):
        raise ParameterError(f"format={format!r} is unknown: must be one of "
                             f"{', '.join(_IMAGE_FORMATS)} (for render)")
    parse_shard(shard)
    globs = [glob] if isinstance(glob, str) else list(glob or ())
    extensions = _INPUTS[command]
    found = []  # (source, key, size, its folder's path relative to the input folder)
    for item in inputs:
        if item.is_dir():
            files = _walk(item, globs, extensions)
            if not files:
                raise ParameterError(_nothing_in(command, item, globs))
            found.extend((path, rel, size, rel.split("/")[:-1]) for path, rel, size in files)
        elif item.exists():
            found.append((item, item.name, item.stat().st_size, []))
        else:
            raise ParameterError(f"{item}: no such file or folder")
    out = _output_folder(command, output, format)
    found = [(source, key, size, source.parent if out is None else out.joinpath(*sub))
             for source, key, size, sub in found]
    tasks, seen = [], {}
    for source, key, size, folder in found:
        target = folder / output_name(command, source.name, format)
        ident = os.path.normcase(os.path.abspath(target))
        if ident in seen:
            raise ParameterError(f"{seen[ident]} and {source} would both be written to "
                                 f"{target}")
        seen[ident] = source
        tasks.append(Task(source, target, key, size))
    parsed = parse_shard(shard)
    if parsed is not None:
        tasks = [t for t in tasks if shard_of(t.key, parsed[1]) == parsed[0]]
    tasks.sort(key=lambda t: (-t.size, t.key, str(t.source)))
    return tasks


def manifest_folder(inputs, output=None):
    """Where a batch's manifest goes: the output folder, else the folder of the inputs.

    Without an output folder: the folder given, or the folder of the files
    given, or the deepest folder holding all the inputs.
    """
    if output is not None:
        return Path(output)
    roots = []
    for item in map(Path, [inputs] if isinstance(inputs, (str, Path)) else inputs):
        root = item if item.is_dir() else (item.parent if str(item.parent) else Path("."))
        if root not in roots:
            roots.append(root)
    if len(roots) == 1:
        return roots[0]
    return Path(os.path.commonpath([os.path.abspath(r) for r in roots]))


def manifest_name(shard=None):
    """``manifest.jsonl``, or ``manifest-<I>-of-<N>.jsonl`` for a shard."""
    parsed = parse_shard(shard)
    return "manifest.jsonl" if parsed is None else f"manifest-{parsed[0]}-of-{parsed[1]}.jsonl"


# -- fingerprints and up-to-date checks -----------------------------------------
def fingerprint(path, checksum=False):
    """``{"size", "mtime_ns", "sha256"}`` of a file (``sha256`` None unless ``checksum``).

    Raises OSError if it cannot be read.
    """
    st = os.stat(path)
    digest = None
    if checksum:
        h = hashlib.sha256()
        with open(path, "rb") as fh:
            for chunk in iter(lambda: fh.read(1 << 20), b""):
                h.update(chunk)
        digest = h.hexdigest()
    return {"size": st.st_size, "mtime_ns": st.st_mtime_ns, "sha256": digest}


def _same_source(stored, stamp, checksum):
    """Whether a record's or a container's ``source_*`` describe the source as it is now."""
    if stored.get("source_size") != stamp["size"]:
        return False
    if checksum:
        return bool(stored.get("source_sha256")) and stored["source_sha256"] == stamp["sha256"]
    return stored.get("source_mtime_ns") == stamp["mtime_ns"]


def _plain(value):
    """JSON-compatible copy (tuples become lists), so parameters compare after a round trip."""
    return json.loads(json.dumps(value, sort_keys=True))


def _defaults(func, skip=()):
    return {k: p.default for k, p in inspect.signature(func).parameters.items()
            if p.default is not inspect.Parameter.empty and k not in skip}


def parameters(command, options):
    """The options that decide an output's content: the command's defaults updated with
    ``options``, without :data:`SPEED_OPTIONS` (so leaving an option out or giving its
    default value is the same)."""
    if command == "analyze":
        full = {**_defaults(MSFT.__init__),
                **_defaults(convert.analyze, ("output", "transform", "progress", "extra_attrs"))}
    elif command == "resynth":
        full = _defaults(convert.resynth, _RESYNTH_SET)
    else:
        from .render import render
        full = {**{k: v for k, v in _defaults(MSFT.__init__).items()
                   if k not in ("fmin", "fmax")},
                **_defaults(render, ("output", "progress"))}
    full.update(options)
    if command == "analyze" and full.get("dtype") is None:  # the default for what is stored
        full["dtype"] = getattr(container, "DEFAULT_DTYPES", {}).get(full.get("store", "complex"),
                                                                     full.get("dtype"))
    return _plain({k: v for k, v in sorted(full.items()) if k not in SPEED_OPTIONS})


# -- the manifest ------------------------------------------------------------------
def read_manifest(path):
    """The records of a manifest file, and how many lines could not be read.

    A line cut short (by a kill during a write) or otherwise damaged is
    counted and passed over. Returns ``(records, damaged)``.
    """
    records, damaged = [], 0
    try:
        with open(path, encoding="utf-8", errors="replace") as fh:
            for line in fh:
                if not line.strip():
                    continue
                try:
                    rec = json.loads(line)
                except ValueError:
                    damaged += 1
                    continue
                if isinstance(rec, dict) and "output" in rec and "status" in rec:
                    records.append(rec)
                else:
                    damaged += 1
    except OSError as exc:
        raise MsftError(f"{path}: cannot read ({exc.strerror or exc})") from exc
    return records, damaged


def _manifest_files(folder):
    folder = Path(folder)
    found = set()
    for pattern in MANIFEST_GLOBS:
        found.update(p for p in folder.glob(pattern) if p.is_file())
    return sorted(found)


def _latest(records):
    """The latest record of each output (by time, then by order)."""
    latest = {}
    for rec in records:
        key = rec["output"]
        old = latest.get(key)
        if old is None or str(rec.get("time", "")) >= str(old.get("time", "")):
            latest[key] = rec
    return latest


class _Manifest:
    """A manifest open for appending: one JSON line per write, whole or not at all.

    Each record is one ``write`` on a descriptor opened with ``O_APPEND``, so
    lines never interleave; a line cut short by a kill is completed by a
    newline before the next run appends.
    """

    def __init__(self, path):
        self.path = Path(path)
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o666)
            size = os.fstat(self._fd).st_size
            if size:
                with open(self.path, "rb") as fh:
                    fh.seek(size - 1)
                    if fh.read(1) != b"\n":
                        os.write(self._fd, b"\n")
        except OSError as exc:
            raise MsftError(f"{self.path}: cannot write the manifest "
                            f"({exc.strerror or exc})") from exc

    def write(self, record):
        data = (json.dumps(record, ensure_ascii=False) + "\n").encode("utf-8")
        try:
            os.write(self._fd, data)
        except OSError as exc:
            raise MsftError(f"{self.path}: cannot write the manifest "
                            f"({exc.strerror or exc})") from exc

    def close(self):
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None


@dataclass
class MergeReport:
    """What :func:`merge_manifests` did."""

    output: Path
    manifests: int
    records: int
    files: int
    statuses: dict
    damaged: int = 0
    written: int = 0

    def __str__(self):
        done = self.statuses.get("ok", 0) + self.statuses.get("skipped", 0)
        counts = ", ".join(f"{n} {s}" for s, n in (("done", done),
                                                  ("failed", self.statuses.get("failed", 0))))
        line = (f"{self.manifests} manifest{'s' if self.manifests != 1 else ''}, "
                f"{self.records} records of {self.files} files ({counts}) -> "
                f"{self.output}: {self.written} records")
        if self.damaged:
            line += f"; {self.damaged} damaged line{'s' if self.damaged != 1 else ''} passed over"
        return line


def merge_manifests(paths, output=None, history=False):
    """Merge manifests of batch runs and shards into one JSON-lines file.

    Parameters
    ----------
    paths : str, Path or list of them
        Manifest files, or folders: their ``manifest.jsonl`` and
        ``manifest-<I>-of-<N>.jsonl``.
    output : str or Path, optional
        File to write (atomically). Default: ``manifest-merged.jsonl`` in the
        first folder given (or the folder of the first file).
    history : bool
        Keep every record of every run, by time; default: the latest record
        of each output (the state of the tree), by output path.

    Returns
    -------
    MergeReport

    Raises
    ------
    MsftError
        No manifest found, or a file that cannot be read or written.
    """
    paths = [paths] if isinstance(paths, (str, Path)) else list(paths)
    if not paths:
        raise ParameterError("no manifest or folder given")
    files = []
    for p in map(Path, paths):
        if p.is_dir():
            found = _manifest_files(p)
            if not found:
                raise MsftError(f"{p}: holds no manifest ({' or '.join(MANIFEST_GLOBS)})")
            files.extend(found)
        elif p.exists():
            files.append(p)
        else:
            raise MsftError(f"{p}: no such file or folder")
    first = Path(paths[0])
    output = Path(output) if output is not None else \
        (first if first.is_dir() else first.parent) / MERGED_MANIFEST
    files = [f for f in dict.fromkeys(files) if f.resolve() != output.resolve()]
    records, damaged = [], 0
    for f in files:
        recs, bad = read_manifest(f)
        records.extend(recs)
        damaged += bad
    latest = _latest(records)
    if history:
        chosen = sorted(records, key=lambda r: (str(r.get("time", "")), str(r["output"])))
    else:
        chosen = [latest[k] for k in sorted(latest)]
    statuses = {}
    for rec in latest.values():
        statuses[rec["status"]] = statuses.get(rec["status"], 0) + 1
    text = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in chosen)
    _write_text(output, text)
    return MergeReport(output, len(files), len(records), len(latest), statuses, damaged,
                       len(chosen))


def _write_text(path, text):
    path = Path(path)
    tmp = None
    try:
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".part")
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        publish(tmp, path)
        tmp = None
    except OSError as exc:
        raise MsftError(f"{path}: cannot write ({exc.strerror or exc})") from exc
    finally:
        if tmp is not None:
            Path(tmp).unlink(missing_ok=True)


# -- leftovers -----------------------------------------------------------------------
def temporary_files(output, older_than=None):
    """Temporary files of ``output`` (``.<name>.<8 characters>.part`` beside it).

    Only those modified before ``older_than`` (seconds since the epoch) if given.
    """
    output = Path(output)
    found = []
    try:
        with os.scandir(output.parent) as it:
            entries = list(it)
    except OSError:
        return found
    for entry in entries:
        m = _TEMP_NAME.match(entry.name)
        if m and m.group("name") == output.name:
            try:
                if older_than is None or entry.stat().st_mtime < older_than:
                    found.append(Path(entry.path))
            except OSError:
                pass
    return found


def remove_leftovers(tasks, older_than):
    """Remove the temporary files of these tasks' outputs left by earlier runs; count them.

    Only files named like msft's temporary files for one of these outputs,
    and older than ``older_than``: a concurrent shard's files are never
    touched (shards have disjoint outputs).
    """
    by_folder = {}
    for t in tasks:
        by_folder.setdefault(t.output.parent, set()).add(t.output.name)
    removed = 0
    for folder, names in by_folder.items():
        try:
            with os.scandir(folder) as it:
                entries = list(it)
        except OSError:
            continue
        for entry in entries:
            m = _TEMP_NAME.match(entry.name)
            if not m or m.group("name") not in names:
                continue
            try:
                if entry.stat().st_mtime < older_than:
                    os.unlink(entry.path)
                    removed += 1
            except OSError:
                pass
    return removed


# -- the report ----------------------------------------------------------------------
@dataclass
class BatchReport:
    """What a batch did, and while it runs, what it has done so far.

    Attributes
    ----------
    command : str
    total : int
        Files in this batch (this shard's).
    converted, skipped, failed : int
        Files converted, found up to date, and failed so far.
    audio_seconds : float
        Audio converted (whole files).
    partial_seconds, partial_files : float
        Audio and fractions of files done in files still being converted.
    started : float
        ``time.time()`` at the start; ``seconds`` the wall time at the end.
    manifest : Path or None
    shard : str or None
    failures : list of dict
        The records of the failed files.
    interrupted : str or None
        ``"SIGINT"``, ``"SIGTERM"`` or ``"SIGHUP"`` if a signal stopped the batch.
    stopped : bool
        ``fail_fast`` stopped the batch at a failure.
    leftovers : int
        Temporary files of an earlier, killed run removed at the start.
    """

    command: str
    total: int = 0
    converted: int = 0
    skipped: int = 0
    failed: int = 0
    audio_seconds: float = 0.0
    partial_seconds: float = 0.0
    partial_files: float = 0.0
    started: float = field(default_factory=time.time)
    seconds: float = 0.0
    manifest: Path = None
    shard: str = None
    failures: list = field(default_factory=list)
    interrupted: str = None
    stopped: bool = False
    leftovers: int = 0

    @property
    def done(self):
        """Files finished, whatever the outcome."""
        return self.converted + self.skipped + self.failed

    @property
    def left(self):
        return self.total - self.done

    @property
    def realtime_factor(self):
        """Audio seconds converted per second of wall time."""
        return self.audio_seconds / self.seconds if self.seconds > 0 else 0.0

    @property
    def exit_status(self):
        """0 if all went well, 1 if a file failed, 128 + the signal's number if interrupted."""
        if self.interrupted:
            return 128 + int(getattr(signal, self.interrupted, 15))
        return 1 if self.failed or self.stopped else 0

    def eta(self, now=None):
        """Seconds left at the rate files have been converted so far, or None if unknown."""
        work = self.converted + self.partial_files
        if work < 0.05:
            return None
        elapsed = (now or time.time()) - self.started
        return max(0.0, (self.left - self.partial_files) * elapsed / work)

    def summary(self):
        """One line: counts, audio converted, wall time, realtime factor, manifest."""
        line = (f"{self.total} file{'s' if self.total != 1 else ''}"
                + (f" (shard {self.shard})" if self.shard else "")
                + f": {self.converted} converted, {self.skipped} skipped, {self.failed} failed; "
                f"{_span(self.audio_seconds)} of audio in {_span(self.seconds)}"
                + (f" ({convert.format_realtime(self.realtime_factor)} realtime)"
                   if self.audio_seconds else ""))
        if self.stopped:
            line += f"; stopped at the first failure, {self.left} not done"
        if self.leftovers:
            line += (f"; removed {self.leftovers} temporary file"
                     f"{'s' if self.leftovers != 1 else ''} of an interrupted run")
        if self.manifest is not None:
            line += f"; manifest {self.manifest}"
        return line

    def interruption(self):
        """One line for an interrupted batch."""
        return (f"Interrupted by {self.interrupted}: {self.converted} converted, "
                f"{self.skipped} skipped, {self.failed} failed, {self.left} not done: run "
                "the same command again to finish")


def _span(seconds):
    if seconds < 100:
        return f"{seconds:.1f} s"
    if seconds < 6000:
        return f"{seconds / 60:.1f} min"
    return f"{seconds / 3600:.2f} h"


def _clock(seconds):
    seconds = int(round(seconds))
    return f"{seconds // 3600}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"


# -- the workers ---------------------------------------------------------------------
class _Stopped(BaseException):
    """Raised in a worker after SIGTERM, between two blocks of its file: unwinds (removing
    the temporary file) and exits."""


_stop_requested = False


def _on_sigterm(signum, frame):
    """SIGTERM in a worker: stop at the next safe point (not inside a write or a rename)."""
    global _stop_requested
    _stop_requested = True


def _stop_if_asked():
    if _stop_requested:
        raise _Stopped()


def _die_with_parent():
    """Linux: SIGTERM this process when its parent dies (so kill -9 leaves no orphan)."""
    try:
        import ctypes
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def _worker_main(conn, setup):
    """A worker process: converts the files it is sent, one at a time, until told to stop."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C reaches the whole process group:
    signal.signal(signal.SIGTERM, _on_sigterm)     # the parent decides, then sends SIGTERM
    global _stop_requested
    _stop_requested = False
    _die_with_parent()
    os.environ.clear()
    os.environ.update(setup["env"])
    worker = _Worker(conn, setup)
    try:
        while True:
            msg = conn.recv()
            if msg is None or _stop_requested:
                break
            task_id, source, output, prior = msg
            record = worker.run(task_id, source, output, prior)
            conn.send(("done", task_id, record))
            if _stop_requested:
                break
    except (_Stopped, EOFError, BrokenPipeError, KeyboardInterrupt):
        pass


class _Worker:
    """One worker's state: the batch's settings and its transforms (kept with their plans)."""

    _KEEP = 4  # transforms kept (one per sample rate and parameters in use)

    def __init__(self, conn, setup):
        self.conn = conn
        self.command = setup["command"]
        self.options = setup["options"]
        self.parameters = setup["parameters"]
        self.overwrite = setup["overwrite"]
        self.checksum = setup["checksum"]
        self.threads = setup["threads"]
        self._transforms = {}

    def transform(self, sr, params):
        key = (sr, json.dumps(params, sort_keys=True))
        t = self._transforms.pop(key, None)
        if t is None:
            options = dict(params)
            if options.get("threads") is None:
                options["threads"] = self.threads
            t = MSFT(sr, **options)
            while len(self._transforms) >= self._KEEP:
                self._transforms.pop(next(iter(self._transforms)))
        self._transforms[key] = t  # most recently used last
        return t

    def _progress(self, task_id, sr):
        last = [0.0]

        def update(done, total):
            _stop_if_asked()
            now = time.monotonic()
            if now - last[0] >= _PROGRESS_EVERY and total:
                last[0] = now
                self.conn.send(("progress", task_id, min(1.0, done / total),
                                done / sr if sr else None))
        return update

    def run(self, task_id, source, output, prior):
        """Skip, convert or fail one file; return the worker's part of its record."""
        began = time.perf_counter()
        source, output = Path(source), Path(output)
        rec = {"status": "failed", "reason": "", "duration": None, "seconds": None,
               "source_size": None, "source_mtime_ns": None, "source_sha256": None,
               "output_size": None, "output_mtime_ns": None}
        try:
            try:
                stamp = fingerprint(source, self.checksum)
            except FileNotFoundError as exc:
                raise MsftError(f"{source}: no such file") from exc
            except OSError as exc:
                raise MsftError(f"{source}: cannot read ({exc.strerror or exc})") from exc
            rec.update(source_size=stamp["size"], source_mtime_ns=stamp["mtime_ns"],
                       source_sha256=stamp["sha256"])
            duration = None if self.overwrite else self._up_to_date(output, stamp, prior)
            if duration is not None:
                rec.update(status="skipped", duration=duration if duration >= 0 else None)
            else:
                try:
                    output.parent.mkdir(parents=True, exist_ok=True)
                except OSError as exc:
                    raise MsftError(f"{output.parent}: cannot make the folder "
                                    f"({exc.strerror or exc})") from exc
                rec.update(status="ok",
                           duration=getattr(self, "_" + self.command)(task_id, source, output,
                                                                      stamp))
            st = os.stat(output)
            rec.update(output_size=st.st_size, output_mtime_ns=st.st_mtime_ns)
        except _Stopped:
            raise
        except MsftError as exc:
            rec.update(status="failed", reason=_reason(exc, source, output))
        except Exception as exc:  # noqa: BLE001 - one bad file must not stop the batch
            rec.update(status="failed",
                       reason=_reason(f"{type(exc).__name__}: {exc}", source, output))
        rec["seconds"] = round(time.perf_counter() - began, 6)
        return rec

    def _up_to_date(self, output, stamp, prior):
        """The duration (or -1 if unknown) if ``output`` is up to date, else None."""
        try:
            st = os.stat(output)
        except OSError:
            return None
        if prior is not None and prior.get("parameters") == self.parameters \
                and _same_source(prior, stamp, self.checksum) \
                and prior.get("output_size") == st.st_size \
                and prior.get("output_mtime_ns") == st.st_mtime_ns:
            d = prior.get("duration")
            return d if isinstance(d, (int, float)) else -1
        if self.command == "analyze":  # a container says what it was made from
            try:
                with load(output) as box:
                    attrs, duration = box.attrs, box.duration
            except MsftError:
                return None
            try:
                options = json.loads(attrs.get("analysis_options", "null"))
            except (TypeError, ValueError):
                return None
            if options == self.parameters and _same_source(attrs, stamp, self.checksum):
                return duration
        return None

    def _analyze(self, task_id, source, output, stamp):
        sr = audio_info(source)["sr"]
        tparams = {k: v for k, v in self.options.items() if k in _TRANSFORM_PARAMS}
        others = {k: v for k, v in self.options.items() if k not in _TRANSFORM_PARAMS}
        try:
            transform = self.transform(sr, tparams)
        except ParameterError as exc:
            raise ParameterError(f"{source}: {exc}") from None
        attrs = {"source_size": stamp["size"], "source_mtime_ns": stamp["mtime_ns"],
                 "source_sha256": stamp["sha256"] or "",
                 "analysis_options": json.dumps(self.parameters, sort_keys=True)}
        report = convert.analyze(source, output, transform=transform, extra_attrs=attrs,
                                 progress=self._progress(task_id, sr), **others)
        return report.duration

    def _resynth(self, task_id, source, output, stamp):
        with load(source) as box:
            params = box.transform.to_params()
        sr = params.pop("sr")
        transform = self.transform(sr, params)
        report = convert.resynth(source, output, transform=transform,
                                 progress=self._progress(task_id, sr), **self.options)
        return report.duration

    def _render(self, task_id, source, output, stamp):
        from .render import render
        options = dict(self.options)
        if options.get("threads") is None:
            options["threads"] = self.threads
        report = render(source, output, progress=self._progress(task_id, None), **options)
        return report.duration


def _reason(exc, source, output):
    """An error as one line that names the file: ``source: reason``."""
    text = " ".join(str(exc).split()) or type(exc).__name__
    if text.startswith((str(source), str(output))):
        return text
    return f"{source}: {text}"


def _context():
    """``forkserver`` (workers fork from a server that has msft imported: milliseconds
    each), else ``spawn``."""
    if "forkserver" not in multiprocessing.get_all_start_methods():
        return multiprocessing.get_context("spawn")
    from multiprocessing import forkserver
    ctx = multiprocessing.get_context("forkserver")
    ctx.set_forkserver_preload(["msft_cli.batch"])
    # Python < 3.12 starts the server with the environment's PYTHONPATH, not this
    # process's sys.path: make sure it finds msft (a checkout run with PYTHONPATH=.).
    old = os.environ.get("PYTHONPATH")
    root = str(Path(__file__).resolve().parent.parent)
    os.environ["PYTHONPATH"] = os.pathsep.join([root] + ([old] if old else []))
    try:
        forkserver.ensure_running()
    finally:
        if old is None:
            del os.environ["PYTHONPATH"]
        else:
            os.environ["PYTHONPATH"] = old
    return ctx


class _Proc:
    """A worker process seen from the parent: its pipe and the file it works on."""

    def __init__(self, ctx, setup):
        self.conn, child = ctx.Pipe()
        self.process = ctx.Process(target=_worker_main, args=(child, setup), daemon=True,
                                   name="msft-batch-worker")
        self.process.start()
        child.close()
        self.task = None  # (task id, Task)
        self.fraction = 0.0
        self.seconds = 0.0
        self.alive = True

    def send(self, msg):
        try:
            self.conn.send(msg)
            return True
        except (OSError, EOFError):
            self.alive = False
            return False


class _Signals:
    """Catch SIGINT/SIGTERM/SIGHUP while a batch runs (main thread only); a second one raises."""

    def __init__(self):
        self.caught = None
        self._old = {}

    def _handler(self, signum, frame):
        if self.caught is not None:
            raise KeyboardInterrupt
        self.caught = signal.Signals(signum).name

    def __enter__(self):
        if threading.current_thread() is threading.main_thread():
            for s in _SIGNALS:
                try:
                    self._old[s] = signal.signal(s, self._handler)
                except (ValueError, OSError):
                    pass
        return self

    def __exit__(self, *exc):
        for s, old in self._old.items():
            signal.signal(s, old)


def _check_jobs(jobs):
    if jobs is None:
        return cores()
    if isinstance(jobs, bool) or not isinstance(jobs, int):
        raise TypeError(f"jobs must be an int, not {type(jobs).__name__}")
    if jobs < 1:
        raise ParameterError(f"jobs={jobs} must be at least 1")
    return jobs


def _check_options(command, options):
    """Fail once, before any file, on options that would fail for every file."""
    if command == "analyze":
        tparams = {k: v for k, v in options.items() if k in _TRANSFORM_PARAMS}
        unknown = sorted(set(options) - set(_TRANSFORM_PARAMS)
                         - set(inspect.signature(convert.analyze).parameters))
        if unknown:
            raise TypeError(f"analyze() got an unexpected keyword argument {unknown[0]!r}")
        for k in ("path", "output", "transform", "progress", "extra_attrs"):
            if k in options:
                raise TypeError(f"{k} is set by the batch, not an option")
        tparams.update(threads=1, block_size=None)
        MSFT(_PROBE_SR, **tparams)  # what fails at this rate fails at every lower one
    elif command == "resynth":
        if options.get("reference") is not None:
            raise ParameterError("reference applies to one container, not to a batch")
        options.pop("reference", None)
        unknown = sorted(set(options) - set(_defaults(convert.resynth, _RESYNTH_SET)))
        if unknown:
            raise TypeError(f"resynth() got an unexpected keyword argument {unknown[0]!r}")
    else:
        from .render import check_options
        check_options(**options)


def run(command, inputs, output=None, jobs=None, glob=None, overwrite=False, fail_fast=False,
        shard=None, checksum=False, manifest=None, progress=None, **options):
    """Convert folders and files with ``command``, in parallel, resumably.

    Parameters
    ----------
    command : {"analyze", "resynth", "render"}
        :func:`msft_cli.analyze`, :func:`msft_cli.resynth` or
        :func:`msft_cli.render.render`, applied to every file.
    inputs, output, glob, shard
        As in :func:`plan`: files and folders; the folder to mirror them into
        (default: beside each input); patterns picking files; share ``I/N``.
    jobs : int, optional
        Worker processes (default: the number of cores this process may use).
    overwrite : bool
        Redo outputs that are up to date.
    fail_fast : bool
        Stop at the first failed file (the files being converted are abandoned).
    checksum : bool
        Recognise an unchanged source by the SHA-256 of its content (read in
        full every run) instead of its size and modification time.
    manifest : bool, optional
        Append a record per file to the manifest in :func:`manifest_folder`
        (see :data:`RECORD_FIELDS`), and use earlier records to skip outputs
        that are up to date. Default: True, except for render (whose output
        folder then holds only images; without a manifest, images are always
        redrawn).
    progress : object, optional
        Told what happens (e.g. :class:`ConsoleProgress`): ``start(report)``,
        ``update(report)`` (often), ``record(rec)`` for each file, and
        ``close(report)``.
    **options
        The command's options: for analyze, ``dtype``, ``compression`` and
        the transform's parameters; for resynth, ``subtype``; for render, its
        drawing options, ``format`` and the transform's parameters.

    Returns
    -------
    BatchReport
        Its ``exit_status`` is 0, 1 if a file failed, or 128 + the signal's
        number if a signal interrupted the batch (no record is written for
        the files it abandoned).

    Raises
    ------
    ParameterError
        Bad inputs or options, found before any file is converted.

    Examples
    --------
    >>> from msft_cli import batch
    >>> r = batch.run("analyze", "sample_audio", "h5", jobs=2, fmin=200.0)  # doctest: +SKIP
    >>> r.summary()  # doctest: +SKIP
    '4 files: 4 converted, 0 skipped, 0 failed; 41.8 s of audio in 5.1 s (8.2x realtime); ...'
    """
    jobs = _check_jobs(jobs)
    options = dict(options)
    fmt = options.pop("format", None) if command == "render" else None
    tasks = plan(command, inputs, output, glob, shard, fmt)
    _check_options(command, options)
    parsed = parse_shard(shard)
    report = BatchReport(command, total=len(tasks),
                         shard=None if parsed is None else f"{parsed[0]}/{parsed[1]}")
    folder = manifest_folder(inputs, output)
    report.leftovers = remove_leftovers(tasks, report.started)
    book, priors = None, {}
    if manifest is None:
        manifest = command != "render"
    if manifest:
        folder.mkdir(parents=True, exist_ok=True)
        priors = _latest([r for f in _manifest_files(folder) for r in read_manifest(f)[0]])
        book = _Manifest(folder / manifest_name(shard))
        report.manifest = book.path
    params = parameters(command, options)
    n_workers = min(jobs, len(tasks))
    setup = {"command": command, "options": options, "parameters": params,
             "overwrite": bool(overwrite), "checksum": bool(checksum),
             "threads": max(1, cores() // max(1, n_workers)), "env": dict(os.environ)}
    if progress is not None:
        progress.start(report)
    try:
        with _Signals() as signals:
            _Run(report, tasks, folder, book, priors, params, setup, n_workers, fail_fast,
                 progress, signals).loop()
    finally:
        report.seconds = time.time() - report.started
        report.partial_seconds = report.partial_files = 0.0
        if book is not None:
            book.close()
        if progress is not None:
            progress.close(report)
    return report


class _Run:
    """The parent's loop: hand out files, collect records, watch workers and signals."""

    def __init__(self, report, tasks, folder, book, priors, params, setup, n_workers,
                 fail_fast, progress, signals):
        self.report, self.folder, self.book = report, Path(folder), book
        self.priors, self.params, self.setup = priors, params, setup
        self.fail_fast, self.progress, self.signals = fail_fast, progress, signals
        self.pending = deque(enumerate(tasks))
        self.n_workers = n_workers
        self.workers = []
        self.deaths = 0
        self.ctx = _context() if n_workers else None

    def _rel(self, path):
        try:
            return Path(os.path.relpath(os.path.abspath(path),
                                        os.path.abspath(self.folder))).as_posix()
        except ValueError:  # another drive
            return Path(os.path.abspath(path)).as_posix()

    def _record(self, task, part):
        r = self.report
        rec = {"time": datetime.datetime.now(datetime.timezone.utc)
               .isoformat(timespec="milliseconds").replace("+00:00", "Z"),
               "command": r.command, "source": str(task.source),
               "output": self._rel(task.output), "status": part["status"],
               "reason": part["reason"], "duration": part["duration"],
               "seconds": part["seconds"], "shard": r.shard}
        rec.update({k: part[k] for k in ("source_size", "source_mtime_ns", "source_sha256",
                                         "output_size", "output_mtime_ns")})
        rec.update(parameters=self.params, msft_version=__version__)
        if rec["status"] == "ok":
            r.converted += 1
            r.audio_seconds += rec["duration"] or 0.0
        elif rec["status"] == "skipped":
            r.skipped += 1
        else:
            r.failed += 1
            r.failures.append(rec)
        if self.book is not None:
            self.book.write(rec)
        if self.progress is not None:
            self.progress.record(rec)
        return rec

    def _spawn(self):
        w = _Proc(self.ctx, self.setup)
        self.workers.append(w)
        return w

    def _assign(self, w):
        task_id, task = self.pending.popleft()
        prior = self.priors.get(self._rel(task.output))
        if prior is not None and prior.get("status") not in ("ok", "skipped"):
            prior = None
        w.task, w.fraction, w.seconds = (task_id, task), 0.0, 0.0
        if not w.send((task_id, str(task.source), str(task.output), prior)):
            self.pending.appendleft((task_id, task))
            w.task = None

    def _partial(self):
        busy = [w for w in self.workers if w.task is not None]
        self.report.partial_files = sum(w.fraction for w in busy)
        self.report.partial_seconds = sum(w.seconds for w in busy)

    def _handle(self, w):
        """Read what a worker sent; notice if it died."""
        try:
            while w.conn.poll():
                kind, task_id, *rest = w.conn.recv()
                if w.task is None or task_id != w.task[0]:
                    continue
                if kind == "progress":
                    w.fraction = rest[0]
                    w.seconds = rest[1] or 0.0
                else:
                    task = w.task[1]
                    w.task = None
                    rec = self._record(task, rest[0])
                    if rec["status"] == "failed" and self.fail_fast:
                        self.report.stopped = True
        except (EOFError, OSError):
            w.alive = False
        if not w.process.is_alive():
            w.alive = False

    def _bury(self, w):
        """A worker died: fail its file (unless we are stopping), remove its temporary files."""
        self.workers.remove(w)
        w.process.join(timeout=1)
        w.conn.close()
        if w.task is None:
            self.deaths += 1
            if self.deaths > 3 + 2 * self.n_workers:
                raise MsftError("worker processes keep dying before any work: "
                                f"last exit code {w.process.exitcode}")
            return
        task = w.task[1]
        for tmp in temporary_files(task.output):
            tmp.unlink(missing_ok=True)
        if self._stopping():
            return
        code = w.process.exitcode
        how = (f"killed by {signal.Signals(-code).name}" if code is not None and code < 0
               and -code in signal.valid_signals() else f"exit code {code}")
        self._record(task, {"status": "failed", "duration": None, "seconds": None,
                            "reason": f"{task.source}: the worker process died ({how}; out "
                                      "of memory?)",
                            "source_size": None, "source_mtime_ns": None,
                            "source_sha256": None, "output_size": None,
                            "output_mtime_ns": None})
        if self.report.failures and self.fail_fast:
            self.report.stopped = True

    def _stopping(self):
        if self.signals.caught and not self.report.interrupted:
            self.report.interrupted = self.signals.caught
        return bool(self.report.interrupted or self.report.stopped)

    def loop(self):
        try:
            while (self.pending or any(w.task for w in self.workers)) and not self._stopping():
                while len(self.workers) < self.n_workers and self.pending:
                    self._spawn()
                for w in self.workers:
                    if w.task is None and self.pending and w.alive:
                        self._assign(w)
                handles = {}
                for w in self.workers:
                    handles[w.conn] = w
                    handles[w.process.sentinel] = w
                for obj in _wait_for(list(handles), timeout=0.25):
                    w = handles[obj]
                    if w in self.workers:
                        self._handle(w)
                for w in [w for w in self.workers if not w.alive]:
                    self._handle(w)  # a record sent just before it died
                    self._bury(w)
                self._partial()
                if self.progress is not None:
                    self.progress.update(self.report)
            self._stopping()
        finally:
            self._finish()

    def _finish(self):
        """Let idle workers go; stop busy ones (SIGTERM), then clean what they leave."""
        busy = [w for w in self.workers if w.task is not None]
        for w in self.workers:
            if w.task is None:
                w.send(None)
            else:
                try:
                    w.process.terminate()
                except (OSError, AttributeError):
                    pass
        deadline = time.monotonic() + 10
        for w in self.workers:
            w.process.join(timeout=max(0.1, deadline - time.monotonic()))
            if w.process.is_alive():
                w.process.kill()
                w.process.join(timeout=5)
        for w in busy:
            self._handle(w)  # a file finished just before the worker stopped
            if w.task is not None:
                for tmp in temporary_files(w.task[1].output):
                    tmp.unlink(missing_ok=True)
        for w in self.workers:
            w.conn.close()
        self.workers = []


# -- what msft prints --------------------------------------------------------------
class ConsoleProgress:
    """One progress bar on stderr, a line per failed file, a summary on stdout.

    The bar shows the files done of the total, the hours of audio converted
    and an ETA; it is drawn on a terminal only (elsewhere, e.g. in a Slurm
    log, a progress line is written every ``every`` seconds). ``quiet``
    silences the bar and the summary; failures and interruptions are always
    reported.
    """

    def __init__(self, quiet=False, every=60.0):
        self.quiet = quiet
        self.every = every
        self._bar = None
        self._last = 0.0
        self._report = None

    def start(self, report):
        import click
        self._report = report
        self._last = time.monotonic()
        if self.quiet or not report.total or not sys.stderr.isatty():
            return
        self._bar = click.progressbar(length=report.total * 1000, label=report.command,
                                      file=sys.stderr, show_eta=False, show_percent=True,
                                      item_show_func=lambda _: self._info())
        self._bar.__enter__()

    def _info(self):
        r = self._report
        eta = r.eta()
        return (f"{r.done}/{r.total} files, {_span(r.audio_seconds + r.partial_seconds)} audio"
                + (f", ETA {_clock(eta)}" if eta is not None and r.left else ""))

    def update(self, report):
        if self._bar is not None:
            pos = int(1000 * (report.done + report.partial_files))
            self._bar.update(max(0, pos - self._bar.pos))
        elif not self.quiet and report.total and time.monotonic() - self._last >= self.every:
            import click
            self._last = time.monotonic()
            click.echo(f"{report.command}: {self._info()}", err=True)

    def record(self, rec):
        if rec["status"] != "failed":
            return
        import click
        if self._bar is not None:
            click.echo("\r\033[K", nl=False, err=True)
        click.echo(f"Error: {rec['reason']}", err=True)
        if self._bar is not None:
            self._bar._last_line = None
            self._bar.render_progress()

    def close(self, report):
        import click
        if self._bar is not None:
            self._bar.__exit__(None, None, None)
            self._bar = None
        if report.interrupted:
            click.echo(report.interruption(), err=True)
        elif not self.quiet:
            click.echo(f"{report.command}: {report.summary()}")
