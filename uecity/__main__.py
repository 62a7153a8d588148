"""`python -m uecity` runs the command line."""

from uecity.cli import main

main()
