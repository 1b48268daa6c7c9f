"""C2SP signed notes, checkpoints, cosignatures and the witness's decision."""

from __future__ import annotations

import base64

import pytest

from tanhui.audit import cosignature, note, witness
from tanhui.audit.checkpoint import Checkpoint, open_checkpoint, parse_text
from tanhui.audit.errors import EncodingError, ForkError, SignatureError
from tanhui.audit.tree import MerkleTree

# golang.org/x/mod/sumdb/note's reference key and note (its package documentation and tests): data only.
VKEY = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"
SKEY = "PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz"
TEXT = "If you think cryptography is the answer to your problem,\nthen you don't know what your problem is.\n"
SIG = "x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM="
NOTE = f"{TEXT}\n\u2014 PeterNeumann {SIG}\n"
# transparency-dev/formats note tests: an Ed25519 key whose base64 holds a '+', and a cosignature key.
PLUS_KEY = "TEST+7997405c+AQcC+FTVKf0jlTdHDY3rbevmnKxxPjigCXlVtGe6RIr6"
COSIGNATURE_KEY = "remora.n621.de+da77ade7+BOvN63jn/bLvkieywe8R6UYAtVtNbZpXh34x7onlmtw2"


def test_the_reference_signature_is_reproduced_byte_for_byte() -> None:
    name, alg, seed = note.parse_skey(SKEY)
    signer = note.Signer.from_seed(name, seed)
    assert alg == note.ALG_ED25519 and signer.verifier.vkey == VKEY and signer.skey == SKEY
    assert note.sign(TEXT, [signer]) == NOTE
    assert note.verify(NOTE, [note.parse_vkey(VKEY)]).text == TEXT


def test_key_ids_of_other_implementations_are_derived_the_same_way() -> None:
    assert note.parse_vkey(PLUS_KEY).vkey == PLUS_KEY
    cosigner = note.parse_vkey(COSIGNATURE_KEY)
    assert cosigner.alg == note.ALG_COSIGNATURE_V1 and cosigner.vkey == COSIGNATURE_KEY
    with pytest.raises(EncodingError, match="does not match"):
        note.parse_vkey(VKEY.replace("c74f20a3", "c74f20a4"))


def test_a_changed_text_or_an_unknown_key_is_refused() -> None:
    verifier = note.parse_vkey(VKEY)
    with pytest.raises(SignatureError, match="does not verify"):
        note.verify(NOTE.replace("cryptography", "cryptographY"), [verifier])
    other = note.Signer.from_seed("Other", bytes(32)).verifier
    with pytest.raises(SignatureError, match="no signature by a trusted key"):
        note.verify(NOTE, [other])
    for bad in (TEXT, TEXT + "\n", NOTE.replace("\u2014", "-"), TEXT.rstrip("\n") + "\n\n\u2014 X !!\n"):
        with pytest.raises((EncodingError, SignatureError)):
            note.verify(bad, [verifier])


def _signer() -> note.Signer:
    return note.Signer.from_seed("tanhui.local/baoting/audit", bytes(range(32)))


def test_checkpoint_round_trip_and_strict_parsing() -> None:
    root = bytes(range(32))
    cp = Checkpoint("tanhui.local/baoting/audit", 216000, root)
    assert cp.text() == f"tanhui.local/baoting/audit\n216000\n{base64.b64encode(root).decode()}\n"
    opened, _ = open_checkpoint(cp.sign(_signer()), [_signer().verifier])
    assert opened == cp
    for bad in (
        "o\n012\nAAAA\n",
        "o\n1\n" + base64.b64encode(b"short").decode() + "\n",
        "o\n1\n",
        "o\n-1\nx\n",
    ):
        with pytest.raises(EncodingError):
            parse_text(bad)


def test_cosignatures_verify_and_a_forged_one_is_an_error() -> None:
    cosigner = cosignature.Cosigner.from_seed("witness.example/w1", bytes([7]) * 32)
    text = Checkpoint("tanhui.local/baoting/audit", 5, bytes(32)).text()
    signed = note.sign(text, [_signer()]) + cosigner.cosign(text, 1_795_000_000)
    parsed = note.verify(signed, [_signer().verifier])
    found = cosignature.verify_cosignatures(parsed, [cosigner.verifier])
    assert [(c.name, c.timestamp) for c in found] == [("witness.example/w1", 1_795_000_000)]
    assert note.parse_vkey(cosigner.verifier.vkey) == cosigner.verifier
    # The timestamp is part of the signed message: changing it breaks the cosignature.
    line = cosigner.cosign(text, 1_795_000_000)
    name, blob = line[2:].split(" ")
    raw = base64.b64decode(blob)
    forged = raw[:4] + (1_795_000_001).to_bytes(8, "big") + raw[12:]
    tampered = note.sign(text, [_signer()]) + f"\u2014 {name} {base64.b64encode(forged).decode()}\n"
    with pytest.raises(SignatureError):
        cosignature.verify_cosignatures(note.parse(tampered), [cosigner.verifier])


def test_the_witness_cosigns_extensions_and_refuses_forks() -> None:
    tree = MerkleTree()
    tree.append([bytes([i]) for i in range(20)])
    origin = "tanhui.local/baoting/audit"
    old = Checkpoint(origin, 12, tree.root(12))
    new = Checkpoint(origin, 20, tree.root(20))
    witness.check_extends(None, old, [])
    witness.check_extends(old, new, tree.consistency_proof(12, 20))
    witness.check_extends(new, new, [])
    forked = MerkleTree()
    forked.append([bytes([i]) for i in range(11)] + [b"rewritten"] + [bytes([i]) for i in range(12, 20)])
    with pytest.raises(ForkError, match="different roots"):
        witness.check_extends(new, Checkpoint(origin, 20, forked.root()), [])
    with pytest.raises(ForkError, match="no consistency"):
        witness.check_extends(old, Checkpoint(origin, 20, forked.root()), forked.consistency_proof(12, 20))
    with pytest.raises(ForkError, match="smaller"):
        witness.check_extends(new, old, [])
