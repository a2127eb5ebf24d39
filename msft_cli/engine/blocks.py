"""Block plans of zero mode: the stages, their step ladders and margins."""

from dataclasses import dataclass

import numpy as np

from msft_cli._checks import integer

#: Default zero-mode steps span at least this many short margins of their stage (see
#: :meth:`BlockPlanner.plan`): margins cost ~1/8-1/4 more FFT work, longer blocks more
#: memory to touch. The measurements: docs/DESIGN.md, "Block plans".
STEP_MARGINS = 16

#: One block just long enough for a stage replaces the default ones where its FFT is at
#: most this fraction of theirs (a single block is more memory to touch): docs/DESIGN.md.
COVER_GAIN = 0.75

#: Without a block_size, the default block is the power of two at least this many one-rate
#: margins long (the step is what its two margins leave).
DEFAULT_BLOCK_MARGINS = 4


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


def one_rate_margins(groups):
    """Margins of one-rate blocks, on the coarsest hop: ``(margin, seam)``, one extent of
    the longest filter where one block covers the signal, :data:`SEAM_FACTOR` where blocks
    meet."""
    return margins(max(g.extent for g in groups), max(g.hop for g in groups), (1, SEAM_FACTOR))


class BlockPlanner:
    """Zero mode's blocks: the stages, their margins and step ladders, and the plan of each
    stage for a signal length.

    Parameters
    ----------
    groups : sequence of Group
        The layout's band groups (:attr:`BandLayout.groups
        <msft_cli.engine.bands.BandLayout.groups>`), coarse to fine.
    block_size : int or None
        Samples advanced per block (rounded up to a multiple of the coarsest
        hop), or None for the default (see :meth:`plan`).
    split : Split or None
        The two-rate split (:func:`msft_cli.engine.multirate.plan_split`), or
        None for one rate.
    """

    def __init__(self, groups, block_size, split):
        self.groups = groups
        self.hop_max = hop_max = max(g.hop for g in groups)
        #: overlap margin on each side of a one-rate block, a multiple of the coarsest hop
        #: (and ``seam``, that of one-rate blocks that meet others)
        self.margin, seam = one_rate_margins(groups)
        self.fixed_step = block_size is not None
        if block_size is None:
            n = 1 << int(np.ceil(np.log2(DEFAULT_BLOCK_MARGINS * self.margin)))
            block_size = n - 2 * self.margin
        integer("block_size", block_size, minimum=1, unit="sample")
        self.block_size = int(-(-block_size // hop_max) * hop_max)
        self.split = split
        every = tuple(range(len(groups)))
        if split is None:
            self.stages = (_Stage(every, 1, self.margin, seam, hop_max, False),)
        else:
            s = split.octaves + 1
            self.stages = (_Stage(every[:s], split.decimation, split.low_margin,
                                  split.low_seam, hop_max, False),
                           _Stage(every[s:], 1, split.high_margin, split.high_seam,
                                  split.high_granule, True))
        #: per stage, the default steps and the finer ones (see :meth:`plan`); a stage at
        #: ``1 / D`` of the rate reaches ``D`` times further in the same memory
        self.ladders = [(_ladder(self.block_size * st.decimation, hop_max),
                         _ladder(self.block_size * st.decimation, hop_max, (8, 7, 6, 5)))
                        for st in self.stages]

    def plan(self, ranges, n_samples):
        """``(step, margin)`` of each stage for a signal of ``n_samples``.

        ``ranges`` are the ``(first, count)`` frames of every group. The step
        is :attr:`block_size` if given. Else a step of the stage's ladder
        (:func:`_ladder`, from :attr:`block_size` times the stage's decimation
        down), at least the stage's seam margin: the shortest that covers the
        stage's frames in one block, or that is :data:`STEP_MARGINS` of its
        short margins long if it is longer. A short clip then pays for a short
        block, the high stage of a split (short margins) keeps its blocks small,
        the decimated low stage (long margins) takes few and long ones, and a
        transform reused for many files meets only a few block lengths
        (geometries and plans are kept per length). Where the frames need one
        or two such blocks, one block from a finer ladder (at most a quarter
        longer than the frames) replaces them if its FFT is shorter than
        :data:`COVER_GAIN` of theirs. The margin is the stage's short one where
        one block covers the stage, its seam margin where blocks meet (see
        :data:`SEAM_FACTOR`).
        """
        plan = []
        for stage, (lo, hi), (ladder, fine) in zip(self.stages, self.spans(ranges, n_samples),
                                                   self.ladders):
            step = self.block_size
            if not self.fixed_step:
                need = max(stage.seam, min(hi - lo, STEP_MARGINS * stage.margin))
                step = next((r for r in reversed(ladder) if r >= need), ladder[0])
                if hi - lo <= 2 * step:  # one or two blocks: is one just long enough cheaper?
                    count = -(-(hi - lo) // step)
                    cover = next((r for r in reversed(fine) if r >= hi - lo), 0)
                    margin = stage.margin if count == 1 else stage.seam
                    if cover and (block_length(cover, stage.margin, stage.granule) < COVER_GAIN
                                  * count * block_length(step, margin, stage.granule)):
                        step = cover
            plan.append((step, stage.margin if step >= hi - lo else stage.seam))
        return plan

    def spans(self, ranges, n_samples):
        """Full-rate samples ``(lo, hi)`` each stage's forward blocks cover: its frames
        (lo on the coarsest hop) and, for the high stage of a split, the decimated low
        band (0 beyond the decimation filter's reach from the signal)."""
        spans = []
        for stage in self.stages:
            lo = min(ranges[g][0] * self.groups[g].hop for g in stage.groups)
            hi = max((ranges[g][0] + ranges[g][1]) * self.groups[g].hop for g in stage.groups)
            lo = (lo // self.hop_max) * self.hop_max
            if stage.feeds:
                margin = self.split.high_margin
                lo = min(lo, -margin // self.hop_max * self.hop_max)
                hi = max(hi, n_samples + margin)
            spans.append((lo, hi))
        return spans
