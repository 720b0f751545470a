"""The ``provenance`` commands, one module per command group (or set of top-level
commands), each a module-level typer app that cli.main composes.

A command module imports only what ``--help`` needs (typer, cli.common, light core);
the store, the HTTP client and label rendering load inside the commands that use them, through
cli.backends.
"""
