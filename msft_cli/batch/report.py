"""A batch's running totals and its summary."""

import signal
import time
from dataclasses import dataclass, field
from pathlib import Path

from msft_cli import convert


@dataclass
class BatchReport:
    """What a batch did, and while it runs, what it has done so far.

    Attributes
    ----------
    command : str
    total : int
        Files in this batch (this shard's).
    converted, skipped, failed : int
        Files converted, found up to date, and failed so far.
    audio_seconds : float
        Audio converted (whole files).
    partial_seconds, partial_files : float
        Audio and fractions of files done in files still being converted.
    started : float
        ``time.time()`` at the start; ``seconds`` the wall time at the end.
    manifest : Path or None
    shard : str or None
    failures : list of dict
        The records of the failed files.
    interrupted : str or None
        ``"SIGINT"``, ``"SIGTERM"`` or ``"SIGHUP"`` if a signal stopped the batch.
    stopped : bool
        ``fail_fast`` stopped the batch at a failure.
    leftovers : int
        Temporary files of an earlier, killed run removed at the start.
    """

    command: str
    total: int = 0
    converted: int = 0
    skipped: int = 0
    failed: int = 0
    audio_seconds: float = 0.0
    partial_seconds: float = 0.0
    partial_files: float = 0.0
    started: float = field(default_factory=time.time)
    seconds: float = 0.0
    manifest: Path = None
    shard: str = None
    failures: list = field(default_factory=list)
    interrupted: str = None
    stopped: bool = False
    leftovers: int = 0

    @property
    def done(self):
        """Files finished, whatever the outcome."""
        return self.converted + self.skipped + self.failed

    @property
    def left(self):
        return self.total - self.done

    @property
    def realtime_factor(self):
        """Audio seconds converted per second of wall time."""
        return self.audio_seconds / self.seconds if self.seconds > 0 else 0.0

    @property
    def exit_status(self):
        """0 if all went well, 1 if a file failed, 128 + the signal's number if interrupted."""
        if self.interrupted:
            return 128 + int(getattr(signal, self.interrupted, 15))
        return 1 if self.failed or self.stopped else 0

    def eta(self, now=None):
        """Seconds left at the rate files have been converted so far, or None if unknown."""
        work = self.converted + self.partial_files
        if work < 0.05:
            return None
        elapsed = (now or time.time()) - self.started
        return max(0.0, (self.left - self.partial_files) * elapsed / work)

    def summary(self):
        """One line: counts, audio converted, wall time, realtime factor, manifest."""
        line = (f"{self.total} file{'s' if self.total != 1 else ''}"
                + (f" (shard {self.shard})" if self.shard else "")
                + f": {self.converted} converted, {self.skipped} skipped, {self.failed} failed; "
                f"{_span(self.audio_seconds)} of audio in {_span(self.seconds)}"
                + (f" ({convert.format_realtime(self.realtime_factor)} realtime)"
                   if self.audio_seconds else ""))
        if self.stopped:
            line += f"; stopped at the first failure, {self.left} not done"
        if self.leftovers:
            line += (f"; removed {self.leftovers} temporary file"
                     f"{'s' if self.leftovers != 1 else ''} of an interrupted run")
        if self.manifest is not None:
            line += f"; manifest {self.manifest}"
        return line

    def interruption(self):
        """One line for an interrupted batch."""
        return (f"Interrupted by {self.interrupted}: {self.converted} converted, "
                f"{self.skipped} skipped, {self.failed} failed, {self.left} not done: run "
                "the same command again to finish")


def _span(seconds):
    if seconds < 100:
        return f"{seconds:.1f} s"
    if seconds < 6000:
        return f"{seconds / 60:.1f} min"
    return f"{seconds / 3600:.2f} h"


def _clock(seconds):
    seconds = int(round(seconds))
    return f"{seconds // 3600}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"
