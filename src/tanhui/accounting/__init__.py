"""Carbon accounting: factor sets, consumption by day, footprint, certificates, regimes side by side.

Pure: factor sets arrive as parsed data, readings as values, time zones as arguments.

- ``factors``: versioned, sourced factor sets (parsed from ``data/factors/*.toml`` by the store);
- ``consumption``, ``daily``: register readings to consumption per local day;
- ``footprint``: one quantity times one factor; decimal and milligram formatting;
- ``market``: green-power certificates (China GEC, EU GO), their register and allocation;
- ``account``: household and community accounts per meter, day and month, location- and market-based;
- ``regimes``: the same consumption under a Chinese and a European set, each difference explained.
"""
