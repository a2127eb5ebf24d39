"""``msft merge-manifests``: the manifests of a batch's shards as one."""


import click

from msft_cli import batch
from msft_cli.cli.common import defaults, fail_cleanly

_MERGE = defaults(batch.merge_manifests)


@click.command("merge-manifests")
@click.argument("paths", nargs=-1, required=True, metavar="PATH...")
@click.option("-o", "--output", type=click.Path(dir_okay=False),
              help=f"Manifest to write [default: {batch.MERGED_MANIFEST} in the first folder].")
@click.option("--all", "history", is_flag=True, default=_MERGE["history"],
              help="Every record of every run, by time, not the latest of each file.")
@fail_cleanly
def merge_manifests(paths, output, history):
    """Merge the manifests of batch runs and shards into one JSON-lines file.

    PATH is an output folder (its manifest.jsonl and manifest-I-of-N.jsonl)
    or a manifest file. The result holds the latest record of each output,
    sorted by path.

    \b
    Example:
      msft analyze sample_audio -o containers --shard 0/2
      msft analyze sample_audio -o containers --shard 1/2
      msft merge-manifests containers
    """
    click.echo(str(batch.merge_manifests(paths, output, history=history)))
