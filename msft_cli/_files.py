"""Files msft writes and folders it reads: one atomic writer, one temporary name, one walk.

Every file msft writes (audio, containers, model files, pictures, manifests,
FFTW wisdom) goes through :class:`AtomicWrite`: it is written under a hidden
temporary name in the target's folder (:data:`TEMP_NAME`) and renamed into
place only when complete, so a reader never sees half a file and a stopped
run leaves only names that :func:`msft_cli.batch.manifest.remove_leftovers`
recognises. Every folder msft searches is listed by :func:`walk`.
"""

import os
import re
import stat
import tempfile
from pathlib import Path

from msft_cli.errors import MsftError, ParameterError

#: The name of a file being written: ``.<target name>.<8 random characters>.part``
#: beside the target (the random part is :func:`tempfile.mkstemp`'s).
TEMP_NAME = re.compile(r"^\.(?P<name>.+)\.[a-z0-9_]{8}\.part$")


def _mode():
    """The permissions a new file gets from ``open()``: ``0o666`` less the umask."""
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


def _reason(exc):
    return exc.strerror if isinstance(exc, OSError) and exc.strerror else exc


class AtomicWrite:
    """A file written under a temporary name and renamed to ``path`` when complete.

    Use as a context manager (``with AtomicWrite(path) as out: write(out.tmp)``)
    or, for writers that span several calls, end it with :meth:`finish`
    (or :meth:`commit` / :meth:`discard`). On success the file gets the permissions a plain
    ``open()`` would give it (``0o666`` less the umask, not ``mkstemp``'s
    ``0o600``), is flushed to disk (``fsync``) and renamed over ``path``; on an
    exception inside the block the temporary file is removed and ``path`` is
    left as it was, and an ``OSError`` raised inside the block becomes
    ``error`` ("cannot write").

    Parameters
    ----------
    path : str or Path
        The file to write; its folder must exist.
    error : type
        The :class:`~msft_cli.errors.MsftError` subclass raised on failure
        (:class:`~msft_cli.errors.AudioError` for audio, ContainerError for
        msft's other files).

    Attributes
    ----------
    path : Path
        The target.
    tmp : str
        The temporary file (``.<name>.<8 characters>.part`` beside ``path``,
        see :data:`TEMP_NAME`), created empty; None once committed or discarded.

    Raises
    ------
    error
        ``"<path>: the folder <folder> does not exist"``, ``"<path>: is a
        folder"``, or ``"<path>: cannot write (<reason>)"`` when the temporary
        file cannot be made, written or renamed.
    """

    def __init__(self, path, error=MsftError):
        self.path = Path(path)
        self.error = error
        self.tmp = None
        if not self.path.parent.is_dir():
            raise error(f"{self.path}: the folder {self.path.parent} does not exist")
        if self.path.is_dir():
            raise error(f"{self.path}: is a folder")
        try:
            fd, self.tmp = tempfile.mkstemp(dir=self.path.parent, prefix=f".{self.path.name}.",
                                            suffix=".part")
            os.close(fd)
        except OSError as exc:
            raise self.failed(exc) from exc

    def failed(self, exc):
        """The error to raise for ``exc`` (the temporary file is removed first)."""
        self.discard()
        return self.error(f"{self.path}: cannot write ({_reason(exc)})")

    def commit(self):
        """Give the finished file its permissions, flush it to disk and rename it to ``path``."""
        try:
            os.chmod(self.tmp, _mode())
            fd = os.open(self.tmp, os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
            os.replace(self.tmp, self.path)
        except OSError as exc:
            raise self.failed(exc) from exc
        self.tmp = None

    def finish(self, handle, failed):
        """Close ``handle`` (the writer's open file), then :meth:`commit`, or :meth:`discard`
        if ``failed`` or the close fails: the end of a writer that spans several calls."""
        try:
            handle.close()
        except BaseException:
            self.discard()
            raise
        if failed:
            self.discard()
        else:
            self.commit()

    def discard(self):
        """Remove the temporary file (nothing happens once committed or discarded)."""
        if self.tmp is not None:
            Path(self.tmp).unlink(missing_ok=True)
            self.tmp = None

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb):
        if exc_type is None:
            self.commit()
        elif isinstance(exc, OSError):
            raise self.failed(exc) from exc
        else:
            self.discard()


