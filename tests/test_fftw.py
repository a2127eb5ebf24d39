"""Tests of msft_cli.engine.fftw: plan reuse, agreement with numpy.fft, wisdom files, errors."""

import base64
import json
import os

import numpy as np
import pyfftw
import pytest

from msft_cli.engine import fftw
from msft_cli.engine.fftw import (
    PLANNERS,
    Plans,
    available_cpus,
    cache_dir,
    load_wisdom,
    save_wisdom,
)
from msft_cli.errors import ParameterError

SIZES = [1, 2, 64, 1000, 4096, 3 * 5 * 7 * 16, 7919]  # powers of two, smooth, prime


def _rel_err(a, b):
    return np.max(np.abs(a - b)) / max(np.max(np.abs(b)), 1e-300)


def _wisdom_file(folder):
    return folder / f"fftw-wisdom-{pyfftw.__version__}.json"


# -- plans ------------------------------------------------------------------------

def test_plans_are_reused_per_shape():
    plans = Plans(threads=1)
    assert plans.rfft(256) is plans.rfft(256)
    assert plans.irfft(256) is plans.irfft(256)
    assert plans.ifft_rows(3, 64) is plans.ifft_rows(3, 64)
    assert plans.fft_rows(3, 64) is plans.fft_rows(3, 64)
    # a different shape or direction is another plan
    assert plans.rfft(512) is not plans.rfft(256)
    assert plans.irfft(256) is not plans.rfft(256)
    assert plans.ifft_rows(4, 64) is not plans.ifft_rows(3, 64)
    assert plans.fft_rows(3, 64) is not plans.ifft_rows(3, 64)


def test_plans_belong_to_one_object():
    """Plans own their buffers: two transforms never share (and overwrite) one."""
    a, b = Plans(threads=1), Plans(threads=1)
    assert a.rfft(128) is not b.rfft(128)
    assert a.rfft(128).input_array is not b.rfft(128).input_array


