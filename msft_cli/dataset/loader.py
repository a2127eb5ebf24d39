"""Batches of a dataset: collation, worker processes, shared-memory transport."""

import itertools
import mmap
import multiprocessing
import os
import secrets
import tempfile
from collections import deque
from pathlib import Path

import numpy as np

from msft_cli._checks import integer
from msft_cli.errors import MsftError, ParameterError


def collate(samples):
    """Stack items into one batch: arrays gain a leading axis, lists stay lists of stacks."""
    if not samples:
        raise ParameterError("collate needs at least one sample")
    out = {}
    for key, value in samples[0].items():
        column = [s[key] for s in samples]
        if isinstance(value, list):
            out[key] = [np.stack(parts) for parts in zip(*column)]
        else:
            out[key] = np.stack([np.asarray(v) for v in column])
    return out


_WORKER_DATA = None
_WORKER_MARKS = None  # a folder where each worker notes the item it is reading
_SHARED = Path("/dev/shm")  # batches cross from workers as files here (Linux), else pickled
_COUNTER = itertools.count()
#: Seconds between checks that every worker is alive while a batch is awaited.
_WATCH = 0.5


def _init_worker(dataset, marks=None):
    global _WORKER_DATA, _WORKER_MARKS
    _WORKER_DATA, _WORKER_MARKS = dataset, marks
    if marks is not None:
        Path(marks, f"{os.getpid()}.alive").touch()


def _item(i):
    """Item ``i``, noted first, so that a crash inside HDF5 names the file that caused it."""
    if _WORKER_MARKS is not None:
        Path(_WORKER_MARKS, f"{os.getpid()}.item").write_text(str(i))
    return _WORKER_DATA[i]


def _load_batch(task):
    """A worker's batch: collated (``task`` a list of indices), or written to a shared
    memory file (``task`` = (indices, name prefix)) whose name and layout are returned."""
    if not isinstance(task, tuple):
        return collate([_item(i) for i in task])
    indices, prefix = task
    return _to_shared([_item(i) for i in indices], prefix)


def _dead_worker(dataset, marks):
    """An MsftError naming the item (and its file) a worker died reading, or None."""
    for alive in Path(marks).glob("*.alive"):
        pid = int(alive.stem)
        try:
            os.kill(pid, 0)
            continue
        except ProcessLookupError:
            pass
        except PermissionError:
            continue
        try:
            index = int(Path(marks, f"{pid}.item").read_text())
        except (OSError, ValueError):
            return MsftError(f"a worker process (pid {pid}) died before reading an item")
        try:
            file = dataset.paths[dataset.locate(index)[0]]
        except Exception:  # noqa: BLE001 -- a dataset without files: the index says it
            return MsftError(f"item {index}: a worker process (pid {pid}) died reading it")
        return MsftError(f"{file}: a worker process (pid {pid}) died reading it (item "
                         f"{index}): the file is probably damaged")
    return None


def _to_shared(samples, prefix):
    """Stack samples straight into a new file in /dev/shm: ``(path, leaves)``."""
    leaves, size = [], 0
    for key, value in samples[0].items():
        parts = value if isinstance(value, list) else [value]
        for j, part in enumerate(parts):
            part = np.asarray(part)
            leaves.append((key, j if isinstance(value, list) else None,
                           (len(samples),) + part.shape, part.dtype.str, size))
            size += -(-part.nbytes * len(samples) // 64) * 64
    path = _SHARED / f"{prefix}-{os.getpid()}-{next(_COUNTER)}"
    fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_RDWR, 0o600)
    try:
        os.ftruncate(fd, max(size, 1))
        with mmap.mmap(fd, max(size, 1)) as mm:
            for key, j, shape, dtype, offset in leaves:
                out = np.ndarray(shape, dtype, buffer=mm, offset=offset)
                for i, sample in enumerate(samples):
                    out[i] = sample[key] if j is None else sample[key][j]
                del out
    finally:
        os.close(fd)
    return str(path), leaves


