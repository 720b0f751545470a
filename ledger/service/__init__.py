"""The application service: the only package that may import ledger.store.

`ledger.service.ledger.Ledger` is the one entry point the faces (api, cli) use to write
and read a log; the modules beside it are the services it composes. This package's
``__init__`` imports nothing, so that ``ledger.service.settings`` (read by the CLI)
does not load SQLAlchemy.
"""
