"""Everything the torch engine takes from the numpy engine, in one place.

The torch engine derives no geometry of its own: the band layout, the windows
on FFT bins (with their FFTW scalings folded in), hops, frame ranges, the
zero-mode block plans and the two-rate split all come from
:class:`msft_cli.MSFT` and its block geometries. This module is the only one
of :mod:`msft_cli.torch` that imports msft's internals or reads private
attributes of the numpy engine, so that a move of the engine re-points here
only. Nothing here imports torch: it returns numpy arrays and plain numbers.
"""

from dataclasses import dataclass

import numpy as np

# The numpy engine (its facade and result: public names), and the modules whose private
# pieces msft_cli.torch reuses: phase (the Griffin-Lim problem and its PGHI start),
# learn_dft (targets, evaluation, results), dataset (crops) and audio (decoding).
from types import SimpleNamespace

from msft_cli import dataset as dataset_module
from msft_cli.engine.coefficients import Coefficients
from msft_cli.engine.transform import MSFT
from msft_cli.errors import ParameterError
from msft_cli.io import audio as audio_module  # soundfile's owner: AudioSource
from msft_cli.io.resample import AudioReader
from msft_cli.learn_dft.evaluate import LearnResult, evaluate
from msft_cli.learn_dft import targets as _ld_targets
from msft_cli.learn_dft import train as _ld_train
from msft_cli.phase import griffin_lim as _gl
from msft_cli.phase import problem as _problem

#: The pieces of learn_dft and phase that msft_cli.torch reuses, under one name each.
learn_dft_module = SimpleNamespace(
    ADAM_GAIN=_ld_train.ADAM_GAIN, MIXED_SWITCH=_ld_train.MIXED_SWITCH,
    PRECISIONS=_ld_train.PRECISIONS, check_training=_ld_train.check_training,
    _val_loss=_ld_train._val_loss, INPUT_VARIANCE=_ld_targets.INPUT_VARIANCE,
    N_VALIDATION=_ld_targets.N_VALIDATION, _uniform=_ld_targets._uniform,
    make_target=_ld_targets.make_target, LearnResult=LearnResult, evaluate=evaluate)
phase_module = SimpleNamespace(
    DEFAULT_ITERATIONS=_problem.DEFAULT_ITERATIONS, DEFAULT_MOMENTUM=_problem.DEFAULT_MOMENTUM,
    DEFAULT_TOL_DB=_problem.DEFAULT_TOL_DB, _Problem=_problem._Problem,
    _channel=_problem._channel, _check_coefficients=_problem._check_coefficients,
    _check_tol=_problem._check_tol, _check_init=_gl._check_init, _initial=_gl._initial,
    _check_iterations=_gl._check_iterations, _check_momentum=_gl._check_momentum)

__all__ = ["audio_module", "dataset_module", "learn_dft_module", "phase_module",
           "AudioReader", "ParameterError", "MSFT", "Coefficients", "GroupTable", "BlockTable", "Stage",
           "block_table", "frame_ranges", "periodic_plan", "zero_plan", "hop_max"]


@dataclass(frozen=True)
class GroupTable:
    """One group's index maps in one block geometry, as flat numpy arrays.

    Analysis: the group's buffer, ``rows x width`` (``width = m`` for an
    octave, ``m // 2 + 1`` for the real low- and high-pass bands), is
    ``spec[an_src] * (an_w + 1j * an_wi)`` read as real and imaginary parts:
    ``re * an_w + 1j * im * an_wi`` (``an_wi = -an_w`` where a bin lands through
    its mirror image, 0 at the DC and Nyquist positions of a real band, whose
    imaginary parts FFTW's c2r ignores), 0 at positions no bin reaches.
    Synthesis: the FFT of the frames at flat positions ``syn_pos``, weighted the
    same way by ``syn_w`` / ``syn_wi``, is added to spectrum bins ``syn_src``.
    """

    index: int
    real: bool
    rows: int
    m: int
    hop: int
    width: int
    an_src: np.ndarray
    an_w: np.ndarray
    an_wi: np.ndarray
    syn_pos: np.ndarray
    syn_src: np.ndarray
    syn_w: np.ndarray
    syn_wi: np.ndarray


