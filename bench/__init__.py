"""Benchmarks (issue 9): every figure is a ratio against a baseline measured in the same run.

Run them from the repository root with the project's venv, e.g.
``.venv/bin/python -m bench.appends --quick``. Nothing here is imported by the product.
"""
