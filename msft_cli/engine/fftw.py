"""FFTW plans for the engine, and the wisdom kept between runs.

A :class:`Plans` object belongs to one transform. It makes each FFTW plan once
per shape and reuses it (with its aligned buffers) for every block and every
file. FFTW's wisdom is process-wide by FFTW's own design; msft loads it from the
user's cache folder before the first plan and writes it back after planning
something new, so that an expensive ``measure`` plan is paid for once per machine.
"""

import base64
import functools
import json
import os
import re
import sys
from pathlib import Path

import numpy as np

from msft_cli._checks import choice, integer
from msft_cli._files import write_text
from msft_cli.errors import MsftError


@functools.cache
def _pyfftw():
    """pyfftw, imported on first use (reading a container needs no FFT), without the scipy interfaces its ``__init__`` imports when scipy is there.

    Those (``pyfftw.interfaces.scipy_fft``) pull in ``scipy.fft`` and ``scipy.special``,
    about 0.15 s of every start-up, for nothing msft uses: while pyfftw loads,
    ``scipy.fftpack`` is marked unimportable (pyfftw then skips them, as it does
    without scipy), and the mark is removed at once. The cost: in this process
    ``pyfftw.interfaces.scipy_fft`` is not an attribute of pyfftw until imported
    explicitly (``import pyfftw.interfaces.scipy_fft`` works as usual). Where
    ``scipy.fft`` or ``scipy.fftpack`` is loaded already, or pyfftw itself, there is
    nothing to save and nothing is blocked.
    """
    block = not any(m in sys.modules for m in ("scipy.fftpack", "scipy.fft", "pyfftw"))
    if block:
        sys.modules["scipy.fftpack"] = None
    try:
        import pyfftw
    finally:
        if block and sys.modules.get("scipy.fftpack", 0) is None:
            del sys.modules["scipy.fftpack"]
    return pyfftw


#: Planner efforts, from instant (and slower transforms) to slow (and faster transforms).
PLANNERS = ("estimate", "measure", "patient")

#: Transforms shorter than this run on one thread: threads cost more than they save.
_THREADED_SIZE = 1 << 15

_wisdom_loaded = False


def cache_dir():
    """Folder for msft's FFTW wisdom: ``$MSFT_CACHE_DIR``, else the user cache folder."""
    if os.environ.get("MSFT_CACHE_DIR"):
        return Path(os.environ["MSFT_CACHE_DIR"])
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "msft"


def wisdom_path():
    """The file where msft keeps FFTW's wisdom (one per pyFFTW version)."""
    return cache_dir() / f"fftw-wisdom-{_pyfftw().__version__}.json"


def load_wisdom():
    """Load saved FFTW wisdom once per process; a missing or stale file is ignored."""
    global _wisdom_loaded
    if _wisdom_loaded:
        return
    _wisdom_loaded = True
    try:
        saved = json.loads(wisdom_path().read_text())
        _pyfftw().import_wisdom(tuple(base64.b64decode(w) for w in saved))
    except Exception:  # noqa: BLE001 - wisdom is only a cache: a bad file is ignored
        pass


def save_wisdom():
    """Write FFTW's accumulated wisdom to the cache folder (atomically; errors ignored)."""
    path = wisdom_path()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        text = json.dumps([base64.b64encode(w).decode() for w in _pyfftw().export_wisdom()])
        write_text(path, text)
    except (OSError, MsftError):
        pass


def available_cpus():
    """CPUs this process was given: the fewest of its affinity mask and, inside a Slurm
    job, the job's CPUs (``SLURM_CPUS_PER_TASK``, else ``SLURM_JOB_CPUS_PER_NODE``).

    Under Slurm without CPU binding (``TaskPlugin=task/none``) every task sees every
    core in its affinity mask; counting those would oversubscribe them.
    """
    try:
        n = len(os.sched_getaffinity(0)) or 1
    except (AttributeError, OSError):
        n = os.cpu_count() or 1
    if os.environ.get("SLURM_JOB_ID"):
        for name in ("SLURM_CPUS_PER_TASK", "SLURM_JOB_CPUS_PER_NODE"):
            given = re.match(r"\s*(\d+)", os.environ.get(name, ""))  # "4", or "4(x2)"
            if given and int(given.group(1)) > 0:
                return min(n, int(given.group(1)))
    return n


