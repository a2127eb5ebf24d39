"""``python -m msft_cli`` runs the command-line interface."""

from .cli import main

main()
