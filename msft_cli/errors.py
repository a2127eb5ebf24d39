"""The exceptions msft raises.

Every error the library raises on purpose is an :class:`MsftError`, so a caller
(and the CLI) can catch them all in one place. Bad parameter values are also
``ValueError``; I/O problems carry the path they concern.
"""


class MsftError(Exception):
    """Base class of every error raised by msft on purpose."""


class ParameterError(MsftError, ValueError):
    """A parameter has an impossible value; the message names it and the rule."""


class AudioError(MsftError):
    """An audio file cannot be read or written, or holds unusable samples."""


class ContainerError(MsftError):
    """An HDF5 container is missing, corrupt, foreign or of a newer version.

    Also the error of msft's other files, which are no audio: model files,
    pictures and batch manifests that cannot be read or written.
    """
