"""Mosquitto configuration generated from the registry: password file, ACL file and ``mosquitto.conf``.

Every function here is pure: salts come in as arguments and the text comes back as a string, so the
``tanhui broker-config`` command (and the tests) decide where it is written.

Who may do what on the broker (docs/gateways.md §3b):

- a **gateway** logs in with its name and its token, and may only *publish* to its own uplink topic
  ``<prefix>/<community>/gw/<name>/up`` and to its community's weather topics
  ``<prefix>/<community>/weather/<station>`` (a station wired to the gateway; ``tanhui weather subscribe``);
- the **ingest worker** user may only *read* ``<prefix>/+/gw/+/up`` and ``<prefix>/+/weather/+``. Workers
  subscribe to the shared subscription ``$share/<group>/<prefix>/+/gw/+/up``; Mosquitto 2.0 grants a
  subscription to any filter and checks ``read`` access against the topic of each message it would
  deliver, the underlying topic without ``$share/<group>/`` (checked against mosquitto 2.0.11 in
  tests/integration/test_mqtt_transport.py);
- nobody else anything: anonymous clients are refused.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from tanhui.domain.mosquitto_password import (
    PASSWORD_HASH_ITERATIONS,
    SALT_BYTES,
    password_hash,
    verify_password,
)

__all__ = [
    "DEFAULT_AUTOSAVE_INTERVAL",
    "DEFAULT_MAX_INFLIGHT_MESSAGES",
    "DEFAULT_MAX_QUEUED_BYTES",
    "DEFAULT_MAX_QUEUED_MESSAGES",
    "DEFAULT_SHARE_GROUP",
    "DEFAULT_WORKER_USERNAME",
    "PASSWORD_HASH_ITERATIONS",
    "SALT_BYTES",
    "BrokerConfigError",
    "GatewayAccount",
    "acl_file",
    "config_files",
    "mosquitto_conf",
    "password_file",
    "password_hash",
    "shared_uplink_filter",
    "uplink_filter",
    "uplink_topic",
    "verify_password",
    "weather_filter",
    "weather_topic",
]

DEFAULT_WORKER_USERNAME = "tanhui-ingest"
DEFAULT_SHARE_GROUP = "ingest"
# Per client, above the in-flight ones. A worker that is down keeps its session and the broker keeps
# queueing its share of the messages (Mosquitto 2.0 assigns shared-subscription messages to offline
# members too); what exceeds either limit is dropped, so together they must cover the longest worker
# outage to survive. A county (55k households, 1,100 gateways of 50 households, one envelope per gateway
# every 15 minutes) sends about 1.2 envelopes/s of ~17 kB: a million messages is over a week, the byte
# limit about fourteen hours. Gateways that send one reading per message (~200/s) fill a million in 1.4 hours.
# The byte limit keeps a long outage from exhausting the broker's memory, which would lose everything.
DEFAULT_MAX_QUEUED_MESSAGES = 1_000_000
DEFAULT_MAX_QUEUED_BYTES = 1 << 30
# Unacknowledged messages in flight to one client; the worker asks for no more than its batch window
# (MQTT 5 Receive Maximum), and the smaller of the two applies.
DEFAULT_MAX_INFLIGHT_MESSAGES = 1000
# Seconds between saves of the in-memory store (sessions, queued messages). A clean stop always saves; a
# crash loses at most this much of what gateways published and the workers had not yet acknowledged.
DEFAULT_AUTOSAVE_INTERVAL = 30

# A topic level and a Mosquitto user name taken from the registry: no MQTT wildcards, no "/", no
# leading "$" (reserved for the broker), nothing that ends an ACL or password-file field (":", spaces).
_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.\-]{0,99}")


class BrokerConfigError(ValueError):
    """The registry holds a name that cannot be a Mosquitto user name or topic level."""


@dataclass(frozen=True, slots=True)
class GatewayAccount:
    """A gateway as the broker sees it: its user name, its community and its password hash."""

    name: str
    community: str
    password_hash: str


def uplink_topic(prefix: str, community: str, gateway: str) -> str:
    """The one topic a gateway publishes its envelopes to (QoS 1)."""
    return f"{prefix}/{community}/gw/{gateway}/up"


def uplink_filter(prefix: str) -> str:
    """The filter matching every gateway's uplink topic."""
    return f"{prefix}/+/gw/+/up"


def shared_uplink_filter(prefix: str, group: str = DEFAULT_SHARE_GROUP) -> str:
    """The MQTT 5 shared subscription (MQTT 5.0 §4.8.2) through which ``group``'s workers split the load."""
    return f"$share/{group}/{uplink_filter(prefix)}"


def weather_topic(prefix: str, community: str, station: str) -> str:
    """The topic a community's weather station publishes its observations to (QoS 1)."""
    return f"{prefix}/{community}/weather/{station}"


def weather_filter(prefix: str) -> str:
    """The filter matching every community's weather topics."""
    return f"{prefix}/+/weather/+"


