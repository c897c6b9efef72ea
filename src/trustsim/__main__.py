"""``python -m trustsim`` runs the command line."""

from trustsim.cli import main

main()
