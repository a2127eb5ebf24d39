"""Block plans of zero mode: the stages, their step ladders and margins."""

from dataclasses import dataclass

import numpy as np

#: Default zero-mode steps span at least this many short margins of their stage (see
#: ``MSFT._block_plan``): margins cost ~1/8-1/4 more FFT work, longer blocks more memory to
#: touch. The measurements: docs/DESIGN.md, "Block plans".
STEP_MARGINS = 16

#: One block just long enough for a stage replaces the default ones where its FFT is at
#: most this fraction of theirs (a single block is more memory to touch): docs/DESIGN.md.
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

#: A stage's margin, in extents of its longest filter, where one block covers it (one rate:
#: one extent): ~310 dB round trips. See docs/DESIGN.md, "Margins and seams".
MARGIN_FACTOR = 1.25

#: The margin, in extents, where blocks meet: every seam cuts the filters' tails (1.25
#: gave 246-258 dB on 60 s, 2 gives 300-304 dB at the same speed): docs/DESIGN.md.
SEAM_FACTOR = 2.0


def margins(extent, granule, factors=(MARGIN_FACTOR, SEAM_FACTOR)):
    """Margins of ``factor * extent`` samples for each factor, rounded up to ``granule``."""
    return [-(-int(np.ceil(f * extent)) // granule) * granule for f in factors]
