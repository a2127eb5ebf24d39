"""Everything the viewer takes from the rest of msft, in one place.

The viewer is a client of the library: the public API (``msft_cli``), phase
reconstruction, and the render module's raster (the loudest frame in each
pixel). When those move, this is the one file to change.
"""

from msft_cli._checks import choice, integer
from msft_cli.convert import analyze
from msft_cli.engine.coefficients import Coefficients
from msft_cli.errors import AudioError, ContainerError, MsftError, ParameterError
from msft_cli.io.container.format import CONTAINER_EXTENSIONS
from msft_cli.io.container.reader import load
from msft_cli.phase.griffin_lim import reconstruct
from msft_cli.render.inputs import input_kind
from msft_cli.render.raster import FLOOR_DB, _Frames, _raster

__all__ = ["AudioError", "CONTAINER_EXTENSIONS", "Coefficients", "ContainerError", "MsftError",
           "ParameterError", "analyze", "choice", "integer", "load", "reconstruct", "FLOOR_DB",
           "_Frames", "_raster", "input_kind"]
