"""`tanhui merkle` and `tanhui note`: the low-level commands other implementations can script against."""

from __future__ import annotations

from typer.testing import CliRunner

from tanhui.cli.main import app

from .test_merkle import CONSISTENCY, INCLUSION, LEAVES, ROOTS
from .test_note import NOTE, VKEY

runner = CliRunner()


def test_merkle_root_of_the_rfc_6962_example_tree() -> None:
    result = runner.invoke(app, ["merkle", "root"], input="\n".join(e.hex() for e in LEAVES) + "\n")
    assert result.exit_code == 0 and result.output.strip() == ROOTS[8]
    assert runner.invoke(app, ["merkle", "root"], input="zz\n").exit_code == 2


def test_verify_inclusion_exits_0_when_valid_and_1_with_the_reason_when_not() -> None:
    leaf_hash = "4271a26be0d8a84f0bd54c8c302e7cb3a3b5d1fa6780a40bcce2873477dab658"  # SHA-256(0x00 ‖ 40414243)
    args = ["merkle", "verify-inclusion", "--index", "5", "--size", "8", "--leaf-hash", leaf_hash]
    ok = runner.invoke(app, [*args, "--root", ROOTS[8], "--proof", ",".join(INCLUSION[(5, 8)])])
    assert ok.exit_code == 0, ok.output
    bad = runner.invoke(app, [*args, "--root", ROOTS[7], "--proof", ",".join(INCLUSION[(5, 8)])])
    assert bad.exit_code == 1 and "root" in bad.output
    short = runner.invoke(app, [*args, "--root", ROOTS[8], "--proof", ""])
    assert short.exit_code == 1 and "shorter" in short.output


def test_verify_consistency_with_empty_and_real_proofs() -> None:
    def run(old: int, new: int, proof: list[str], old_root: str | None = None) -> int:
        return runner.invoke(
            app,
            ["merkle", "verify-consistency", "--old-size", str(old), "--new-size", str(new),
             "--old-root", old_root or ROOTS[old], "--new-root", ROOTS[new], "--proof", ",".join(proof)],
        ).exit_code  # fmt: skip

    assert run(6, 8, CONSISTENCY[(6, 8)]) == 0
    assert run(8, 8, []) == 0
    assert run(2, 5, CONSISTENCY[(6, 8)]) == 1
    assert run(6, 8, CONSISTENCY[(6, 8)], old_root=ROOTS[5]) == 1


def test_note_verify() -> None:
    assert runner.invoke(app, ["note", "verify", "--vkey", VKEY], input=NOTE).exit_code == 0
    changed = runner.invoke(app, ["note", "verify", "--vkey", VKEY], input=NOTE.replace("problem", "Problem"))
    assert changed.exit_code == 1 and "does not verify" in changed.output
    assert runner.invoke(app, ["note", "verify", "--vkey", "not a key"], input=NOTE).exit_code == 2