def write_text(path, text, error=MsftError):
    """Write ``text`` (UTF-8) to ``path`` atomically; return the path."""
    with AtomicWrite(path, error) as out:
        with open(out.tmp, "w", encoding="utf-8") as fh:
            fh.write(text)
    return out.path


def temporary_name(entry_name):
    """The target name a temporary file stands for (``None`` if ``entry_name`` is not one)."""
    m = TEMP_NAME.match(entry_name)
    return m.group("name") if m else None


def hidden(name):
    """Whether a file or folder name is hidden (starts with ``.``): :func:`walk` skips those."""
    return name.startswith(".")


def walk(folder):
    """The files under ``folder``, at any depth, in a stable order.

    The one rule for every folder msft searches (batch inputs, dataset
    sources, render's folders):

    - recursive: subfolders at any depth;
    - hidden files and folders (names starting with ``.``, such as
      :data:`TEMP_NAME`'s temporary files) are skipped, with all they hold;
    - links to folders are not followed (no loops); links to files are
      listed, a dangling one too, so the caller reports it;
    - order: a folder's files by name, then its subfolders by name, each
      walked the same way.

    Parameters
    ----------
    folder : str or Path

    Yields
    ------
    Path
        ``folder / relative path`` of each file.

    Raises
    ------
    ParameterError
        A folder cannot be listed (``"<folder>: cannot list (<reason>)"``).
    """
    folder = Path(folder)

    def onerror(exc):
        raise ParameterError(f"{exc.filename}: cannot list ({exc.strerror})") from exc
    for top, dirs, files in os.walk(folder, onerror=onerror):
        dirs[:] = sorted(d for d in dirs if not hidden(d))
        top = Path(top)
        for name in sorted(files):
            if not hidden(name):
                yield top / name


def expand(items, find, nothing, error=MsftError):
    """The files that files and folders stand for, in order: a file itself, a folder ``find(it)``.

    Parameters
    ----------
    items : iterable of str or Path
    find : callable
        ``find(folder)``: the files a folder stands for (e.g. from :func:`walk`).
    nothing : str
        The message when a folder gives none, with ``{folder}`` for its path.
    error : type
        The :class:`~msft_cli.errors.MsftError` subclass raised.

    Raises
    ------
    error
        A folder that gives nothing, or ``"<path>: no such file or folder"``.
    """
    files = []
    for item in map(Path, items):
        if item.is_dir():
            found = list(find(item))
            if not found:
                raise error(nothing.replace("{folder}", str(item)))
            files.extend(found)
        elif item.exists():
            files.append(item)
        else:
            raise error(f"{item}: no such file or folder")
    return files


def check_regular(path, error, what, name=None):
    """Refuse at once what is not a regular file: missing, a folder, or a FIFO, device or
    socket (whose reads would block or never end).

    Parameters
    ----------
    path : str or Path
    error : type
        The MsftError subclass to raise (AudioError, ContainerError).
    what : str
        What the file should be, for the folder message ("an audio file").
    name : str, optional
        How the message names the file. Default: ``path``.
    """
    name = path if name is None else name
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        raise error(f"{name}: no such file") from None
    except OSError as exc:
        raise error(f"{name}: cannot be read ({exc.strerror or exc})") from exc
    if stat.S_ISDIR(mode):
        raise error(f"{name}: is a folder, not {what}")
    if not stat.S_ISREG(mode):
        kind = ("a FIFO" if stat.S_ISFIFO(mode) else "a device" if stat.S_ISCHR(mode)
                or stat.S_ISBLK(mode) else "a socket" if stat.S_ISSOCK(mode) else "a special file")
        raise error(f"{name}: is {kind}, not a regular file")