@dataclass(frozen=True)
class BlockTable:
    """Tables of one block geometry: FFT length ``size`` of ``n`` full-rate samples at
    ``sr / decimation``; ``low_an`` / ``low_syn`` weigh the decimated low band's bins
    (the high stage of a split, else None) for blocks of ``low_size`` samples."""

    key: tuple
    n: int
    size: int
    decimation: int
    groups: tuple
    low_size: int
    low_an: np.ndarray
    low_syn: np.ndarray


@dataclass(frozen=True)
class Stage:
    """A zero-mode stage: its blocks start at full-rate ``starts`` (forward), advance
    ``step`` and begin ``pad`` samples before it; ``table`` is the geometry."""

    table: BlockTable
    step: int
    pad: int
    span: tuple       # (lo, hi) full-rate samples the forward blocks cover
    feeds: bool


def _group_table(gm):
    width = gm.m // 2 + 1 if gm.real else gm.m
    total = gm.rows * width
    an_src = np.zeros(total, np.int64)
    an_w = np.zeros(total)
    an_wi = np.zeros(total)
    pos, src, w, wi = [], [], [], []
    for row, b0, b1, where, conj, w_an, w_syn in gm.pieces:
        flat = row * width + np.arange(width)[where]
        bins = np.arange(b0, b1)
        sign = -1.0 if conj else 1.0
        an_src[flat] = bins
        an_w[flat] = w_an
        an_wi[flat] = sign * np.asarray(w_an)
        pos.append(flat)
        src.append(bins)
        w.append(np.asarray(w_syn, float))
        wi.append(sign * np.asarray(w_syn, float))
    if gm.real:  # FFTW's c2r reads only the real parts at DC and Nyquist
        an_wi[0::width] = 0
        if gm.m % 2 == 0:
            an_wi[gm.m // 2::width] = 0
    cat = (lambda parts, dt: np.concatenate(parts).astype(dt) if parts else np.zeros(0, dt))
    return GroupTable(gm.index, gm.real, gm.rows, gm.m, gm.hop, width, an_src, an_w, an_wi,
                      cat(pos, np.int64), cat(src, np.int64), cat(w, float), cat(wi, float))


def block_table(geo, key):
    """The :class:`BlockTable` of a numpy engine geometry."""
    return BlockTable(key, geo.n, geo.size, geo.decimation,
                      tuple(_group_table(gm) for gm in geo.maps), geo.low_size,
                      None if geo.low_an is None else np.asarray(geo.low_an, float),
                      None if geo.low_syn is None else np.asarray(geo.low_syn, float))


def frame_ranges(transform, n_samples):
    """``(first, count)`` of every group for a signal of ``n_samples``."""
    return [transform.frame_range(g, n_samples) for g in range(len(transform.groups))]


def periodic_plan(transform, n_samples):
    """The one block of periodic mode: ``(table, period)``."""
    n = transform.period(n_samples)
    return block_table(transform._geometry(n), ("periodic", n)), n


def zero_plan(transform, n_samples):
    """The zero-mode stages, low stage first: a list of :class:`Stage`, and the split's
    decimation (1 at one rate)."""
    ranges = frame_ranges(transform, n_samples)
    blocks = transform._blocks(n_samples)
    spans = transform.blocks.spans(ranges, n_samples)
    stages = []
    for st, (step, geo, pad), span in zip(transform._stages, blocks, spans):
        table = block_table(geo, ("zero", st.groups[0], geo.n))
        stages.append(Stage(table, step, pad, span, st.feeds))
    split = transform._split
    return stages, (1 if split is None or len(stages) == 1 else split.decimation)


def hop_max(transform):
    """The coarsest hop of the transform (block starts are multiples of it)."""
    return transform.hop_max
