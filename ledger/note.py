"""C2SP signed notes, transparency-log checkpoints and witness cosignatures.

This module gathers, under one name, the three modules that implement them:

- ledger.signednote: c2sp.org/signed-note (keys, notes, signature lines, verification);
- ledger.checkpoint: c2sp.org/tlog-checkpoint (the checkpoint text, signing, verifying);
- ledger.cosignature: c2sp.org/tlog-cosignature (``cosignature/v1`` witness signatures).

Import from here or from those modules; both name the same objects.
"""

from __future__ import annotations

from ledger.checkpoint import Checkpoint as Checkpoint
from ledger.checkpoint import as_verifier as as_verifier
from ledger.checkpoint import sign_checkpoint as sign_checkpoint
from ledger.checkpoint import verify_checkpoint as verify_checkpoint
from ledger.cosignature import cosign_checkpoint as cosign_checkpoint
from ledger.cosignature import cosigned_message as cosigned_message
from ledger.cosignature import cosigners as cosigners
from ledger.cosignature import parse_witness_keys as parse_witness_keys
from ledger.cosignature import verify_cosignature as verify_cosignature
from ledger.cosignature import with_cosignatures as with_cosignatures
from ledger.signednote import ALG_COSIGNATURE_V1 as ALG_COSIGNATURE_V1
from ledger.signednote import ALG_ED25519 as ALG_ED25519
from ledger.signednote import COSIGNATURE_HEADER as COSIGNATURE_HEADER
from ledger.signednote import MAX_SIGNATURES as MAX_SIGNATURES
from ledger.signednote import Note as Note
from ledger.signednote import NoteSignature as NoteSignature
from ledger.signednote import Signer as Signer
from ledger.signednote import Verifier as Verifier
from ledger.signednote import key_hash as key_hash
from ledger.signednote import sign_note as sign_note
from ledger.signednote import verify_note as verify_note
