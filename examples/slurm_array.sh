#!/bin/bash
# Analyze a dataset with a Slurm job array: each task converts its share of the
# audio files under IN (msft analyze --shard I/N) into the one output tree OUT.
#
#   sbatch examples/slurm_array.sh /data/music /scratch/$USER/music-h5 [analyze options]
#   # when every task has ended:
#   msft merge-manifests /scratch/$USER/music-h5      # -> manifest-merged.jsonl
#
# The shares are drawn by a hash of each file's path under IN: they are disjoint,
# cover every file, and do not depend on the machine or the listing order. Each
# task writes only its own files and its own manifest-<I>-of-<N>.jsonl.
#
# Submitting the same script again resumes: outputs that are up to date (same
# source size and modification time, same options) are skipped, failed files
# are tried again, and temporary files left by a task that was killed are
# removed. At the time limit Slurm sends SIGTERM (here 120 s early, see
# --signal): msft stops its workers at the end of the block they are on,
# removes their temporary files and exits with status 143; nothing incomplete
# is ever left under an output's name.
#
# The array must be 0-(N-1) or any range without a step (%K, a limit on the
# tasks running at once, is fine): the share is the task's rank in the array.
# The CPUs of a task are its worker processes; each worker uses
# cores // jobs FFTW threads. Set MSFT to run msft another way, e.g.
# MSFT="python -m msft_cli" for a checkout.
#
#SBATCH --job-name=msft-analyze
#SBATCH --array=0-15
#SBATCH --cpus-per-task=4
#SBATCH --mem-per-cpu=1G
#SBATCH --time=02:00:00
#SBATCH --signal=B:TERM@120
#SBATCH --output=msft-analyze-%A_%a.log

set -euo pipefail

IN=${1:?usage: sbatch slurm_array.sh IN OUT [msft analyze options]}
OUT=${2:?usage: sbatch slurm_array.sh IN OUT [msft analyze options]}
shift 2

: "${SLURM_ARRAY_TASK_ID:?run this with sbatch (a job array)}"
SHARD=$((SLURM_ARRAY_TASK_ID - ${SLURM_ARRAY_TASK_MIN:-0}))
COUNT=${SLURM_ARRAY_TASK_COUNT:?this Slurm sets no SLURM_ARRAY_TASK_COUNT}
JOBS=${SLURM_CPUS_PER_TASK:-1}

echo "task $SLURM_ARRAY_TASK_ID: share $SHARD/$COUNT of $IN -> $OUT, $JOBS workers"
# exec: msft itself gets Slurm's SIGTERM and stops cleanly
exec ${MSFT:-msft} analyze "$IN" -o "$OUT" --shard "$SHARD/$COUNT" -j "$JOBS" "$@"