def _from_shared(message):
    """A batch from :func:`_to_shared`'s file, mapped without a copy (copy-on-write);
    the file is removed at once and the memory freed with the last array."""
    path, leaves = message
    fd = os.open(path, os.O_RDONLY)
    try:
        mm = mmap.mmap(fd, os.fstat(fd).st_size, access=mmap.ACCESS_COPY)
    finally:
        os.close(fd)
        os.unlink(path)
    batch = {}
    for key, j, shape, dtype, offset in leaves:
        array = np.ndarray(shape, dtype, buffer=mm, offset=offset)
        if j is None:
            batch[key] = array
        else:
            batch.setdefault(key, []).append(array)
    return batch


def iter_batches(dataset, batch_size=32, workers=0, context=None, indices=None,
                 drop_last=False, prefetch=2):
    """Collated batches of a dataset, in order, read by worker processes.

    A small stand-in for PyTorch's ``DataLoader`` (which works as well): each
    worker gets the dataset once and opens the containers itself. On Linux a
    worker writes each batch into a file in ``/dev/shm`` that this process maps
    without copying (like the DataLoader's shared memory); elsewhere batches are
    pickled through a pipe. Files of batches not consumed (the loop left early)
    are removed when the generator closes.

    Parameters
    ----------
    dataset : CropDataset
    batch_size : int
    workers : int
        Worker processes; 0 reads in this process.
    context : {None, "fork", "spawn", "forkserver"}
        The multiprocessing start method (default: the platform's).
    indices : sequence of int, optional
        Items to read, in this order. Default: all of them.
    drop_last : bool
        Leave out a last batch smaller than ``batch_size``.
    prefetch : int
        Batches each worker reads ahead of the consumer (memory: ``workers *
        prefetch`` batches at most).

    Yields
    ------
    dict
        :func:`collate` of ``batch_size`` items.
    """
    for name, value, low in (("batch_size", batch_size, 1), ("workers", workers, 0),
                             ("prefetch", prefetch, 1)):
        integer(name, value, minimum=low, rule=f"an integer >= {low}")
    indices = list(range(len(dataset))) if indices is None else list(indices)
    batches = [indices[i:i + batch_size] for i in range(0, len(indices), batch_size)]
    if drop_last and batches and len(batches[-1]) < batch_size:
        batches.pop()
    if workers == 0:
        for batch in batches:
            yield collate([dataset[i] for i in batch])
        return
    ctx = multiprocessing.get_context(context)
    shared = _SHARED.is_dir() and os.access(_SHARED, os.W_OK)
    prefix = f"msft-batch-{os.getpid()}-{secrets.token_hex(4)}"
    tasks = [(batch, prefix) for batch in batches] if shared else batches
    marks = tempfile.mkdtemp(prefix="msft-workers-")
    try:
        with ctx.Pool(workers, initializer=_init_worker, initargs=(dataset, marks)) as pool:
            todo, pending = iter(tasks), deque()
            for task in itertools.islice(todo, workers * prefetch):
                pending.append(pool.apply_async(_load_batch, (task,)))
            while pending:
                waiting = pending.popleft()
                while True:  # a worker killed by a signal never answers: watch them
                    try:
                        result = waiting.get(timeout=_WATCH)
                        break
                    except multiprocessing.TimeoutError:
                        dead = _dead_worker(dataset, marks)
                        if dead is not None:
                            raise dead from None
                for task in itertools.islice(todo, 1):  # at most workers * prefetch ahead
                    pending.append(pool.apply_async(_load_batch, (task,)))
                yield _from_shared(result) if shared else result
    finally:  # the pool is gone: no worker writes any more
        for mark in Path(marks).iterdir():
            mark.unlink(missing_ok=True)
        os.rmdir(marks)
        if shared:
            for leftover in _SHARED.glob(prefix + "-*"):
                leftover.unlink(missing_ok=True)
