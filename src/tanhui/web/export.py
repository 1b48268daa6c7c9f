"""A resident's own data, whole, as JSON and CSV: the right of access (PIPL Art. 45, GDPR Art. 15 and 20).

What is exported: the household, its meters, the daily consumption and footprint derived from the
readings (under the community's factor set), the resident's disputes and privacy choices. Only ever the
caller's own household: :func:`tanhui.web.account.visible_household` enforces it.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Connection, select

from tanhui.domain.quantity import Quantity
from tanhui.store import disputes, footprints, settings
from tanhui.store.schema import households, meters
from tanhui.store.users import User
from tanhui.web.account import MICRO, visible_household

CSV_COLUMNS = (
    "record",
    "household",
    "persons",
    "meter",
    "kind",
    "unit",
    "protocol",
    "installed_on",
    "removed_on",
    "day",
    "amount",
    "kg_co2e",
    "factor_set",
)


@dataclass(frozen=True, slots=True)
class HouseholdExport:
    """Everything the export holds, as plain values (strings for decimals, ISO dates)."""

    data: dict[str, Any]

    def json_ready(self) -> dict[str, Any]:
        return self.data

    def csv_text(self) -> str:
        """One table with a ``record`` column (household, meter, day) so any spreadsheet opens it."""
        out = io.StringIO(newline="")
        writer = csv.DictWriter(out, fieldnames=CSV_COLUMNS, lineterminator="\r\n")
        writer.writeheader()
        house = self.data["household"]
        writer.writerow({"record": "household", "household": house["code"], "persons": house["persons"]})
        for m in self.data["meters"]:
            writer.writerow(
                {
                    "record": "meter",
                    "household": house["code"],
                    "meter": m["serial"],
                    "kind": m["kind"],
                    "unit": m["unit"],
                    "protocol": m["protocol"],
                    "installed_on": m["installed_on"],
                    "removed_on": m["removed_on"] or "",
                }
            )
        for d in self.data["daily"]:
            writer.writerow(
                {
                    "record": "day",
                    "household": house["code"],
                    "kind": d["kind"],
                    "unit": d["unit"],
                    "day": d["day"],
                    "amount": d["amount"],
                    "kg_co2e": d["kg_co2e"],
                    "factor_set": self.data["factor_set"],
                }
            )
        return out.getvalue()


def household_export(
    conn: Connection, user: User, household_id: int, factor_set_id: str, *, now: datetime
) -> HouseholdExport:
    """The export of ``household_id`` for ``user`` (404 unless the user may see that household)."""
    visible = visible_household(conn, user, household_id)
    house = conn.execute(
        select(households.c.code, households.c.persons, households.c.enrolled_on).where(
            households.c.id == visible
        )
    ).one()
    meter_rows = conn.execute(
        select(meters)
        .where(meters.c.household_id == visible)
        .order_by(meters.c.serial, meters.c.installed_on)
    ).all()
    lines = footprints.household_days(conn, visible, factor_set_id)
    chosen = settings.get(conn, user.id)
    filed = disputes.of_household(conn, visible)
    return HouseholdExport(
        {
            "exported_at": now.astimezone(UTC).isoformat(),
            "factor_set": factor_set_id,
            "household": {
                "code": house.code,
                "persons": int(house.persons),
                "enrolled_on": _iso(house.enrolled_on),
            },
            "user": {"username": user.username, "locale": chosen.locale},
            "privacy": {"peer_comparison": chosen.peer_comparison},
            "meters": [
                {
                    "serial": m.serial,
                    "kind": m.kind,
                    "unit": m.unit,
                    "protocol": m.protocol,
                    "resolution": m.resolution,
                    "installed_on": _iso(m.installed_on),
                    "removed_on": _iso(m.removed_on),
                }
                for m in meter_rows
            ],
            "daily": [
                {
                    "day": line.day.isoformat(),
                    "kind": line.kind,
                    "unit": Quantity(line.kind).unit,
                    "amount": str(Decimal(line.amount_micro) / MICRO),
                    "kg_co2e": str(Decimal(line.co2e_mg) / MICRO),
                }
                for line in lines
            ],
            "disputes": [
                {
                    "id": d.id,
                    "subject": d.subject,
                    "meter": d.meter_serial,
                    "day": d.day.isoformat(),
                    "message": d.message,
                    "status": d.status,
                    "answer": d.answer,
                    "filed_at": datetime.fromtimestamp(d.created_at, UTC).isoformat(),
                }
                for d in filed
            ],
        }
    )


def _iso(value: date | None) -> str | None:
    return None if value is None else value.isoformat()