@pytest.mark.parametrize("n", SIZES)
def test_rfft_matches_numpy(n, rng):
    plan = Plans(threads=1).rfft(n)
    assert plan.input_array.shape == (n,) and plan.input_array.dtype == np.float64
    assert plan.output_array.shape == (n // 2 + 1,)
    assert plan.output_array.dtype == np.complex128
    for _ in range(2):  # a reused plan transforms new data
        x = rng.standard_normal(n)
        plan.input_array[:] = x
        plan.execute()
        assert _rel_err(plan.output_array, np.fft.rfft(x)) <= 1e-12


@pytest.mark.parametrize("n", SIZES)
def test_irfft_matches_numpy_unnormalized(n, rng):
    plan = Plans(threads=1).irfft(n)
    assert plan.input_array.shape == (n // 2 + 1,) and plan.output_array.shape == (n,)
    assert plan.output_array.dtype == np.float64
    for _ in range(2):
        x = rng.standard_normal(n)
        spectrum = np.fft.rfft(x)
        plan.input_array[:] = spectrum  # the plan may destroy its input
        plan.execute()
        assert _rel_err(plan.output_array / n, np.fft.irfft(spectrum, n)) <= 1e-12
        assert _rel_err(plan.output_array / n, x) <= 1e-12


@pytest.mark.parametrize("rows, m", [(1, 8), (12, 64), (24, 96), (3, 1)])
def test_row_transforms_match_numpy(rows, m, rng):
    plans = Plans(threads=1)
    x = rng.standard_normal((rows, m)) + 1j * rng.standard_normal((rows, m))
    fwd = plans.fft_rows(rows, m)
    fwd.input_array[:] = x
    fwd.execute()
    assert _rel_err(fwd.output_array, np.fft.fft(x, axis=1)) <= 1e-12
    bwd = plans.ifft_rows(rows, m)
    bwd.input_array[:] = x
    bwd.execute()
    assert _rel_err(bwd.output_array, m * np.fft.ifft(x, axis=1)) <= 1e-12


def test_complex_row_transforms_run_in_place(rng):
    """One buffer per complex row plan (half the memory to touch); real plans keep two."""
    plans = Plans(threads=1)
    for plan in (plans.fft_rows(4, 96), plans.ifft_rows(4, 96)):
        assert plan.input_array is plan.output_array
    x = rng.standard_normal((4, 96)) + 1j * rng.standard_normal((4, 96))
    plan = plans.fft_rows(4, 96)
    plan.input_array[:] = x
    plan.execute()
    assert _rel_err(plan.output_array, np.fft.fft(x, axis=1)) <= 1e-12
    real = plans.rfft_rows(2, 96)
    assert not np.shares_memory(real.input_array, real.output_array)


@pytest.mark.parametrize("rows, n", [(1, 8), (2, 64), (2, 90), (3, 1)])
def test_real_row_transforms_match_numpy(rows, n, rng):
    plans = Plans(threads=1)
    x = rng.standard_normal((rows, n))
    fwd = plans.rfft_rows(rows, n)
    assert fwd.output_array.shape == (rows, n // 2 + 1)
    fwd.input_array[:] = x
    fwd.execute()
    assert _rel_err(fwd.output_array, np.fft.rfft(x, axis=1)) <= 1e-12
    bwd = plans.irfft_rows(rows, n)
    assert bwd.output_array.shape == (rows, n) and bwd.output_array.dtype == np.float64
    bwd.input_array[:] = np.fft.rfft(x, axis=1)
    bwd.execute()
    assert _rel_err(bwd.output_array / n, x) <= 1e-12


def test_real_row_plans_are_kept_per_role():
    plans = Plans(threads=1)
    assert plans.rfft_rows(2, 64) is plans.rfft_rows(2, 64, None)
    assert plans.rfft_rows(2, 64, "block") is plans.rfft_rows(2, 64, "block")
    assert plans.rfft_rows(2, 64, "block") is not plans.rfft_rows(2, 64, "low")
    assert plans.irfft_rows(2, 64, 3).input_array is not plans.irfft_rows(2, 64, 4).input_array
    assert plans.irfft_rows(2, 64) is not plans.rfft_rows(2, 64)


def test_large_threaded_plan_matches_numpy(rng):
    n = 1 << 16  # above the single-thread size
    plan = Plans(threads=2).rfft(n)
    x = rng.standard_normal(n)
    plan.input_array[:] = x
    plan.execute()
    assert _rel_err(plan.output_array, np.fft.rfft(x)) <= 1e-12


def test_default_threads_are_the_cpus_given(monkeypatch):
    for name in ("SLURM_JOB_ID", "SLURM_CPUS_PER_TASK", "SLURM_JOB_CPUS_PER_NODE"):
        monkeypatch.delenv(name, raising=False)
    mask = len(os.sched_getaffinity(0))
    assert Plans().threads == available_cpus() == mask
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: set(range(64)))
    assert available_cpus() == 64  # outside Slurm: the affinity mask
    monkeypatch.setenv("SLURM_CPUS_PER_TASK", "4")
    assert available_cpus() == 64  # a stale variable outside a job counts for nothing
    monkeypatch.setenv("SLURM_JOB_ID", "123")
    assert available_cpus() == Plans().threads == 4  # task/none: every core in the mask
    monkeypatch.delenv("SLURM_CPUS_PER_TASK")
    monkeypatch.setenv("SLURM_JOB_CPUS_PER_NODE", "6(x2)")
    assert available_cpus() == 6
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0, 1})
    assert available_cpus() == 2  # bound to fewer CPUs than the job's count
    assert Plans(threads=np.int64(3)).threads == 3
    assert Plans().planner == "estimate"


# -- wisdom -----------------------------------------------------------------------

def test_cache_dir_from_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("MSFT_CACHE_DIR", str(tmp_path / "c"))
    assert cache_dir() == tmp_path / "c"
    monkeypatch.delenv("MSFT_CACHE_DIR")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert cache_dir() == tmp_path / "xdg" / "msft"
    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert cache_dir() == tmp_path / "home" / ".cache" / "msft"


