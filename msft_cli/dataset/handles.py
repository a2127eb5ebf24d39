"""What a dataset opens in each process: containers (a bounded, least recently used set)
and its transforms, never shared across a fork and never pickled."""

import os
from collections import OrderedDict

from msft_cli.errors import ContainerError
from msft_cli.io.container.reader import load


class ProcessHandles:
    """Open containers and per-process objects of a dataset, remade in every process.

    Parameters
    ----------
    paths : list of Path
        The dataset's containers.
    expected : callable
        ``expected(i, box)`` is True when container ``i`` is still the one the
        dataset surveyed (its parameters and length).
    max_open : int
        Containers held open at once in a process; the least recently used
        is closed first.
    """

    def __init__(self, paths, expected, max_open):
        self.paths, self.expected, self.max_open = paths, expected, max_open
        self._boxes, self._objects, self._pid = OrderedDict(), {}, os.getpid()

    def _own(self):
        """Drop what another process opened (a fork's copies; the parent keeps its own)."""
        pid = os.getpid()
        if pid != self._pid:
            stale, self._boxes, self._objects, self._pid = self._boxes, OrderedDict(), {}, pid
            for box in stale.values():
                try:
                    box.close()
                except Exception:  # noqa: BLE001 - a copy that cannot close is simply dropped
                    pass

    def container(self, i):
        """Container ``i``, opened in this process."""
        self._own()
        box = self._boxes.get(i)
        if box is None:
            box = self._boxes[i] = load(self.paths[i])
            if not self.expected(i, box):
                del self._boxes[i]
                box.close()
                raise ContainerError(f"{self.paths[i]}: changed since the dataset was made")
            while len(self._boxes) > self.max_open:
                self._boxes.popitem(last=False)[1].close()
        else:
            self._boxes.move_to_end(i)
        return box

    def get(self, key, make):
        """The object ``key`` of this process, made by ``make()`` on first use."""
        self._own()
        value = self._objects.get(key)
        if value is None:
            value = self._objects[key] = make()
        return value

    def close(self):
        """Close the containers this process opened."""
        if self._pid == os.getpid():
            for box in self._boxes.values():
                box.close()
        self._boxes, self._pid = OrderedDict(), os.getpid()

    def __getstate__(self):
        return {**self.__dict__, "_boxes": OrderedDict(), "_objects": {}, "_pid": None}

    def __setstate__(self, state):
        self.__dict__.update(state)
        self._pid = os.getpid()