class Plans:
    """FFTW plans of one transform, made on first use and reused.

    Parameters
    ----------
    threads : int
        FFTW threads for long transforms (``>= 1``). Default: the CPUs this
        process was given (:func:`available_cpus`).
    planner : str
        One of :data:`PLANNERS`: how hard FFTW searches for a fast plan.
    """

    def __init__(self, threads=None, planner="estimate"):
        threads = available_cpus() if threads is None else threads
        threads = integer("threads", threads, minimum=1)
        choice("planner", planner, PLANNERS)
        self.threads = int(threads)
        self.planner = planner
        self._plans = {}

    def __len__(self):
        """Plans made so far."""
        return len(self._plans)

    def _make(self, key, in_shape, in_dtype, out_shape, out_dtype, axis, direction):
        plan = self._plans.get(key)
        if plan is None:
            load_wisdom()
            a = _pyfftw().empty_aligned(in_shape, dtype=in_dtype)
            # complex rows of one shape transform in place: half the memory to touch
            inplace = in_shape == out_shape and in_dtype == out_dtype
            b = a if inplace else _pyfftw().empty_aligned(out_shape, dtype=out_dtype)
            size = in_shape[axis] if direction == "FFTW_FORWARD" else out_shape[axis]
            plan = _pyfftw().FFTW(
                a, b, axes=(axis,), direction=direction,
                flags=(f"FFTW_{self.planner.upper()}", "FFTW_DESTROY_INPUT"),
                threads=self.threads if size * int(np.prod(in_shape[:axis])) >= _THREADED_SIZE
                else 1)
            self._plans[key] = plan
            if self.planner != "estimate":
                save_wisdom()
        return plan

    def rfft(self, n):
        """Real-to-complex plan of length ``n``: ``plan.input_array`` -> ``plan.output_array``."""
        return self._make(("rfft", n), (n,), "float64", (n // 2 + 1,), "complex128", 0,
                          "FFTW_FORWARD")

    def irfft(self, n):
        """Complex-to-real plan of length ``n`` (unnormalized: scaled by ``n``)."""
        return self._make(("irfft", n), (n // 2 + 1,), "complex128", (n,), "float64", 0,
                          "FFTW_BACKWARD")

    def rfft_rows(self, rows, n, role=None):
        """Real-to-complex plan of length ``n`` over each of ``rows`` rows: ``(rows, n)``
        float64 -> ``(rows, n // 2 + 1)`` complex128.

        ``role`` (any hashable) tells apart plans of one shape whose buffers must
        not be shared, e.g. one block's outputs that must outlive another's run.
        """
        return self._make(("rfft", role, rows, n), (rows, n), "float64",
                          (rows, n // 2 + 1), "complex128", 1, "FFTW_FORWARD")

    def irfft_rows(self, rows, n, role=None):
        """Complex-to-real plan of length ``n`` over each of ``rows`` rows (unnormalized);
        ``role`` as for :meth:`rfft_rows`."""
        return self._make(("irfft", role, rows, n), (rows, n // 2 + 1), "complex128",
                          (rows, n), "float64", 1, "FFTW_BACKWARD")

    def ifft_rows(self, rows, m, role=None):
        """Unnormalized backward complex FFT of length ``m`` over each of ``rows`` rows,
        in place (``plan.input_array is plan.output_array``); ``role`` as for
        :meth:`rfft_rows`."""
        key = ("ifft", rows, m) if role is None else ("ifft", role, rows, m)
        return self._make(key, (rows, m), "complex128", (rows, m), "complex128",
                          1, "FFTW_BACKWARD")

    def fft_rows(self, rows, m, role=None):
        """Forward complex FFT of length ``m`` over each of ``rows`` rows, in place;
        ``role`` as for :meth:`rfft_rows`."""
        key = ("fft", rows, m) if role is None else ("fft", role, rows, m)
        return self._make(key, (rows, m), "complex128", (rows, m), "complex128",
                          1, "FFTW_FORWARD")
