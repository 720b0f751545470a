"""Where commands send and read: `connect` opens the `Backend` the global options name.

``--server`` (or ``PROVENANCE_SERVER``): a provenance server over HTTP
(cli.backends.remote); otherwise the local database (cli.backends.local, ``--db``).
Each is imported only when chosen, so a command that opens no log loads neither the HTTP client
nor SQLAlchemy.
"""

from __future__ import annotations

from cli.backends.base import Backend, KeyLoader, remote_url
from cli.common import OPTIONS

__all__ = ["Backend", "KeyLoader", "connect", "connect_remote", "remote_url"]


def connect(*, partner: bool = False) -> Backend:
    """``--server`` if given, else the local database (``--db``); the ``--log`` chosen.

    ``partner``: the command is a partner's (a clerk's ``handoff``), so a missing local
    ledger is explained as a missing ``--server``, not as a missing ``provenance init``.

    Raises:
        KeyFormatError: a local database with no operator key and no pinned log key.
        StorageError: the database cannot be opened.
    """
    if OPTIONS.server:
        return connect_remote(remote_url(OPTIONS.server, OPTIONS.log))
    from cli.backends.local import Local

    return Local(OPTIONS.database_url, OPTIONS.log, partner=partner)


def connect_remote(url: str) -> Backend:
    """The server at ``url`` (one log's base URL: see `remote_url`).

    Not named ``remote``: importing the submodule cli.backends.remote binds that name in
    this package, and would replace a function of the same name after its first call.
    """
    from cli.backends.remote import Remote

    return Remote(url)
