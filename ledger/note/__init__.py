"""C2SP signed notes, transparency-log checkpoints and witness cosignatures.

This module gathers, under one name, the three modules that implement them:

- ledger.note.signednote: c2sp.org/signed-note (keys, notes, signature lines, verification);
- ledger.note.checkpoint: c2sp.org/tlog-checkpoint (the checkpoint text, signing, verifying);
- ledger.note.cosignature: c2sp.org/tlog-cosignature (``cosignature/v1`` witness signatures).

Import from here or from those modules; both name the same objects.
"""

from __future__ import annotations

from ledger.note.checkpoint import Checkpoint as Checkpoint
from ledger.note.checkpoint import as_verifier as as_verifier
from ledger.note.checkpoint import sign_checkpoint as sign_checkpoint
from ledger.note.checkpoint import verify_checkpoint as verify_checkpoint
from ledger.note.cosignature import cosign_checkpoint as cosign_checkpoint
from ledger.note.cosignature import cosigned_message as cosigned_message
from ledger.note.cosignature import cosigners as cosigners
from ledger.note.cosignature import parse_witness_keys as parse_witness_keys
from ledger.note.cosignature import verify_cosignature as verify_cosignature
from ledger.note.cosignature import with_cosignatures as with_cosignatures
from ledger.note.signednote import ALG_COSIGNATURE_V1 as ALG_COSIGNATURE_V1
from ledger.note.signednote import ALG_ED25519 as ALG_ED25519
from ledger.note.signednote import COSIGNATURE_HEADER as COSIGNATURE_HEADER
from ledger.note.signednote import MAX_SIGNATURES as MAX_SIGNATURES
from ledger.note.signednote import Note as Note
from ledger.note.signednote import NoteSignature as NoteSignature
from ledger.note.signednote import Signer as Signer
from ledger.note.signednote import Verifier as Verifier
from ledger.note.signednote import key_hash as key_hash
from ledger.note.signednote import sign_note as sign_note
from ledger.note.signednote import verify_note as verify_note
