"""The transform: bands and windows, block plans, kernels, the two-rate split, FFTW
plans, the :class:`MSFT` facade and its :class:`Coefficients`.

Modules, from the bottom up:

- :mod:`.bands`: the band layout and the windows on the log-frequency axis;
- :mod:`.fftw`: FFTW plans and wisdom (pyfftw's only importer);
- :mod:`.blocks`: block lengths, margins and the step ladders of zero mode;
- :mod:`.multirate`: the two-rate split of zero mode and its decimation filter;
- :mod:`.kernels`: where each band reads and writes in a block, one block forward or back;
- :mod:`.coefficients`: the result of a forward transform;
- :mod:`.transform`: :class:`MSFT`, which ties them together.
"""

from .bands import WINDOWS, default_fmin
from .coefficients import Coefficients
from .transform import MODES, MSFT
from .wisdom import plan_wisdom

__all__ = ["MSFT", "Coefficients", "MODES", "WINDOWS", "default_fmin", "plan_wisdom"]