def test_session_cache_is_not_the_users(msft_cache_dir):
    """The autouse fixture keeps every test away from the real cache folder."""
    assert cache_dir() == msft_cache_dir
    assert os.environ["MSFT_CACHE_DIR"] == str(msft_cache_dir)


def test_save_wisdom_writes_under_cache_dir(cache):
    Plans(threads=1).rfft(96)  # something for FFTW to remember
    save_wisdom()
    path = _wisdom_file(cache)
    assert path.is_file()
    saved = json.loads(path.read_text())
    assert isinstance(saved, list) and len(saved) == len(pyfftw.export_wisdom())
    assert tuple(base64.b64decode(w) for w in saved) == pyfftw.export_wisdom()
    # written atomically: no temporary file is left next to it
    assert sorted(p.name for p in cache.iterdir()) == [path.name]
    # with the permissions of any other file msft writes (not mkstemp's 0o600)
    umask = os.umask(0)
    os.umask(umask)
    assert path.stat().st_mode & 0o777 == 0o666 & ~umask


def test_save_wisdom_creates_missing_folders(tmp_path, monkeypatch):
    folder = tmp_path / "a" / "b"
    monkeypatch.setenv("MSFT_CACHE_DIR", str(folder))
    save_wisdom()
    assert _wisdom_file(folder).is_file()


def test_save_wisdom_ignores_unwritable_folder(tmp_path, monkeypatch):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    monkeypatch.setenv("MSFT_CACHE_DIR", str(blocker / "sub"))
    save_wisdom()  # errors are ignored: wisdom is an optimisation
    assert blocker.read_text() == "not a folder"


def test_load_wisdom_imports_saved_file_once(cache, monkeypatch):
    save_wisdom()
    expected = pyfftw.export_wisdom()
    calls = []
    monkeypatch.setattr(pyfftw, "import_wisdom", lambda w: calls.append(w))
    load_wisdom()
    assert calls == [expected]
    load_wisdom()  # once per process
    assert len(calls) == 1


@pytest.mark.parametrize("content", [
    None, "", "not json", "[1, 2]", '{"a": 1}', '["AAAA", "AAAA", "AAAA"]',
    "[]", '["AAAA"]',
])
def test_load_wisdom_ignores_missing_or_bad_file(cache, content):
    if content is not None:
        _wisdom_file(cache).write_text(content)
    load_wisdom()  # no exception
    assert fftw._wisdom_loaded


def test_first_plan_loads_wisdom(cache, monkeypatch):
    calls = []
    monkeypatch.setattr(fftw, "load_wisdom", lambda: calls.append(1))
    plans = Plans(threads=1)
    plans.rfft(40)
    plans.rfft(40)  # reused: no further load
    assert calls == [1]


def test_measure_planner_saves_wisdom(cache):
    plans = Plans(threads=1, planner="measure")
    plans.rfft(48)
    assert _wisdom_file(cache).is_file()


def test_estimate_planner_does_not_write(cache):
    Plans(threads=1, planner="estimate").rfft(56)
    assert not _wisdom_file(cache).exists()


# -- errors -----------------------------------------------------------------------

@pytest.mark.parametrize("kwargs, exc, message", [
    (dict(threads=0), ParameterError, "threads=0 must be at least 1"),
    (dict(threads=-2), ParameterError, "threads=-2 must be at least 1"),
    (dict(threads=1.0), TypeError, "threads must be an int, not float"),
    (dict(threads=True), TypeError, "threads must be an int, not bool"),
    (dict(planner="fast"), ParameterError,
     "planner='fast' is unknown: must be one of estimate, measure, patient"),
    (dict(planner="FFTW_MEASURE"), ParameterError,
     "planner='FFTW_MEASURE' is unknown: must be one of estimate, measure, patient"),
])
def test_plans_errors(kwargs, exc, message):
    with pytest.raises(exc) as info:
        Plans(**kwargs)
    assert type(info.value) is exc
    assert str(info.value) == message


def test_planner_names():
    assert PLANNERS == ("estimate", "measure", "patient")
    for planner in PLANNERS:
        assert Plans(threads=1, planner=planner).planner == planner
