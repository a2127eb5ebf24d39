"""The batch manifest: fingerprints, records, merging, and leftovers of stopped runs."""

import hashlib
import inspect
import json
import os
import stat
from dataclasses import dataclass
from pathlib import Path

from msft_cli import convert
from msft_cli._files import expand, temporary_name, write_text
from msft_cli.engine.transform import KEYWORDS, MSFT, PARAM_DEFAULTS
from msft_cli.errors import ContainerError, ParameterError
from msft_cli.io import container

#: Options that change how fast an output is made, not what it holds: changing
#: them does not make an output out of date (block sizes agree to float32 rounding).
SPEED_OPTIONS = ("threads", "planner", "block_size")

#: Options of reading audio (resampling, downmix, excerpt) with their defaults: left out
#: of :func:`parameters` at these values (like the transform's newer parameters,
#: ``PARAM_DEFAULTS``), so outputs made before they existed stay up to date.
READING_DEFAULTS = {"sr": None, "mono": False, "offset": 0.0, "duration": None,
                    "resample_quality": "HQ"}

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
_TRANSFORM_PARAMS = KEYWORDS


def fingerprint(path, checksum=False):
    """``{"size", "mtime_ns", "sha256"}`` of a file (``sha256`` None unless ``checksum``).

    Raises OSError if it cannot be read.
    """
    st = os.stat(path)
    digest = None
    if checksum and stat.S_ISREG(st.st_mode):  # a FIFO would block: converting refuses it
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
        from msft_cli.render import render
        full = {**{k: v for k, v in _defaults(MSFT.__init__).items()
                   if k not in ("fmin", "fmax")},
                **_defaults(render, ("output", "progress"))}
    full.update(options)
    if command == "analyze" and full.get("dtype") is None:  # the default for what is stored
        full["dtype"] = getattr(container, "DEFAULT_DTYPES", {}).get(full.get("store", "complex"),
                                                                     full.get("dtype"))
    if full.get("sr") is None:  # the resampler's quality matters only when resampling
        full.pop("resample_quality", None)
    unchanged = {**READING_DEFAULTS, **PARAM_DEFAULTS}  # options newer than some manifests
    return _plain({k: v for k, v in sorted(full.items()) if k not in SPEED_OPTIONS
                   and not (k in unchanged and v == unchanged[k])})


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
        raise ContainerError(f"{path}: cannot read ({exc.strerror or exc})") from exc
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
            raise ContainerError(f"{self.path}: cannot write the manifest "
                                 f"({exc.strerror or exc})") from exc

    def write(self, record):
        data = (json.dumps(record, ensure_ascii=False) + "\n").encode("utf-8")
        try:
            os.write(self._fd, data)
        except OSError as exc:
            raise ContainerError(f"{self.path}: cannot write the manifest "
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
    ContainerError
        No manifest found, or a file that cannot be read or written.
    """
    paths = [paths] if isinstance(paths, (str, Path)) else list(paths)
    if not paths:
        raise ParameterError("no manifest or folder given")
    files = expand(paths, _manifest_files,
                   "{folder}: holds no manifest (" + " or ".join(MANIFEST_GLOBS) + ")",
                   ContainerError)
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
    write_text(output, text, ContainerError)
    return MergeReport(output, len(files), len(records), len(latest), statuses, damaged,
                       len(chosen))


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
        if temporary_name(entry.name) == output.name:
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
            if temporary_name(entry.name) not in names:
                continue
            try:
                if entry.stat().st_mtime < older_than:
                    os.unlink(entry.path)
                    removed += 1
            except OSError:
                pass
    return removed


_RESYNTH_SET = ("output", "reference", "progress", "transform", "phase_progress")  # not options
