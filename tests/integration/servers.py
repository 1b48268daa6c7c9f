"""Private Mosquitto and PostgreSQL servers for tests that stop, kill or restart them.

The shared servers of docs/services.md must never be restarted by a test, so these helpers start a server
of the test's own on a free port of 127.0.0.1, in a temporary directory, and remove it afterwards. Both
start in well under a second here.

Running as root (as CI does), Mosquitto drops its privileges to the ``mosquitto`` user and PostgreSQL
refuses to run at all, so their directories are handed to those users and PostgreSQL's commands run
through ``runuser``.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import secrets
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

from tanhui.ingest import broker

MOSQUITTO = Path("/usr/sbin/mosquitto")
PG_BIN = Path("/usr/lib/postgresql/15/bin")


class ServerError(RuntimeError):
    """A private server did not start or stop in time; the message carries the end of its log."""


def free_port() -> int:
    """A TCP port of 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def port_open(port: int, host: str = "127.0.0.1") -> bool:
    """Whether something accepts TCP connections on ``host:port``."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(0.5)
        return sock.connect_ex((host, port)) == 0


def wait_for_port(port: int, *, timeout: float = 10, host: str = "127.0.0.1", is_open: bool = True) -> None:
    """Wait until ``host:port`` accepts connections (or, with ``is_open=False``, until it refuses them)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if port_open(port, host) == is_open:
            return
        time.sleep(0.02)
    raise ServerError(f"{host}:{port} is still {'closed' if is_open else 'open'} after {timeout} s")


def _system_user(name: str) -> pwd.struct_passwd | None:
    if os.geteuid() != 0:
        return None  # a non-root server runs as ourselves and can read what we write
    try:
        return pwd.getpwnam(name)
    except KeyError:
        return None


def _hand_over(directory: Path, user: pwd.struct_passwd | None) -> None:
    if user is None:
        return
    for path in [directory, *directory.rglob("*")]:
        os.chown(path, user.pw_uid, user.pw_gid)


def _tail(path: Path, lines: int = 30) -> str:
    try:
        return "\n".join(path.read_text(encoding="utf-8", errors="replace").splitlines()[-lines:])
    except FileNotFoundError:
        return "(no log)"


@contextlib.contextmanager
def temporary_directory(prefix: str) -> Iterator[Path]:
    """A directory under /tmp, which the service users can reach (pytest's tmp_path is private to root)."""
    directory = Path(tempfile.mkdtemp(prefix=prefix))
    directory.chmod(0o755)
    try:
        yield directory
    finally:
        shutil.rmtree(directory, ignore_errors=True)


class Mosquitto:
    """A Mosquitto process of our own, run from ``config`` (which must listen on ``port``)."""

    def __init__(self, config: Path, port: int) -> None:
        self.config = config
        self.port = port
        self.log = config.parent / "mosquitto.log"
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def start(self, timeout: float = 10) -> None:
        """Start the broker and wait until it accepts connections."""
        if self.running:
            raise ServerError("mosquitto is already running")
        # Handed over before every start: the test may have rewritten the password or ACL file.
        _hand_over(self.config.parent, _system_user("mosquitto"))
        with self.log.open("ab") as log:
            self._process = subprocess.Popen(
                [str(MOSQUITTO), "-c", str(self.config)], stdout=log, stderr=subprocess.STDOUT
            )
        deadline = time.monotonic() + timeout
        while not port_open(self.port):
            if self._process.poll() is not None or time.monotonic() > deadline:
                self._reap(signal.SIGKILL)
                raise ServerError(f"mosquitto did not start on port {self.port}:\n{_tail(self.log)}")
            time.sleep(0.02)

    def stop(self, timeout: float = 10) -> None:
        """Stop the broker cleanly (SIGTERM): it saves its sessions and queued messages first."""
        self._reap(signal.SIGTERM, timeout)

    def kill(self) -> None:
        """Kill the broker (SIGKILL): whatever it had not saved is gone."""
        self._reap(signal.SIGKILL)

    def restart(self, *, down_for: float = 0.0) -> None:
        """Stop cleanly, stay down ``down_for`` seconds, start again."""
        self.stop()
        time.sleep(down_for)
        self.start()

    def reload(self) -> None:
        """SIGHUP: Mosquitto rereads its password and ACL files."""
        _hand_over(self.config.parent, _system_user("mosquitto"))
        if self._process is not None:
            self._process.send_signal(signal.SIGHUP)

    def _reap(self, sig: signal.Signals, timeout: float = 10) -> None:
        process, self._process = self._process, None
        if process is None:
            return
        if process.poll() is None:
            process.send_signal(sig)
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(5)
            raise ServerError(f"mosquitto ignored {sig.name} for {timeout} s:\n{_tail(self.log)}") from None
        # The port is free once the process is gone; waiting for it keeps a restart from racing.
        wait_for_port(self.port, is_open=False, timeout=5)


