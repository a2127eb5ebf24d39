"""The worker process of a batch: one file at a time, progress and results by pipe."""

import json
import os
import signal
import time
from pathlib import Path

from msft_cli import convert
from msft_cli.batch.manifest import _TRANSFORM_PARAMS, _same_source, fingerprint
from msft_cli.batch.plan import CONTAINER_EXTENSIONS
from msft_cli.engine.transform import MSFT
from msft_cli.errors import AudioError, ContainerError, MsftError, ParameterError
from msft_cli.io.audio import info as audio_info
from msft_cli.io.container.reader import load

_PROGRESS_EVERY = 0.5  # seconds between a worker's progress messages



def _file_error(command, path, output=False):
    """The error of a file a batch reads or writes: AudioError for audio (analyze's inputs,
    resynth's outputs, render's audio inputs), else ContainerError (containers, pictures)."""
    if output:
        return AudioError if command == "resynth" else ContainerError
    if command == "render":
        return ContainerError if Path(path).suffix.lower() in CONTAINER_EXTENSIONS else AudioError
    return AudioError if command == "analyze" else ContainerError

class _Stopped(BaseException):
    """Raised in a worker after SIGTERM, between two blocks of its file: unwinds (removing
    the temporary file) and exits."""


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
            except OSError as exc:
                reason = ("no such file" if isinstance(exc, FileNotFoundError)
                          else f"cannot read ({exc.strerror or exc})")
                raise _file_error(self.command, source)(f"{source}: {reason}") from exc
            rec.update(source_size=stamp["size"], source_mtime_ns=stamp["mtime_ns"],
                       source_sha256=stamp["sha256"])
            duration = None if self.overwrite else self._up_to_date(output, stamp, prior)
            if duration is not None:
                rec.update(status="skipped", duration=duration if duration >= 0 else None)
            else:
                try:
                    output.parent.mkdir(parents=True, exist_ok=True)
                except OSError as exc:
                    raise _file_error(self.command, output, output=True)(
                        f"{output.parent}: cannot make the folder ({exc.strerror or exc})") \
                        from exc
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
        sr = self.options.get("sr") or audio_info(source)["sr"]
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
        from msft_cli.render import render
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
