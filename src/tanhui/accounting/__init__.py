"""Carbon accounting: factor sets, consumption by day, footprint.

Pure: factor sets arrive as parsed data, readings as values, time zones as arguments.
"""
