"""Batches: folders and many files through ``analyze``, ``resynth`` or ``render``.

:func:`run` walks folders (recursively, by extension or ``glob``), mirrors
their tree under an output folder, and converts the files in worker processes.
It is built to be stopped and started again:

* **Atomic outputs.** Every output is written under a temporary name
  ``.<name>.<8 random characters>.part`` in its folder and renamed when
  complete, so a file under its final name is always complete. Temporary files
  left by a killed run (``kill -9``, a node crash) are removed when the next
  run starts: those of this run's outputs, older than the run.
* **Resumable.** An output is up to date, and skipped, when it exists and was
  made from the same source (same size and modification time, or with
  ``checksum=True`` the same SHA-256 of its content) with the same parameters.
  A container records this in root attributes (``source_size``,
  ``source_mtime_ns``, ``source_sha256``, ``analysis_options``: see
  docs/FORMAT.md); every output also has a record in the manifest, which
  holds its size and modification time, so a file replaced since is redone.
  ``overwrite=True`` redoes everything. Failed files are tried again.
* **Interruptible.** On SIGINT (Ctrl-C), SIGTERM or SIGHUP, the batch stops
  scheduling and sends SIGTERM to its workers, which abandon their file at the
  end of the block they are on (never inside a write or a rename), removing
  its temporary file; one that takes more than 10 s is killed and its
  temporary file removed by the parent. :func:`run` then returns a report
  whose ``interrupted`` names the signal. Workers also get SIGTERM when the
  parent dies (Linux), so a ``kill -9`` of the parent leaves no worker behind.
* **Failures are per file.** A file that cannot be converted gets a record
  with its reason, and the batch goes on (``fail_fast=True`` stops at the
  first). A worker process that dies (e.g. killed for lack of memory) fails
  its file only; a new worker takes over.
* **Manifest.** One JSON object per line and per file and run (see
  :data:`RECORD_FIELDS`), appended as files complete, to ``manifest.jsonl``
  in the output folder (``manifest-<I>-of-<N>.jsonl`` for shard ``I/N``, so
  that shards never write the same file). :func:`merge_manifests` merges them.
* **Shards.** ``shard=(I, N)`` keeps the files whose relative path hashes
  (SHA-256, so the same on every machine and in any listing order) to ``I``
  modulo ``N``: ``N`` tasks of a job array convert disjoint shares of a
  dataset that together cover it, into the same output tree.

Workers are separate processes (``forkserver`` on Linux, ``spawn`` elsewhere)
that each keep their transforms, and so their FFTW plans, from file to file.
Each uses ``cores // jobs`` FFTW threads (at least 1) unless ``threads`` is
given, so the cores are not oversubscribed. "Cores" are the CPUs this process
may run on (``os.sched_getaffinity``), e.g. a Slurm job's allocation.

:class:`ConsoleProgress` is what ``msft`` shows: one progress bar on stderr,
one line per failed file, and a summary.
"""

from .manifest import (
    MANIFEST_GLOBS,
    MERGED_MANIFEST,
    RECORD_FIELDS,
    SPEED_OPTIONS,
    MergeReport,
    fingerprint,
    merge_manifests,
    parameters,
    read_manifest,
    remove_leftovers,
    temporary_files,
)
from .plan import (
    COMMANDS,
    CONTAINER_EXTENSIONS,
    Task,
    cores,
    manifest_folder,
    manifest_name,
    output_name,
    parse_shard,
    plan,
    shard_of,
)
from .report import BatchReport
from .runner import run

__all__ = ["COMMANDS", "CONTAINER_EXTENSIONS", "Task", "cores", "parse_shard", "shard_of", "output_name", "plan", "manifest_folder", "manifest_name", "RECORD_FIELDS", "MANIFEST_GLOBS", "MERGED_MANIFEST", "SPEED_OPTIONS", "MergeReport", "fingerprint", "parameters", "read_manifest", "merge_manifests", "temporary_files", "remove_leftovers", "BatchReport", "run"]
