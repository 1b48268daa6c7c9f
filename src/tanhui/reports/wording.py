"""Codes put into words in the report's locale: quantities, methods, and each regime difference.

The accounting core explains a difference in English for logs and JSON
(:meth:`tanhui.accounting.regimes.ComparedLine.explanation`); a report rebuilds the same sentence
from the difference's code and values through the catalogue, so that a Chinese statement explains
itself in Chinese with the glossary's terms (shared/docs/baoting.md).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal

from tanhui.accounting.regimes import Difference, DifferenceKind
from tanhui.domain.quantity import Quantity
from tanhui.reports.translation import Formatter, translations


@dataclass(frozen=True, slots=True)
class Wording:
    """Translated words for one locale."""

    locale: str

    @property
    def gettext(self) -> Callable[[str], str]:
        return translations(self.locale).gettext

    @property
    def fmt(self) -> Formatter:
        return Formatter(self.locale)

    def quantity(self, quantity: Quantity) -> str:
        """The quantity's name (电, 水, 燃气 / electricity, water, gas)."""
        _ = self.gettext
        names = {Quantity.ELECTRICITY: _("Electricity"), Quantity.WATER: _("Water"), Quantity.GAS: _("Gas")}
        return names[quantity]

    def unit(self, unit: str) -> str:
        """An activity or factor unit as printed (m3 as m³, CO2 with a subscript digit)."""
        return unit.replace("m3", "m³").replace("CO2", "CO₂")

    def method(self, method: str) -> str:
        """A factor method (GHG Protocol Scope 2 Guidance Ch. 4 and 6; GPC)."""
        _ = self.gettext
        names = {
            "location": _("location-based"),
            "market-residual": _("market-based residual mix"),
            "combustion": _("combustion"),
            "allocation": _("allocation of utility emissions"),
        }
        return names.get(method, method)

    def regime(self, regime: str) -> str:
        _ = self.gettext
        return {"cn": _("Chinese set"), "eu": _("European set")}.get(regime, regime)

    def difference(
        self, difference: Difference, *, amount: Decimal, unit: str, left_set: str, right_set: str
    ) -> str:
        """One sentence saying how the two sides of a line differ and, for the factor, by how many kg."""
        _ = self.gettext
        values = {
            "left": self.unit(difference.left) or "–",
            "right": self.unit(difference.right) or "–",
            "left_set": left_set,
            "right_set": right_set,
        }
        kind = difference.kind
        if kind is DifferenceKind.FACTOR_VALUE:
            return self._factor_difference(difference, amount=amount, unit=unit, values=values)
        if kind is DifferenceKind.METHOD:
            values |= {"left": self.method(difference.left), "right": self.method(difference.right)}
        if kind is DifferenceKind.MARKET_AVAILABILITY:
            availability = {"available": _("available"), "unavailable": _("unavailable")}
            values |= {
                "left": availability.get(difference.left, difference.left),
                "right": availability.get(difference.right, difference.right),
            }
        sentences = {
            DifferenceKind.BASIS: _(
                "Gases: %(left_set)s counts %(left)s, %(right_set)s counts %(right)s; a CO2-only factor "
                "leaves out methane and nitrous oxide."
            ),
            DifferenceKind.GWP: _(
                "Both count CO2e, but methane and nitrous oxide are converted with %(left)s global "
                "warming potentials on one side and %(right)s on the other."
            ),
            DifferenceKind.METHOD: _("Method: %(left)s against %(right)s."),
            DifferenceKind.DATA_YEAR: _(
                "Data year: the factors describe %(left)s and %(right)s; grid intensities change from "
                "year to year."
            ),
            DifferenceKind.GEOGRAPHY: _("Geography: %(left)s against %(right)s."),
            DifferenceKind.CONFIDENCE: _(
                "Confidence mark: %(left)s against %(right)s (V checked against the publisher's file, "
                "R secondary reporting, K standard value, D derived)."
            ),
            DifferenceKind.RESIDUAL_FACTOR: _(
                "Residual mix for electricity no certificate covers: %(left)s against %(right)s."
            ),
            DifferenceKind.INSTRUMENTS: _(
                "Certificates cover %(left)s kWh against %(right)s kWh: a certificate counts only in its "
                "own market (a GEC in China, a GO in Europe)."
            ),
            DifferenceKind.MARKET_AVAILABILITY: _(
                "Market-based figure: %(left)s under %(left_set)s, %(right)s under %(right_set)s."
            ),
        }
        return sentences[kind] % values

    def _factor_difference(
        self, difference: Difference, *, amount: Decimal, unit: str, values: dict[str, str]
    ) -> str:
        _ = self.gettext
        fmt = self.fmt
        left_value = Decimal(difference.left.split(" ", 1)[0])
        right_value = Decimal(difference.right.split(" ", 1)[0])
        term = amount * (right_value - left_value)
        return _(
            "Factor %(left)s (%(left_set)s) against %(right)s (%(right_set)s): "
            "%(amount)s %(unit)s × (%(right_value)s − %(left_value)s) = %(term)s kg. "
            "The consumption is the same under both sets, so this factor term is the whole difference."
        ) % {
            **values,
            "amount": fmt.number(amount, 3),
            "unit": self.unit(unit),
            "left_value": fmt.factor(left_value),
            "right_value": fmt.factor(right_value),
            "term": fmt.signed(term, 3),
        }