def password_file(users: Iterable[tuple[str, str]]) -> str:
    """A Mosquitto password file: one ``username:hash`` line per ``(username, hash)``.

    Refuses a user name twice, since Mosquitto would silently keep only one of the passwords.
    """
    lines: list[str] = []
    seen: set[str] = set()
    for username, hashed in users:
        _check_name(username, "user name")
        if username in seen:
            raise BrokerConfigError(f"user name {username!r} appears twice; every gateway needs its own name")
        if not hashed.startswith("$7$") or any(c in hashed for c in ":\n "):
            raise BrokerConfigError(f"user {username!r} has no Mosquitto $7$ password hash")
        seen.add(username)
        lines.append(f"{username}:{hashed}\n")
    return "".join(lines)


def acl_file(gateways: Iterable[GatewayAccount], *, prefix: str, worker_username: str) -> str:
    """A Mosquitto ACL file (``acl_file``): each gateway writes its uplink topic, the worker reads them all.

    Mosquitto denies whatever no line grants, so a gateway can neither read anything nor write to another
    gateway's topic, and the worker cannot publish.
    """
    for level in prefix.split("/"):
        _check_name(level, "topic prefix level")
    _check_name(worker_username, "worker user name")
    blocks = [
        "# Generated by `tanhui broker-config` from the registry; edits are overwritten.\n"
        "# Whatever no line grants is denied.\n",
        f"user {worker_username}\ntopic read {uplink_filter(prefix)}\ntopic read {weather_filter(prefix)}\n",
    ]
    for gateway in sorted(gateways, key=lambda g: g.name):
        _check_name(gateway.name, "gateway name")
        _check_name(gateway.community, "community slug")
        if gateway.name == worker_username:
            raise BrokerConfigError(
                f"gateway {gateway.name!r} has the ingest worker's user name; rename one of them"
            )
        blocks.append(
            f"user {gateway.name}\ntopic write {uplink_topic(prefix, gateway.community, gateway.name)}\n"
            f"topic write {weather_topic(prefix, gateway.community, '+')}\n"
        )
    return "\n".join(blocks)


def mosquitto_conf(
    *,
    port: int,
    password_file: Path,
    acl_file: Path,
    persistence_dir: Path,
    bind_address: str = "127.0.0.1",
    max_queued_messages: int = DEFAULT_MAX_QUEUED_MESSAGES,
    max_queued_bytes: int = DEFAULT_MAX_QUEUED_BYTES,
    max_inflight_messages: int = DEFAULT_MAX_INFLIGHT_MESSAGES,
    autosave_interval: int = DEFAULT_AUTOSAVE_INTERVAL,
) -> str:
    """A ``mosquitto.conf`` (Mosquitto 2.0) for a broker run by the project.

    Paths must be absolute: Mosquitto resolves relative ones against its working directory, not the
    configuration file.
    """
    for path in (password_file, acl_file, persistence_dir):
        if not path.is_absolute():
            raise BrokerConfigError(f"{path} must be an absolute path")
    if not 0 < port < 65536:
        raise BrokerConfigError(f"port must be between 1 and 65535, got {port}")
    # persistence_location is a prefix, not a directory name: without the trailing "/" Mosquitto would
    # write "<dir>mosquitto.db" next to the directory.
    location = f"{persistence_dir}/"
    return (
        "# Generated by `tanhui broker-config`; see docs/gateways.md §3b.\n"
        "per_listener_settings false\n"
        f"listener {port} {bind_address}\n"
        "allow_anonymous false\n"
        f"password_file {password_file}\n"
        f"acl_file {acl_file}\n"
        "\n"
        "# Sessions and queued QoS 1 messages survive a broker restart.\n"
        "persistence true\n"
        f"persistence_location {location}\n"
        f"autosave_interval {autosave_interval}\n"
        "\n"
        "# A stopped ingest worker keeps its session; its share of the messages waits here for it.\n"
        f"max_queued_messages {max_queued_messages}\n"
        f"max_queued_bytes {max_queued_bytes}\n"
        f"max_inflight_messages {max_inflight_messages}\n"
    )


def config_files(
    gateways: Iterable[GatewayAccount],
    *,
    directory: Path,
    port: int,
    prefix: str,
    worker_username: str,
    worker_password_hash: str,
) -> dict[str, str]:
    """The files of a broker configured in ``directory``: ``passwd`` (the worker and every gateway),
    ``acl`` and ``mosquitto.conf`` (persistence in ``directory/data``), by name."""
    accounts = list(gateways)
    return {
        "passwd": password_file(
            [(worker_username, worker_password_hash), *((a.name, a.password_hash) for a in accounts)]
        ),
        "acl": acl_file(accounts, prefix=prefix, worker_username=worker_username),
        "mosquitto.conf": mosquitto_conf(
            port=port,
            password_file=directory / "passwd",
            acl_file=directory / "acl",
            persistence_dir=directory / "data",
        ),
    }


def _check_name(value: str, what: str) -> None:
    if not _NAME.fullmatch(value):
        raise BrokerConfigError(
            f"{what} {value!r} cannot be used on the broker: use 1-100 of A-Z a-z 0-9 _ . -, starting "
            "with a letter, digit or _ (no '/', '+', '#', ':', spaces or a leading '$')"
        )
