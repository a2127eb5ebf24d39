"""Fast Griffin-Lim on the frame: iterate projections from an initial phase."""

from .griffin_lim import iter_reconstruct, reconstruct
from .measures import group_weights, spectral_convergence
from .pghi import main_lobe, pghi, window_gamma
from .problem import (
    DEFAULT_ITERATIONS,
    DEFAULT_MOMENTUM,
    DEFAULT_TOL_DB,
    INITS,
    REACH_DB,
    REAL_BANDS,
)
from .segments import OVERLAP_SECONDS, SEGMENT_SECONDS, resynthesize

__all__ = ["INITS", "REAL_BANDS", "DEFAULT_ITERATIONS", "DEFAULT_MOMENTUM", "DEFAULT_TOL_DB", "REACH_DB", "group_weights", "spectral_convergence", "window_gamma", "main_lobe", "pghi", "iter_reconstruct", "reconstruct", "SEGMENT_SECONDS", "OVERLAP_SECONDS", "resynthesize"]
