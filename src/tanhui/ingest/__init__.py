"""Ingest: envelopes from gateways (HTTP or MQTT) → checks → readings or quarantine."""
