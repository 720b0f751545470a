"""``python -m cli``: the same as the ``provenance`` command."""

from cli.main import main

main()
