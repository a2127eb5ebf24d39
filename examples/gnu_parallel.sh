#!/bin/bash
# Analyze a dataset as N shards with GNU parallel: on this machine, or on several
# machines that share the file system (ssh logins, --sshlogin).
#
#   examples/gnu_parallel.sh IN OUT [N] [msft analyze options]
#
# is this line (then one manifest for the whole tree):
#
#   parallel --line-buffer msft analyze IN -o OUT --shard {}/N -j 1 -q ::: $(seq 0 $((N - 1)))
#   msft merge-manifests OUT
#
# Each shard is a disjoint share of the files (by a hash of their path under
# IN), writes only its own outputs and its own manifest-<I>-of-<N>.jsonl, and
# can be run again to finish after a failure or an interruption. parallel runs
# as many shards at once as there are cores (--jobs to change it); each shard
# here uses one worker (-j 1). Across machines, add e.g.
#   --sshlogin 4/node1,4/node2 --workdir "$PWD"
# (4 shards at a time on each node; msft installed on each).
#
# Without GNU parallel, xargs does the same on one machine:
#   seq 0 $((N - 1)) | xargs -P "$(nproc)" -I{} msft analyze IN -o OUT --shard {}/N -j 1 -q
#
# Set MSFT to run msft another way, e.g. MSFT="python -m msft_cli" for a checkout.

set -euo pipefail

IN=${1:?usage: gnu_parallel.sh IN OUT [N] [msft analyze options]}
OUT=${2:?usage: gnu_parallel.sh IN OUT [N] [msft analyze options]}
N=${3:-8}
shift $(($# < 3 ? $# : 3))
MSFT=${MSFT:-msft}

status=0
if command -v parallel >/dev/null; then
    parallel --line-buffer $MSFT analyze "$IN" -o "$OUT" --shard {}/"$N" -j 1 -q "$@" \
        ::: $(seq 0 $((N - 1))) || status=$?
else
    echo "GNU parallel is not installed: using xargs" >&2
    seq 0 $((N - 1)) | xargs -P "$(nproc)" -I{} $MSFT analyze "$IN" -o "$OUT" \
        --shard {}/"$N" -j 1 -q "$@" || status=$?
fi
$MSFT merge-manifests "$OUT"
exit $status  # not 0 if a file failed (its line says why; the manifests too)
