"""`python -m qa ...` is `assist eval ...` (useful before the package is installed)."""

from qa.cli import main

main()
