"""``python -m deerin`` runs the command line."""

from deerin.console import main

main()
