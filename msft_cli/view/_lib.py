"""Everything the viewer takes from the rest of msft, in one place.

The viewer is a client of the library: the public API (``msft_cli``), phase
reconstruction, and the render module's raster (the loudest frame in each
pixel). When those move, this is the one file to change.
"""

from .. import Coefficients, ContainerError, MsftError, ParameterError, analyze, load
from ..phase import reconstruct
from ..render import FLOOR_DB, _Frames, _raster, input_kind

__all__ = ["Coefficients", "ContainerError", "MsftError", "ParameterError", "analyze", "load",
           "reconstruct", "FLOOR_DB", "_Frames", "_raster", "input_kind"]
