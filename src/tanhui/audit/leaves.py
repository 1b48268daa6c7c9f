"""Leaf entries of the audit log: canonical, versioned, one type tag per kind of entry.

An entry is the deterministic CBOR (tanhui.audit.cbor) of ``[version, type, body]``, ``body`` a map
with integer keys 0-23; the leaf hash is RFC 9162's ``SHA-256(0x00 ‖ entry)``. Version 1 is frozen:
a change of meaning gets a new version, never a new reading of old bytes.

Privacy (PIPL, GDPR): public entries carry *commitments*, ``SHA-256(salt ‖ canonical value)``, of
readings, results and transfers, never the values or a household's identity. The openings (values and
salts) go to the household and to verifiers it or the county authorises, in an evidence bundle.
Salts come in as arguments (the core draws no randomness); one secret salt per entry, from which the
salt of each opened part is derived, so opening one household's readings of a shared batch reveals
nothing about the other households' readings in it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import IntEnum

from tanhui.audit import cbor, merkle
from tanhui.audit.errors import EncodingError

VERSION = 1
SALT_SIZE = 32
MAX_ENTRY = 65_535  # c2sp.org/tlog-tiles: entry bundles prefix each entry with a uint16 length


class LeafType(IntEnum):
    """Type tags of version 1 (numbering after shared/reference/ledger.md §8.2)."""

    INGEST_BATCH = 3
    FACTOR_SET = 10
    BASELINE_MODEL = 11
    RULE_SET = 12
    ACCOUNTING_RESULT = 20
    TRANSFER = 31


def commitment(salt: bytes, value: cbor.Value) -> bytes:
    """``SHA-256(salt ‖ CBOR(value))``: binds the value, reveals nothing without the salt."""
    if len(salt) != SALT_SIZE:
        raise EncodingError(f"a salt is {SALT_SIZE} bytes, not {len(salt)}", code="salt_size")
    return hashlib.sha256(salt + cbor.encode(value)).digest()


def derived_salt(secret: bytes, label: cbor.Value) -> bytes:
    """The salt of one part of an entry: ``SHA-256(secret ‖ CBOR(label))``; hides ``secret``."""
    return hashlib.sha256(secret + cbor.encode(label)).digest()


# --- openings: the private values behind the commitments ------------------------------------------------


@dataclass(frozen=True, slots=True)
class ReadingGroup:
    """One meter register's readings in one ingest batch: ``(meter time, register counts)`` pairs."""

    meter_id: int
    register: str
    readings: tuple[tuple[int, int], ...]

    def value(self) -> cbor.Value:
        return [self.meter_id, self.register, [[t, v] for t, v in self.readings]]

    def salt(self, batch_secret: bytes) -> bytes:
        return derived_salt(batch_secret, ["group", self.meter_id, self.register])

    def commitment(self, salt: bytes) -> bytes:
        return commitment(salt, self.value())


def readings_root(group_commitments: Sequence[bytes]) -> bytes:
    """RFC 9162 root over a batch's group commitments in byte order (the order reveals nothing)."""
    return merkle.root_of([merkle.leaf_hash(c) for c in sorted(group_commitments)])


def frames_salt(batch_secret: bytes) -> bytes:
    return derived_salt(batch_secret, "frames")


@dataclass(frozen=True, slots=True)
class ResultOpening:
    """Everything needed to recompute one meter-day footprint line (tanhui.jobs.accounting).

    ``readings`` is the slice of the meter's series that the day's consumption depends on, each with
    the ingest batch that delivered it (tanhui.audit.recompute.day_slice).
    """

    meter_id: int
    household_id: int
    day: str  # ISO date, the community's local day
    kind: str
    register: str
    amount_micro: int
    co2e_mg: int
    factor: str  # the factor applied, as published (decimal text)
    resolution: str
    capacity: int
    max_rollover_counts: int
    timezone: str
    readings: tuple[tuple[int, int, int], ...]  # (meter time, counts, batch id)

    def value(self) -> cbor.Value:
        return {
            0: self.meter_id,
            1: self.household_id,
            2: self.day,
            3: self.kind,
            4: self.register,
            5: self.amount_micro,
            6: self.co2e_mg,
            7: self.factor,
            8: self.resolution,
            9: self.capacity,
            10: self.max_rollover_counts,
            11: self.timezone,
            12: [[t, v, b] for t, v, b in self.readings],
        }


@dataclass(frozen=True, slots=True)
class TransferOpening:
    """A points transfer's private fields (accounts are pseudonymous ids, never names)."""

    transfer_id: str
    debit_account: int
    credit_account: int
    amount: int
    pending_id: str
    ledger: int
    code: int
    flags: int
    timeout: int
    reference: str
    timestamp: int

    def value(self) -> cbor.Value:
        return {
            0: self.transfer_id,
            1: self.debit_account,
            2: self.credit_account,
            3: self.amount,
            4: self.pending_id,
            5: self.ledger,
            6: self.code,
            7: self.flags,
            8: self.timeout,
            9: self.reference,
            10: self.timestamp,
        }


