"""The hammer's engine: writers, racer, readers, chaos, checks and the report.

``provenance hammer`` (cli.commands.hammer) runs it; docs/RELIABILITY.md describes
the promises it checks. Importing this package loads nothing of its modules.
"""
