"""What a batch converts: inputs walked, outputs named, shards."""

import fnmatch
import hashlib
import os
import re
from dataclasses import dataclass
from pathlib import Path

from msft_cli._checks import choice, unknown
from msft_cli._files import walk
from msft_cli.errors import ParameterError
from msft_cli.io.audio import AUDIO_EXTENSIONS
from msft_cli.io.container.format import CONTAINER_EXTENSIONS
from msft_cli.render.inputs import FORMATS

#: What a batch can do to each file.
COMMANDS = ("analyze", "resynth", "render")


_INPUTS = {"analyze": AUDIO_EXTENSIONS, "resynth": CONTAINER_EXTENSIONS,
           "render": CONTAINER_EXTENSIONS + AUDIO_EXTENSIONS}


def cores():
    """CPUs this process may use: its affinity, and inside a Slurm job no more than the
    job was given (see :func:`msft_cli.engine.fftw.available_cpus`)."""
    from msft_cli.engine.fftw import available_cpus
    return available_cpus()


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

    The files are :func:`msft_cli._files.walk`'s: at any depth, hidden files
    and folders passed over, links to folders not followed.
    """
    found = []
    for path in walk(folder):
        rel = path.relative_to(folder).as_posix()
        if _picked(rel, path.name, globs, extensions):
            try:
                found.append((path, rel, path.stat().st_size))
            except OSError:  # vanished, or a dangling link: reported when converted
                found.append((path, rel, 0))
    return found


def _check_inputs(command, inputs):
    choice("command", command, COMMANDS)
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
             "render": tuple("." + f for f in FORMATS)}[command]
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
    if format is not None and (command != "render" or format not in FORMATS):
        raise unknown("format", format, FORMATS, more=" (for render)")
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
