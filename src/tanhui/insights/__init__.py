"""Insights people act on: leak and meter-fault detection, unusual use, and personal saving tips.

Pure core: detectors take register series (:class:`~tanhui.insights.series.RegisterSeries`) and parameters
(``data/insights/detectors.toml``) and return typed findings; nothing here reads the clock, a file or the
database. Modules:

- :mod:`~tanhui.insights.leak`: continuous minimum night flow on water meters.
- :mod:`~tanhui.insights.meter_faults`: stuck, flat zero, sudden drop, reverse flow, clock jumps.
- :mod:`~tanhui.insights.unusual`: hours far above the household's own use at that hour of day.
- :mod:`~tanhui.insights.detect`: every rule over a community's meters.
- :mod:`~tanhui.insights.evaluation`: precision, recall and time to detect against labelled anomalies.
- :mod:`~tanhui.insights.messages` and :mod:`~tanhui.insights.tips`: alert texts and ranked saving tips.
- :mod:`~tanhui.insights.forecast`: consumption and avoided-emission forecasts (issue 10 item 4).

docs/insights.md describes each rule, its source, and the evaluation.
"""
