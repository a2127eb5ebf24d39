"""The parent of a batch: workers started, fed and buried, signals, the run's loop."""

import datetime
import inspect
import multiprocessing
import os
import signal
import threading
import time
from collections import deque
from multiprocessing.connection import wait as _wait_for
from pathlib import Path

from msft_cli import convert
from msft_cli._checks import integer
from msft_cli._version import __version__
from msft_cli.batch.manifest import (
    _RESYNTH_SET,
    _TRANSFORM_PARAMS,
    _defaults,
    _latest,
    _Manifest,
    _manifest_files,
    parameters,
    read_manifest,
    remove_leftovers,
    temporary_files,
)
from msft_cli.batch.plan import cores, manifest_folder, manifest_name, parse_shard, plan
from msft_cli.batch.report import BatchReport
from msft_cli.batch.worker import _worker_main
from msft_cli.engine.transform import MSFT
from msft_cli.errors import MsftError, ParameterError
from msft_cli.io.resample import DEFAULT_QUALITY, check_excerpt, check_quality, check_sr

_SIGNALS = tuple(s for s in (getattr(signal, n, None) for n in ("SIGINT", "SIGTERM", "SIGHUP"))
                 if s is not None)
_PROBE_SR = 192000  # transform parameters that fail at this rate fail at every lower one
#: Seconds the stopped workers get to finish their block and clean up before they are killed.
_STOP_SECONDS = 10
#: Seconds to wait for a killed worker to go.
_KILL_SECONDS = 5
#: Seconds between the parent's looks at its workers when none has written.
_POLL_SECONDS = 0.25


_stop_requested = False


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
    return integer("jobs", jobs, minimum=1)


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
        check_sr(options.get("sr"))
        check_excerpt(options.get("offset", 0.0), options.get("duration"))
        check_quality(options.get("resample_quality", DEFAULT_QUALITY))
        tparams.update(threads=1, block_size=None)
        MSFT(_PROBE_SR, **tparams)  # what fails at this rate fails at every lower one
    elif command == "resynth":
        if options.get("reference") is not None:
            raise ParameterError("reference applies to one container, not to a batch")
        options.pop("reference", None)
        check_sr(options.get("sr"))
        unknown = sorted(set(options) - set(_defaults(convert.resynth, _RESYNTH_SET)))
        if unknown:
            raise TypeError(f"resynth() got an unexpected keyword argument {unknown[0]!r}")
    else:
        from msft_cli.render import check_options
        check_options(**options)
        check_sr(options.get("sr"))


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
                for obj in _wait_for(list(handles), timeout=_POLL_SECONDS):
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
        deadline = time.monotonic() + _STOP_SECONDS
        for w in self.workers:
            w.process.join(timeout=max(0.1, deadline - time.monotonic()))
            if w.process.is_alive():
                w.process.kill()
                w.process.join(timeout=_KILL_SECONDS)
        for w in busy:
            self._handle(w)  # a file finished just before the worker stopped
            if w.task is not None:
                for tmp in temporary_files(w.task[1].output):
                    tmp.unlink(missing_ok=True)
        for w in self.workers:
            w.conn.close()
        self.workers = []
