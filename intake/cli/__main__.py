"""``python -m intake.cli``."""

from intake.cli import main

main()
