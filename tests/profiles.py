"""Hypothesis profiles: ``ci`` runs each property test as many examples as it names (what
CI has always run), ``dev`` at most 20, for the edit loop.

``CI=true`` loads ``ci``; otherwise ``dev``; ``HYPOTHESIS_PROFILE=ci`` (or ``dev``)
overrides both. A property test names its CI count through :func:`examples`, so the
profile, not the test, decides how many run.
"""

from __future__ import annotations

import os

from hypothesis import settings

#: examples per property test in the dev profile
DEV_EXAMPLES = 20

settings.register_profile("ci", max_examples=100, print_blob=True)
settings.register_profile("dev", max_examples=DEV_EXAMPLES)


def chosen() -> str:
    """The profile this run uses: $HYPOTHESIS_PROFILE, else ``ci`` under CI=true, else
    ``dev``."""
    default = "ci" if os.environ.get("CI") == "true" else "dev"
    return os.environ.get("HYPOTHESIS_PROFILE", default)


def load() -> None:
    """Load the chosen profile (tests/conftest.py does, before any test module)."""
    settings.load_profile(chosen())


def examples(ci: int) -> int:
    """The ``max_examples`` of a test that runs ``ci`` examples in CI: ``ci`` under the ci
    profile, at most the loaded profile's ``max_examples`` under any other."""
    if chosen() == "ci":
        return ci
    return min(ci, settings.default.max_examples)
