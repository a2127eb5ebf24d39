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
# removed. At the time limit Slurm sends SIGTERM (here 30 s early, see --signal;
# Slurm may send it up to 60 s earlier still): msft stops its workers at the end
# of the block they are on (a second or so; a worker that takes more than 10 s is
# killed), removes their temporary files and exits with status 143; nothing
# incomplete is ever left under an output's name. Keep --signal's lead well under
# the time limit: a lead of 120 s under a 2.5-minute limit fires at once, and
# every resubmission stops before it has converted anything.
#
# Stopping by hand: msft runs in the batch step (exec below), so signal that.
#   scancel JOB                      stops it (TERM to every step, the batch step too)
#   scancel --batch -s TERM JOB      stops it cleanly, the same way as a time limit
#   scancel --full -s TERM JOB       likewise
#   scancel -s TERM JOB              does NOT: without --batch or --full the signal
#                                    goes to srun steps only, and this job has none
#
# The array must be a range without a step: --array=0-15, or 0-15%4 (%K limits
# the tasks running at once); the share is the task's rank in the array. An
# array with a step or a list (--array=0-6:2, --array=1,3,4) is refused before
# anything is converted, since its ranks would not cover the shares. To redo
# some shares of an earlier array of N tasks, give N and use the shares as ids:
#   sbatch --array=3,7 --export=ALL,MSFT_SHARDS=16 examples/slurm_array.sh IN OUT
#
# The CPUs of a task are its worker processes; each worker uses cores // jobs
# FFTW threads, where cores are the CPUs Slurm gave the task
# (SLURM_CPUS_PER_TASK, and the affinity mask where Slurm binds tasks), not
# the machine's core count. Set MSFT to run msft another way, e.g.
# MSFT="python -m msft_cli" for a checkout.
#
#SBATCH --job-name=msft-analyze
#SBATCH --array=0-15
#SBATCH --cpus-per-task=4
#SBATCH --mem-per-cpu=1G
#SBATCH --time=02:00:00
#SBATCH --signal=B:TERM@30
#SBATCH --output=msft-analyze-%A_%a.log

set -euo pipefail

IN=${1:?usage: sbatch slurm_array.sh IN OUT [msft analyze options]}
OUT=${2:?usage: sbatch slurm_array.sh IN OUT [msft analyze options]}
shift 2

: "${SLURM_ARRAY_TASK_ID:?run this with sbatch (a job array)}"
ID=$SLURM_ARRAY_TASK_ID
if [ -n "${MSFT_SHARDS:-}" ]; then  # shares named by the task ids, of MSFT_SHARDS
    SHARD=$ID
    COUNT=$MSFT_SHARDS
else
    MIN=${SLURM_ARRAY_TASK_MIN:-0}
    COUNT=${SLURM_ARRAY_TASK_COUNT:?this Slurm sets no SLURM_ARRAY_TASK_COUNT}
    MAX=${SLURM_ARRAY_TASK_MAX:-$((MIN + COUNT - 1))}
    STEP=${SLURM_ARRAY_TASK_STEP:-1}
    if [ "$STEP" != 1 ] || [ $((MAX - MIN + 1)) != "$COUNT" ]; then
        echo "slurm_array.sh: the array ($COUNT tasks from $MIN to $MAX, step $STEP) has" \
             "a step or a list: its tasks would miss shares; use --array=0-$((COUNT - 1))" \
             "(or MSFT_SHARDS=N to name shares by task id)" >&2
        exit 2
    fi
    SHARD=$((ID - MIN))
fi
JOBS=${SLURM_CPUS_PER_TASK:-1}

echo "task $SLURM_ARRAY_TASK_ID: share $SHARD/$COUNT of $IN -> $OUT, $JOBS workers"
# exec: msft itself gets Slurm's SIGTERM and stops cleanly
exec ${MSFT:-msft} analyze "$IN" -o "$OUT" --shard "$SHARD/$COUNT" -j "$JOBS" "$@"