@contextlib.contextmanager
def private_mosquitto(config: Path, port: int) -> Iterator[Mosquitto]:
    """A started :class:`Mosquitto`, killed on the way out whatever happened."""
    broker = Mosquitto(config, port)
    broker.start()
    try:
        yield broker
    finally:
        broker.kill()


class Postgres:
    """A PostgreSQL 15 cluster of our own (``initdb``), trusting local TCP connections as ``root``."""

    def __init__(self, directory: Path, port: int) -> None:
        self.directory = directory
        self.data = directory / "data"
        self.port = port
        self.log = directory / "postgres.log"
        self._user = _system_user("postgres")
        if os.geteuid() == 0 and self._user is None:
            raise ServerError("initdb refuses root and there is no postgres user to run it as")

    def _run(self, *args: str, timeout: float = 60) -> None:
        command = [str(PG_BIN / args[0]), *args[1:]]
        if self._user is not None:
            command = ["runuser", "-u", self._user.pw_name, "--", *command]
        done = subprocess.run(command, capture_output=True, text=True, timeout=timeout, check=False)
        if done.returncode != 0:
            raise ServerError(
                f"{args[0]} {' '.join(args[1:3])} failed ({done.returncode}):\n{done.stdout}\n{done.stderr}\n"
                f"{_tail(self.log)}"
            )

    def init(self) -> None:
        """Create the cluster: superuser ``root``, trust authentication, listening only on 127.0.0.1."""
        _hand_over(self.directory, self._user)
        # -N: no fsync of the new files; a test cluster that outlives no crash does not need it.
        self._run(
            "initdb",
            "-D",
            str(self.data),
            "-A",
            "trust",
            "-U",
            "root",
            "-E",
            "UTF8",
            "--locale=C.UTF-8",
            "-N",
        )
        with (self.data / "postgresql.conf").open("a", encoding="utf-8") as conf:
            conf.write(
                f"\nport = {self.port}\n"
                "listen_addresses = '127.0.0.1'\n"
                f"unix_socket_directories = '{self.directory}'\n"
                "shared_buffers = 32MB\n"
                "max_connections = 60\n"
            )

    def start(self, timeout: int = 30) -> None:
        """Start the server and wait until it accepts connections."""
        self._run("pg_ctl", "-D", str(self.data), "-l", str(self.log), "-w", "-t", str(timeout), "start")

    def stop(self, mode: str = "fast") -> None:
        """Stop the server; ``fast`` ends open sessions (their transactions roll back), as a restart does."""
        self._run("pg_ctl", "-D", str(self.data), "-m", mode, "-w", "stop")

    def restart(self, *, down_for: float = 0.0) -> None:
        """Stop (fast), stay down ``down_for`` seconds, start again."""
        self.stop()
        time.sleep(down_for)
        self.start()

    def url(self, database: str = "postgres") -> str:
        """A SQLAlchemy URL for ``database`` on this server."""
        return f"postgresql+psycopg://root@127.0.0.1:{self.port}/{database}"


@contextlib.contextmanager
def private_postgres() -> Iterator[Postgres]:
    """A started :class:`Postgres` in a temporary directory, stopped and removed on the way out."""
    with temporary_directory("tanhui-pg-") as directory:
        server = Postgres(directory, free_port())
        server.init()
        server.start()
        try:
            yield server
        finally:
            with contextlib.suppress(ServerError, subprocess.TimeoutExpired):
                server.stop("immediate")


def write_broker_files(
    directory: Path, port: int, accounts: list[broker.GatewayAccount], *, prefix: str, worker_password: str
) -> Path:
    """Password file, ACL and mosquitto.conf in ``directory``, as ``tanhui broker-config`` writes them (the
    ingest worker user with ``worker_password``); the configuration's path."""
    worker_hash = broker.password_hash(worker_password, secrets.token_bytes(broker.SALT_BYTES))
    files = broker.config_files(
        accounts,
        directory=directory,
        port=port,
        prefix=prefix,
        worker_username=broker.DEFAULT_WORKER_USERNAME,
        worker_password_hash=worker_hash,
    )
    (directory / "data").mkdir()
    for name, text in files.items():
        (directory / name).write_text(text)
    return directory / "mosquitto.conf"
