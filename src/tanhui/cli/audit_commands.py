"""The audit log on the command line: low-level Merkle and note tools, the operator's log commands,
a witness and a third-party verifier.

- ``tanhui merkle root | verify-inclusion | verify-consistency`` and ``tanhui note verify``: hashes in
  hex, notes on standard input; exit 0 when valid, 1 when not (with the reason), 2 for bad input.
- ``tanhui audit keygen | sequence | checkpoint | check | witness-request | add-cosignature | evidence``:
  the operator's side, on the database named by ``TANHUI_DATABASE_URL``.
- ``tanhui witness``: reads a c2sp.org/tlog-witness ``add-checkpoint`` body on standard input, checks it
  against the last checkpoint it cosigned (its state file), and prints its cosignature line or refuses.
- ``tanhui verify``: checks a household's evidence bundle with nothing but the keys; uses only the
  pure core (tanhui.audit, tanhui.accounting) and the published factor files.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
import secrets
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Annotated

import typer
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import Engine

from tanhui.audit import cosignature, evidence, merkle, note, witness
from tanhui.audit.checkpoint import Checkpoint, open_checkpoint
from tanhui.audit.errors import AuditError, EvidenceError
from tanhui.clock import utc_now
from tanhui.domain.ids import CommunityId
from tanhui.settings import get_settings
from tanhui.store import registry
from tanhui.store.engine import make_engine
from tanhui.store.factor_files import load_factor_sets

merkle_app = typer.Typer(help="RFC 9162 Merkle tree tools (hashes in hex).", no_args_is_help=True)
note_app = typer.Typer(help="C2SP signed notes.", no_args_is_help=True)
audit_app = typer.Typer(help="The community's tamper-evident audit log.", no_args_is_help=True)
witness_app = typer.Typer(help="Cosign a checkpoint that extends the last one cosigned (tlog-witness).")
verify_app = typer.Typer(help="Verify a household's evidence bundle as a third party.")

KEY_FILE_ENV = "TANHUI_AUDIT_KEY_FILE"


def _fail(reason: str, code: int = 1) -> typer.Exit:
    typer.echo(reason, err=code != 0)
    return typer.Exit(code)


def _hex(text: str, what: str) -> bytes:
    try:
        return bytes.fromhex(text.strip())
    except ValueError:
        raise _fail(f"{what} is not hex: {text!r}", 2) from None


def _proof(text: str) -> list[bytes]:
    return [_hex(h, "proof hash") for h in text.split(",") if h.strip()]


# --- merkle and note -------------------------------------------------------------------------------------


@merkle_app.command("root")
def merkle_root() -> None:
    """Read leaf data as hex, one leaf per line, on standard input; print the tree's root in hex."""
    # An empty line is an empty leaf (the RFC 6962 example tree starts with one).
    hashes = [merkle.leaf_hash(_hex(line, "leaf")) for line in sys.stdin.read().splitlines()]
    typer.echo(merkle.root_of(hashes).hex())


@merkle_app.command("verify-inclusion")
def verify_inclusion(
    index: Annotated[int, typer.Option(help="leaf index, from 0")],
    size: Annotated[int, typer.Option(help="tree size")],
    leaf_hash: Annotated[str, typer.Option(help="the leaf hash SHA-256(0x00 ‖ leaf), hex")],
    root: Annotated[str, typer.Option(help="root of the tree of that size, hex")],
    proof: Annotated[str, typer.Option(help="audit path H1,H2,... bottom first (may be empty)")] = "",
) -> None:
    """Exit 0 when the inclusion proof verifies (RFC 9162 §2.1.3.2), 1 with the reason when not."""
    try:
        merkle.verify_inclusion(index, size, _hex(leaf_hash, "leaf hash"), _proof(proof), _hex(root, "root"))
    except AuditError as exc:
        raise _fail(exc.diagnostics()) from None
    typer.echo("valid")


@merkle_app.command("verify-consistency")
def verify_consistency(
    old_size: Annotated[int, typer.Option(help="size of the old tree")],
    new_size: Annotated[int, typer.Option(help="size of the new tree")],
    old_root: Annotated[str, typer.Option(help="old root, hex")],
    new_root: Annotated[str, typer.Option(help="new root, hex")],
    proof: Annotated[str, typer.Option(help="consistency proof H1,H2,... (may be empty)")] = "",
) -> None:
    """Exit 0 when the consistency proof verifies (RFC 9162 §2.1.4.2), 1 with the reason when not."""
    try:
        merkle.verify_consistency(
            old_size, new_size, _hex(old_root, "old root"), _hex(new_root, "new root"), _proof(proof)
        )
    except AuditError as exc:
        raise _fail(exc.diagnostics()) from None
    typer.echo("valid")


