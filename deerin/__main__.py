"""``python -m deerin`` runs the CLI."""

from deerin.cli import main

main()
