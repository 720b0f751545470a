"""provenance-ledger: the pure core (events, codec, crypto, merkle, notes) and its service.

The pure modules import nothing of FastAPI, SQLAlchemy, typer or qrcode and read no
clock; see docs/FORMAT.md for the bytes they define.
"""

__version__ = "0.1.0"
