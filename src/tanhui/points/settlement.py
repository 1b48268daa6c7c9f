"""Merchant settlement: the vouchers a merchant validated in a period, and the points the operator owes."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import UTC, datetime
from html import escape


@dataclass(frozen=True, slots=True)
class SettlementLine:
    voucher_id: int
    reward_id: int
    reward_name_zh: str
    reward_name_en: str
    points: int
    validated_at: int  # ledger time, UTC epoch seconds


def settlement_csv(lines: list[SettlementLine]) -> str:
    """The report as CSV (RFC 4180 quoting): one row per voucher, UTC times, integer points, a total row."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["voucher", "reward_id", "reward_zh", "reward_en", "points", "validated_at_utc"])
    for line in lines:
        when = datetime.fromtimestamp(line.validated_at, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        writer.writerow(
            [
                f"{line.voucher_id:010x}",
                line.reward_id,
                line.reward_name_zh,
                line.reward_name_en,
                line.points,
                when,
            ]
        )
    writer.writerow(["total", "", "", "", sum(line.points for line in lines), ""])
    return out.getvalue()


def settlement_html(merchant_zh: str, merchant_en: str, period: str, lines: list[SettlementLine]) -> str:
    """The report as a self-contained bilingual HTML page (for print and PDF)."""
    rows = "".join(
        "<tr><td>{}</td><td>{} / {}</td><td class=n>{}</td><td>{}</td></tr>".format(
            f"{line.voucher_id:010x}",
            escape(line.reward_name_zh),
            escape(line.reward_name_en),
            line.points,
            datetime.fromtimestamp(line.validated_at, UTC).strftime("%Y-%m-%d %H:%M:%S UTC"),
        )
        for line in lines
    )
    total = sum(line.points for line in lines)
    return (
        '<!doctype html><html lang="zh-CN"><head><meta charset="utf-8"><title>Settlement</title><style>'
        "@page{size:A4;margin:18mm}body{font-family:'Noto Sans CJK SC',sans-serif;font-size:10pt}"
        "table{border-collapse:collapse;width:100%}td,th{border-bottom:1px solid #ccc;padding:3px 6px;"
        "text-align:left}.n{text-align:right}</style></head><body>"
        f"<h1>商户结算 Merchant settlement</h1><p>{escape(merchant_zh)} / {escape(merchant_en)}<br>"
        f"结算期 Period: {escape(period)} (UTC)</p>"
        "<table><thead><tr><th>券号 Voucher</th><th>奖励 Reward</th><th class=n>积分 Points</th>"
        f"<th>核销时间 Validated</th></tr></thead><tbody>{rows}</tbody>"
        f"<tfoot><tr><th colspan=2>合计 Total</th><th class=n>{total}</th><th></th></tr></tfoot></table>"
        "</body></html>"
    )
