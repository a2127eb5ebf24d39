"""MSFT.prepare, plan_wisdom and ``msft wisdom``: plans made ahead, measured wisdom kept.

Measured planning is slow, so the wisdom tests use a tiny layout (8 kHz, two
octaves from 1 kHz, half a second): about a second of FFTW_MEASURE.
"""

import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest
from click.testing import CliRunner

from msft_cli.cli import main
from msft_cli.engine import fftw
from msft_cli.engine.transform import MSFT
from msft_cli.engine.wisdom import plan_wisdom
from msft_cli.errors import ParameterError

TINY = dict(fmin=1000.0, bins_per_octave=2)
TINY_ARGS = ["--sr", "8000", "--fmin", "1000", "-b", "2", "--seconds", "0.5",
             "--channels", "1", "--threads", "1"]

#: Builds the TINY transform in a fresh process where every FFTW plan must come from
#: saved wisdom (FFTW_WISDOM_ONLY): prepare() fails on the first plan that has none.
STRICT = textwrap.dedent("""
    import pyfftw
    from msft_cli import MSFT
    plain = pyfftw.FFTW
    def wisdom_only(a, b, **kw):
        kw["flags"] = ("FFTW_MEASURE", "FFTW_WISDOM_ONLY", "FFTW_DESTROY_INPUT")
        return plain(a, b, **kw)
    pyfftw.FFTW = wisdom_only
    print(MSFT(8000, fmin=1000.0, bins_per_octave=2, threads=1).prepare(4000, 1))
""")


def _strict(cache):
    return subprocess.run([sys.executable, "-c", STRICT], capture_output=True, text=True,
                          env={**os.environ, "MSFT_CACHE_DIR": str(cache)}, timeout=120)


# -- MSFT.prepare ------------------------------------------------------------------

@pytest.mark.parametrize("mode", ["zero", "periodic"])
@pytest.mark.parametrize("seconds", [0.3, 40.0])  # one block; blocks with seams
@pytest.mark.parametrize("channels", [1, 2])
def test_prepare_makes_every_plan_a_transform_uses(rng, snr, mode, seconds, channels):
    t = MSFT(8000, fmin=60.0, bins_per_octave=4, mode=mode, threads=1)
    y = rng.standard_normal((channels, int(seconds * 8000)))
    made = t.prepare(y.shape[1], channels)
    assert made == len(t.plans) > 0
    kernels = len(t._kernels)
    c = t.forward(y)
    y_hat = c.inverse()
    assert (len(t.plans), len(t._kernels)) == (made, kernels)  # nothing new was needed
    assert t.prepare(y.shape[1], channels) == made               # and preparing again is free
    assert snr(y, y_hat) >= 250


@pytest.mark.parametrize("args, error", [
    ((0,), ParameterError), ((100, 0), ParameterError),
    ((100.0,), TypeError), ((100, True), TypeError),
])
def test_prepare_refuses_bad_sizes(args, error):
    with pytest.raises(error):
        MSFT(8000, **TINY).prepare(*args)


# -- wisdom ------------------------------------------------------------------------

def test_plan_wisdom_saves_measured_plans(cache):
    seen = []
    done = plan_wisdom(8000, seconds=(0.5,), channels=(1,), threads=(1, 1),
                       progress=lambda *a: seen.append(a), **TINY)
    assert seen == [(4000, 1, 1)]       # the repeated thread count is planned once
    assert len(done) == 1 and done[0][:3] == (4000, 1, 1) and done[0][3] > 0
    assert fftw.wisdom_path().parent == cache and fftw.wisdom_path().is_file()
    strict = _strict(cache)
    assert strict.returncode == 0, strict.stderr
    assert int(strict.stdout) == done[0][3]


def test_without_wisdom_the_strict_check_fails(cache):
    """The control of the test above: an empty cache has no plan to give."""
    strict = _strict(cache)
    assert strict.returncode != 0 and "wisdom" in strict.stderr


@pytest.mark.parametrize("kwargs, message", [
    (dict(planner="estimate"), "measure or patient"),
    (dict(seconds=(1.0, 0.0)), "seconds=0 must be positive and finite"),
    (dict(seconds=(float("inf"),)), "seconds=inf must be positive and finite"),
    (dict(channels=(2, 0)), "channels=0 must be a whole number of at least 1"),
    (dict(threads=(0,)), "threads=0 must be at least 1"),
])
def test_plan_wisdom_refuses_before_planning(cache, kwargs, message):
    with pytest.raises(ParameterError, match=message):
        plan_wisdom(8000, progress=lambda *a: pytest.fail("planned"), **{**TINY, **kwargs})
    assert not fftw.wisdom_path().exists()


def test_plan_wisdom_refuses_a_channel_count_of_the_wrong_type(cache):
    with pytest.raises(TypeError, match="channels must be an int, not float"):
        plan_wisdom(8000, progress=lambda *a: pytest.fail("planned"),
                    **{**TINY, "channels": (1.5,)})
    assert not fftw.wisdom_path().exists()


def test_cli_wisdom_in_a_subprocess(cache):
    """The command as users run it, then a fresh process that plans from wisdom only."""
    run = subprocess.run([sys.executable, "-m", "msft_cli", "wisdom", *TINY_ARGS],
                         capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    assert "planning 0.5 s, 1 channel(s), 1 thread(s)" in run.stderr
    assert f"wisdom kept in {fftw.wisdom_path()}" in run.stdout
    assert _strict(cache).returncode == 0


def test_cli_wisdom_takes_the_transform_options(cache, monkeypatch):
    """Every option that changes the blocks reaches the transform that is planned."""
    from msft_cli.cli import wisdom as cli
    seen = {}
    monkeypatch.setattr(cli, "plan_wisdom", lambda *a, **kw: seen.update(kw) or [])
    result = CliRunner().invoke(main, ["wisdom", "-q", "--n-octaves", "5", "--tuning", "432",
                                       "--window", "hann", "--block-size", "65536"])
    assert result.exit_code == 0, result.output
    assert {k: seen[k] for k in ("n_octaves", "tuning", "window", "block_size")} == \
        {"n_octaves": 5, "tuning": 432.0, "window": "hann", "block_size": 65536}


def test_cli_wisdom_quiet_and_errors(cache):
    runner = CliRunner()
    result = runner.invoke(main, ["wisdom", *TINY_ARGS, "-q"])
    assert result.exit_code == 0 and result.output == ""
    assert fftw.wisdom_path().is_file()
    result = runner.invoke(main, ["wisdom", "--seconds", "-1"])
    assert result.exit_code == 1
    assert result.output.strip() == "Error: seconds=-1 must be positive and finite"
    result = runner.invoke(main, ["wisdom", "--channels", "2", "--channels", "0"])
    assert result.exit_code == 1
    assert result.output.strip() == "Error: channels=0 must be a whole number of at least 1"
    result = runner.invoke(main, ["wisdom", "--planner", "estimate"])
    assert result.exit_code == 2 and "'estimate' is not one of" in result.output


def test_wisdom_does_not_change_the_numbers(cache, rng):
    """Plans differ in speed, not in results: measured and estimated plans agree."""
    y = rng.standard_normal(4000)
    a = MSFT(8000, **TINY, threads=1).forward(y)
    b = MSFT(8000, **TINY, threads=1, planner="measure").forward(y)
    for p, q in zip(a.groups, b.groups):
        np.testing.assert_allclose(p, q, rtol=0, atol=1e-12 * np.max(np.abs(q)))