# --- public entries --------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class IngestBatchEntry:
    """An ingest batch: commitments to its raw frames and to each meter register's readings."""

    batch_id: int
    received_at: int
    frames: bytes  # SHA-256(frames salt ‖ payload as received)
    readings_root: bytes
    groups: int
    readings: int

    type = LeafType.INGEST_BATCH

    def body(self) -> dict[int, cbor.Value]:
        return {
            0: self.batch_id,
            1: self.received_at,
            2: self.frames,
            3: self.readings_root,
            4: self.groups,
            5: self.readings,
        }


@dataclass(frozen=True, slots=True)
class PublicationEntry:
    """Publication of a factor set, baseline model or rule set, pinned by the hash of its content."""

    type: LeafType
    artefact_id: str
    content_hash: str

    def body(self) -> dict[int, cbor.Value]:
        return {0: self.artefact_id, 1: self.content_hash}


@dataclass(frozen=True, slots=True)
class AccountingResultEntry:
    """A meter-day footprint: the pinned methods in clear, the values committed."""

    factor_set_id: str
    factor_set_hash: str
    model: str  # baseline model id and version; "" when none applies (footprint only)
    rules: str  # content hash of the rules that judged register steps
    result: bytes  # commitment to a ResultOpening
    supersedes: int  # leaf index of the result this one replaces (late readings), -1 for none

    type = LeafType.ACCOUNTING_RESULT

    def body(self) -> dict[int, cbor.Value]:
        return {
            0: self.factor_set_id,
            1: self.factor_set_hash,
            2: self.model,
            3: self.rules,
            4: self.result,
            5: self.supersedes,
        }


@dataclass(frozen=True, slots=True)
class TransferEntry:
    """A points transfer: reason code in clear, the rest committed; names the result it pays, if any."""

    code: int
    transfer: bytes  # commitment to a TransferOpening
    evidence: int  # leaf index of the accounting result an issuance pays out; -1 for none

    type = LeafType.TRANSFER

    def body(self) -> dict[int, cbor.Value]:
        return {0: self.code, 1: self.transfer, 2: self.evidence}


Entry = IngestBatchEntry | PublicationEntry | AccountingResultEntry | TransferEntry


def encode(entry: Entry) -> bytes:
    """The canonical bytes of ``entry`` (version 1)."""
    data = cbor.encode([VERSION, int(entry.type), entry.body()])
    if len(data) > MAX_ENTRY:
        raise EncodingError(f"entry of {len(data)} bytes exceeds {MAX_ENTRY}", code="entry_too_large")
    return data


def _field(body: Mapping[int, cbor.Value], key: int) -> cbor.Value:
    if key not in body:
        raise EncodingError(f"entry body lacks field {key}", code="entry_field")
    return body[key]


def _int(body: Mapping[int, cbor.Value], key: int) -> int:
    value = _field(body, key)
    if not isinstance(value, int) or isinstance(value, bool):
        raise EncodingError(f"entry field {key} is not an integer", code="entry_field")
    return value


def _str(body: Mapping[int, cbor.Value], key: int) -> str:
    value = _field(body, key)
    if not isinstance(value, str):
        raise EncodingError(f"entry field {key} is not text", code="entry_field")
    return value


def _bytes(body: Mapping[int, cbor.Value], key: int, size: int = merkle.HASH_SIZE) -> bytes:
    value = _field(body, key)
    if not isinstance(value, bytes) or len(value) != size:
        raise EncodingError(f"entry field {key} is not {size} bytes", code="entry_field")
    return value


def decode(data: bytes) -> Entry:
    """Parse entry bytes; refuses unknown versions, unknown types, extra fields and non-canonical CBOR."""
    value = cbor.decode(data)
    if not isinstance(value, list) or len(value) != 3:
        raise EncodingError("an entry is [version, type, body]", code="entry_shape")
    version, tag, body = value
    if version != VERSION:
        raise EncodingError(f"unknown entry version {version!r}", code="entry_version")
    if not isinstance(body, dict):
        raise EncodingError("an entry body is a map", code="entry_shape")
    try:
        kind = LeafType(tag) if isinstance(tag, int) else None
    except ValueError:
        kind = None
    if kind is None:
        raise EncodingError(f"unknown entry type {tag!r}", code="entry_type")
    entry: Entry
    if kind is LeafType.INGEST_BATCH:
        entry = IngestBatchEntry(
            _int(body, 0), _int(body, 1), _bytes(body, 2), _bytes(body, 3), _int(body, 4), _int(body, 5)
        )
    elif kind in (LeafType.FACTOR_SET, LeafType.BASELINE_MODEL, LeafType.RULE_SET):
        entry = PublicationEntry(kind, _str(body, 0), _str(body, 1))
    elif kind is LeafType.ACCOUNTING_RESULT:
        entry = AccountingResultEntry(
            _str(body, 0), _str(body, 1), _str(body, 2), _str(body, 3), _bytes(body, 4), _int(body, 5)
        )
    else:
        entry = TransferEntry(_int(body, 0), _bytes(body, 1), _int(body, 2))
    if len(body) != len(entry.body()):
        raise EncodingError(f"entry of type {kind.name} has unknown fields", code="entry_field")
    return entry
