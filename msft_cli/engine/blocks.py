"""Block plans of zero mode: the stages, their step ladders and margins."""

from dataclasses import dataclass

import numpy as np

#: Default zero-mode steps are the shortest step of the ladder (see ``MSFT._block_plan``)
#: of at least this many short margins of their stage: the margins (seam margins, where
#: blocks meet) then cost ~1/8 to ~1/4 more FFT work, where longer blocks cost memory,
#: and first touching memory is a large part of a cold run (a 60 s stereo file: 3.1
#: M-sample high-stage blocks touched ~410 MB of buffers).
STEP_MARGINS = 16

#: One block just long enough for a stage's frames (from a finer ladder) replaces the
#: one or two default ones where its FFT is at most this fraction of theirs: a single
#: block is more memory to touch, which costs a cold run (the 60 s at 48 bins/octave
#: gains 25-45% from it; a 30 s stereo file at 12 bins, where one block would save 11%
#: of the FFT length, ran no faster and peaked 35% higher).
COVER_GAIN = 0.75


def _ladder(top, granule, parts=(8,)):
    """Zero-mode steps, longest first: ``top * p / 8`` for each of ``parts``, halved
    again and again, each rounded up to ``granule``. With the default, many signal
    lengths share a few steps; with ``(8, 7, 6, 5)`` a step chosen as the shortest
    above a length is at most a quarter longer than it."""
    rungs = []
    for k in range(64):
        for p in parts:
            step = -(-top * p // (8 << k) // granule) * granule
            if rungs and step >= rungs[-1]:
                return tuple(rungs)
            rungs.append(step)
    return tuple(rungs)


@dataclass(frozen=True)
class _Stage:
    """Groups processed together in blocks at ``sr / decimation``."""

    groups: tuple     # group indices
    decimation: int
    margin: int       # full-rate samples on each side of a block that covers the stage
    seam: int         # ... and of blocks that meet others; both multiples of granule
    granule: int      # full-rate samples: block starts and pads are multiples of it
    feeds: bool       # the high stage of a split: makes or takes the decimated low band


def is_smooth(m):
    """Whether ``m``'s prime factors are all 2, 3, 5 or 7 (FFTW is fast there)."""
    for p in (2, 3, 5, 7):
        while m % p == 0:
            m //= p
    return m == 1


def block_length(step, margin, granule):
    """Block length for blocks advancing ``step`` samples with ``margin`` on each side.

    ``step`` and ``margin`` are multiples of ``granule``; the result is the
    smallest ``granule * m >= step + 2 * margin`` with ``m`` 7-smooth and the
    two pads ``(length - step) / 2`` multiples of ``granule``.
    """
    m = (step + 2 * margin) // granule
    while not (is_smooth(m) and (m - step // granule) % 2 == 0):
        m += 1
    return m * granule

#: Split, a stage's margin, in extents of its longest filter, where one block covers
#: the whole stage: the circular wrap then only folds the filters' tails onto zeros,
#: and a quarter more than the extent gives ~310 dB round trips (the extents end where
#: the envelope falls to 1e-8 of its peak). One rate keeps margins of one extent.
MARGIN_FACTOR = 1.25

#: The margin, in extents, where blocks meet: every seam cuts the filters' tails
#: across it, and each seam then costs more than the single block's floor. Measured
#: on 60 s at 12 bins per octave, with three low-stage blocks (one block: 308-311 dB):
#: with 1.25 extents 246 dB (techno, C1 up) and 258 dB (noise); with 2, 300.5 and
#: 303.5 dB at the same speed; longer low-stage margins gained ~3 dB more (303.4 dB on
#: the techno with 4) but slowed the inverse by a quarter. (The low stage now takes
#: such a file in one block; the high stage's seams, at 2 or 3 extents, cost < 1 dB.)
SEAM_FACTOR = 2.0


def margins(extent, granule, factors=(MARGIN_FACTOR, SEAM_FACTOR)):
    """Margins of ``factor * extent`` samples for each factor, rounded up to ``granule``."""
    return [-(-int(np.ceil(f * extent)) // granule) * granule for f in factors]
