"""``PROVENANCE_PROOF_MEMORY_MB`` caps each log's proof tree per process
(ledger.service.deployment.proof_memory): MiB given, the default when unset, a clear
refusal otherwise."""

from __future__ import annotations

import pytest

from ledger.errors import ValidationError
from ledger.service.deployment import PROOF_MEMORY_ENV, proof_memory
from ledger.store.prooftree import DEFAULT_BUDGET


def test_the_setting_is_in_mib_and_defaults_to_the_cap() -> None:
    assert proof_memory({}) == DEFAULT_BUDGET
    assert proof_memory({PROOF_MEMORY_ENV: " "}) == DEFAULT_BUDGET
    assert proof_memory({PROOF_MEMORY_ENV: "64"}) == 64 << 20
    assert proof_memory({PROOF_MEMORY_ENV: "0"}) == 0


@pytest.mark.parametrize("bad", ["-1", "1.5", "64MB", "1048577", "lots", "²", "٦٤"])
def test_anything_else_is_refused_by_name(bad: str) -> None:
    with pytest.raises(ValidationError, match=PROOF_MEMORY_ENV) as caught:
        proof_memory({PROOF_MEMORY_ENV: bad})
    assert caught.value.field == PROOF_MEMORY_ENV