@note_app.command("verify")
def note_verify(vkey: Annotated[str, typer.Option(help="verifier key name+id+base64")]) -> None:
    """Read a signed note on standard input; exit 0 when a signature by VKEY verifies, 1 otherwise."""
    try:
        verifier = note.parse_vkey(vkey)
    except AuditError as exc:
        raise _fail(exc.diagnostics(), 2) from None
    text = sys.stdin.buffer.read().decode("utf-8", errors="replace")
    try:
        if verifier.alg == note.ALG_COSIGNATURE_V1:
            if not cosignature.verify_cosignatures(note.parse(text), [verifier]):
                raise AuditError(f"no cosignature by {verifier.name}", code="signature_untrusted")
        else:
            note.verify(text, [verifier])
    except AuditError as exc:
        raise _fail(exc.diagnostics()) from None
    typer.echo(f"verified by {verifier.name}")


# --- the operator's log commands -------------------------------------------------------------------------


def _write_private(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(text)


@audit_app.command("keygen")
def keygen(
    name: Annotated[str, typer.Option(help="key name: the log's origin, or the witness's name")],
    out: Annotated[Path, typer.Option(help="private key file to create (mode 600); never commit it")],
    witness_key: Annotated[bool, typer.Option("--witness", help="a witness cosignature key")] = False,
) -> None:
    """Create an Ed25519 key; print its public verifier key (vkey) to publish."""
    seed = Ed25519PrivateKey.generate().private_bytes_raw()
    try:
        if witness_key:
            cosigner = cosignature.Cosigner.from_seed(name, seed)
            skey, vkey = cosigner.skey, cosigner.verifier.vkey
        else:
            signer = note.Signer.from_seed(name, seed)
            skey, vkey = signer.skey, signer.verifier.vkey
        _write_private(out, skey + "\n")
    except (AuditError, FileExistsError) as exc:
        raise _fail(str(exc), 2) from None
    typer.echo(vkey)


@contextmanager
def _community(slug: str) -> Iterator[tuple[Engine, CommunityId]]:
    engine = make_engine(get_settings().database_url)
    try:
        with engine.connect() as conn:
            found = registry.find_community(conn, slug)
        if found is None:
            raise _fail(f"no community {slug!r}", 2)
        yield engine, found.id
    finally:
        engine.dispose()


Community = Annotated[str, typer.Option(help="community slug")]


@audit_app.command("sequence")
def sequence_cmd(
    community: Community = "baoting", origin: Annotated[str | None, typer.Option()] = None
) -> None:
    """Append what the community's log lacks: publications, ingest batches, accounting results."""
    from tanhui.jobs import sequencer  # noqa: PLC0415 - keeps `tanhui merkle` free of the store stack

    with _community(community) as (engine, cid):
        sets = load_factor_sets(get_settings().data_dir / "factors")
        with engine.begin() as conn:
            s = sequencer.sequence(conn, cid, sets, now=int(utc_now().timestamp()), origin=origin)
        typer.echo(
            json.dumps(
                {
                    "appended": s.appended,
                    "batches": s.batches,
                    "results": s.results,
                    "superseded": s.superseded,
                    "publications": s.publications,
                    "transfers": s.transfers,
                    "refused": s.refused,
                    "size": s.size,
                }
            )
        )
        raise typer.Exit(1 if s.refused else 0)


KeyFile = Annotated[
    Path, typer.Option(envvar=KEY_FILE_ENV, help=f"the log's private key file (or ${KEY_FILE_ENV})")
]


@audit_app.command("checkpoint")
def checkpoint_cmd(key_file: KeyFile, community: Community = "baoting") -> None:
    """Sign a checkpoint of the log's current size and print it (c2sp.org/tlog-checkpoint)."""
    from tanhui.jobs import checkpoints  # noqa: PLC0415

    with _community(community) as (engine, cid):
        try:
            signer = checkpoints.load_signer(key_file)
            with engine.begin() as conn:
                published = checkpoints.publish(conn, cid, signer, now=int(utc_now().timestamp()))
        except (AuditError, OSError) as exc:
            raise _fail(str(exc)) from None
        typer.echo(published.note, nl=False)


@audit_app.command("check")
def check_cmd(community: Community = "baoting") -> None:
    """Recompute every leaf from the database and compare with the log; exit 1 naming the first failure."""
    from tanhui.jobs import sequencer  # noqa: PLC0415

    with _community(community) as (engine, cid):
        sets = load_factor_sets(get_settings().data_dir / "factors")
        with engine.connect() as conn:
            report = sequencer.check(conn, cid, sets)
        if report.failures:
            first = report.failures[0]
            typer.echo(f"FAILED {first.entry}: {first.message.removeprefix(first.entry + ': ')}")
            if len(report.failures) > 1:
                typer.echo(f"({len(report.failures) - 1} more failing entries)")
            raise typer.Exit(1)
        typer.echo(f"ok: {report.checked} entries of a log of {report.size} recompute from the database")


@audit_app.command("witness-request")
def witness_request_cmd(
    old: Annotated[int, typer.Option(help="the size the witness last cosigned (0 for none)")],
    community: Community = "baoting",
) -> None:
    """Print a tlog-witness add-checkpoint body for the latest checkpoint (pipe it to `tanhui witness`)."""
    from tanhui.jobs import checkpoints  # noqa: PLC0415

    with _community(community) as (engine, cid):
        try:
            with engine.connect() as conn:
                body = checkpoints.witness_request(conn, cid, old)
        except AuditError as exc:
            raise _fail(exc.diagnostics()) from None
        typer.echo(body, nl=False)


@audit_app.command("add-cosignature")
def add_cosignature_cmd(
    witness_vkey: Annotated[str, typer.Option(help="the witness's vkey")],
    community: Community = "baoting",
) -> None:
    """Read a witness's cosignature line on standard input; keep it once it verifies."""
    from tanhui.jobs import checkpoints  # noqa: PLC0415

    with _community(community) as (engine, cid):
        try:
            verifier = note.parse_vkey(witness_vkey)
            with engine.begin() as conn:
                size = checkpoints.add_cosignature(
                    conn, cid, sys.stdin.read(), verifier, now=int(utc_now().timestamp())
                )
        except AuditError as exc:
            raise _fail(exc.diagnostics()) from None
        typer.echo(f"cosignature of {verifier.name} kept for checkpoint {size}")


@audit_app.command("evidence")
def evidence_cmd(
    household: Annotated[str, typer.Option(help="household code")],
    out: Annotated[Path, typer.Option(help="bundle file to write (JSON)")],
    first_day: Annotated[str | None, typer.Option("--from", help="first local day, ISO")] = None,
    last_day: Annotated[str | None, typer.Option("--to", help="last local day, ISO")] = None,
    community: Community = "baoting",
) -> None:
    """Export a household's evidence bundle (the openings are personal data: hand it to them only)."""
    from tanhui.jobs import checkpoints  # noqa: PLC0415

    with _community(community) as (engine, cid):
        sets = load_factor_sets(get_settings().data_dir / "factors")
        with engine.connect() as conn:
            hid = registry.household_by_code(conn, cid, household)
            if hid is None:
                raise _fail(f"no household {household!r}", 2)
            try:
                bundle = checkpoints.evidence_bundle(
                    conn,
                    cid,
                    int(hid),
                    sets,
                    first_day=date.fromisoformat(first_day) if first_day else None,
                    last_day=date.fromisoformat(last_day) if last_day else None,
                )
            except AuditError as exc:
                raise _fail(exc.diagnostics()) from None
        out.write_text(json.dumps(evidence.to_json(bundle), indent=1), encoding="utf-8")
        typer.echo(f"{len(bundle.results)} results, {len(bundle.entries)} log entries written to {out}")


@audit_app.command("anchor")
def anchor_cmd(
    rpc_url: Annotated[str, typer.Option(envvar="TANHUI_ANCHOR_RPC_URL", help="JSON-RPC URL of an EVM node")],
    contract: Annotated[str, typer.Option(envvar="TANHUI_ANCHOR_CONTRACT", help="CheckpointAnchor address")],
    key: Annotated[
        str,
        typer.Option(envvar="TANHUI_ANCHOR_KEY", help="the sending account's private key (environment only)"),
    ],
    community: Community = "baoting",
) -> None:
    """Anchor the latest signed checkpoint on the chain (contracts/CheckpointAnchor.sol) unless it is."""
    from tanhui.jobs import anchoring  # noqa: PLC0415 - web3 loads only for this command

    with _community(community) as (engine, cid):
        try:
            chain = anchoring.Web3Anchor.connect(rpc_url, contract, key)
            with engine.begin() as conn:
                receipt = anchoring.anchor_latest(conn, cid, chain, now=int(utc_now().timestamp()))
        except AuditError as exc:
            raise _fail(exc.diagnostics()) from None
    if receipt is None:
        typer.echo("the latest checkpoint is anchored already")
    else:
        typer.echo(f"anchored in block {receipt.block_number} of chain {receipt.chain_id}: {receipt.tx_hash}")


# --- witness ---------------------------------------------------------------------------------------------


def _parse_request(body: str) -> tuple[int, list[bytes], str]:
    head, sep, signed = body.partition("\n\n")
    lines = head.split("\n")
    if not sep or not lines[0].startswith("old ") or not lines[0][4:].isdigit():
        raise AuditError(
            "the body is `old <size>`, proof lines, a blank line, the checkpoint", code="request"
        )
    try:
        proof = [base64.b64decode(line, validate=True) for line in lines[1:]]
    except binascii.Error:
        raise AuditError("a proof line is not base64", code="request") from None
    if len(proof) > 63:
        raise AuditError("more than 63 proof lines", code="request")
    return int(lines[0][4:]), proof, signed


@witness_app.callback(invoke_without_command=True)
def witness_cmd(
    log_vkey: Annotated[str, typer.Option(help="the log's verifier key")],
    key_file: Annotated[Path, typer.Option(help="this witness's private cosignature key file")],
    state: Annotated[Path, typer.Option(help="JSON file: the last checkpoint cosigned per origin")],
) -> None:
    """Read a tlog-witness add-checkpoint body on stdin; print a cosignature line, or refuse (exit 1)."""
    from tanhui.jobs import checkpoints  # noqa: PLC0415

    try:
        log_key = note.parse_vkey(log_vkey)
        cosigner = checkpoints.load_cosigner(key_file)
        old, proof, signed = _parse_request(sys.stdin.read())
        new, _ = open_checkpoint(signed, [log_key])
    except (AuditError, OSError) as exc:
        raise _fail(f"refused: {exc}") from None
    known = json.loads(state.read_text(encoding="utf-8")) if state.exists() else {}
    last_json = known.get(new.origin)
    last = (
        None
        if last_json is None
        else Checkpoint(new.origin, int(last_json["size"]), base64.b64decode(last_json["root"]))
    )
    if old != (0 if last is None else last.size):
        cosigned = 0 if last is None else last.size
        raise _fail(f"refused: old size {old} is not the size this witness cosigned ({cosigned})")
    try:
        witness.check_extends(last, new, proof)
    except AuditError as exc:
        raise _fail(f"refused to cosign: {exc.diagnostics()}") from None
    line = cosigner.cosign(new.text(), int(utc_now().timestamp()))
    known[new.origin] = {"size": new.size, "root": base64.b64encode(new.root).decode("ascii")}
    partial = state.with_name(f".{state.name}.{secrets.token_hex(4)}")
    partial.write_text(json.dumps(known, indent=1), encoding="utf-8")
    partial.replace(state)  # the new state and the cosignature go out together
    typer.echo(line, nl=False)


# --- verify ----------------------------------------------------------------------------------------------


@verify_app.callback(invoke_without_command=True)
def verify_cmd(
    bundle: Annotated[Path, typer.Option(help="evidence bundle (JSON) from the household or the county")],
    log_vkey: Annotated[str, typer.Option(help="the log's verifier key, obtained out of band")],
    witness_vkey: Annotated[list[str] | None, typer.Option(help="a trusted witness's vkey (repeat)")] = None,
    quorum: Annotated[int, typer.Option(min=0, help="cosignatures needed from those witnesses")] = 0,
    factors: Annotated[
        Path | None, typer.Option(help="directory of published factor files (default: data/factors)")
    ] = None,
) -> None:
    """Verify a household's footprint: checkpoint → cosignatures → inclusion → openings → recompute."""
    from tanhui.accounting.factors import parse_factor_set  # noqa: PLC0415
    from tanhui.domain.quantity import Quantity  # noqa: PLC0415

    try:
        log_key = note.parse_vkey(log_vkey)
        witnesses = [note.parse_vkey(w) for w in witness_vkey or []]
        parsed = evidence.from_json(json.loads(bundle.read_text(encoding="utf-8")))
    except (AuditError, OSError, ValueError) as exc:
        raise _fail(f"cannot read the input: {exc}", 2) from None
    directory = factors if factors is not None else get_settings().data_dir / "factors"
    published: dict[str, tuple[str, dict[str, Decimal]]] = {}
    import tomllib  # noqa: PLC0415

    for path in sorted(directory.glob("*.toml")):
        fs = parse_factor_set(tomllib.loads(path.read_text(encoding="utf-8")))
        published[fs.id] = (
            fs.content_hash,
            {q.value: fs.factor(q).value for q in Quantity if q in fs.factors},
        )
    try:
        report = evidence.verify(
            parsed, log_key=log_key, witnesses=witnesses, quorum=quorum, factor_sets=published
        )
    except EvidenceError as exc:
        raise _fail(f"FAILED {exc.entry}: {exc.message.removeprefix(exc.entry + ': ')}") from None
    typer.echo(
        f"verified against checkpoint {report.checkpoint.origin} size {report.checkpoint.size} "
        f"(cosigned by {', '.join(report.cosigners) or 'no witness'}): {report.entries} log entries, "
        f"{report.readings} readings, {report.results} results, {report.transfers} points transfers, "
        f"{Decimal(report.co2e_mg) / 1_000_000} kg CO2e recomputed"
    )
