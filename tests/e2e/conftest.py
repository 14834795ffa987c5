"""Fixtures for the end-to-end suite: the real rivus binary, driven by the real pymilvus.

One server per test session on a free port with a temporary data directory; every test gets a
clean catalog (the `client` fixture drops what earlier tests left behind). Tests that restart or
kill the server use `RivusServer` directly with their own data directory.
"""

import os
import re
import signal
import subprocess
import time
import uuid
from pathlib import Path

import pytest
from pymilvus import MilvusClient

RIVUS_BIN = os.environ.get(
    "RIVUS_BIN", str(Path(__file__).resolve().parents[2] / "target" / "debug" / "rivus")
)
LISTENING = re.compile(r"rivus listening on (\S+):(\d+)")


class RivusServer:
    """A rivus process on its own data directory, on a free port chosen by the OS."""

    def __init__(self, data_dir, port=0):
        self.data_dir = Path(data_dir)
        self.requested_port = port
        self.proc = None
        self.port = None
        self.log_path = self.data_dir.parent / f"{self.data_dir.name}-{uuid.uuid4().hex[:6]}.log"

    @property
    def uri(self):
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout=20.0):
        self.log = open(self.log_path, "w+")
        self.proc = subprocess.Popen(
            [RIVUS_BIN, "serve", "--data-dir", str(self.data_dir), "--host", "127.0.0.1",
             "--port", str(self.requested_port)],
            stdout=self.log, stderr=subprocess.STDOUT,
        )
        deadline = time.time() + timeout
        while time.time() < deadline:
            text = self.log_path.read_text()
            m = LISTENING.search(text)
            if m:
                self.port = int(m.group(2))
                return self
            if self.proc.poll() is not None:
                raise RuntimeError(f"rivus exited with {self.proc.returncode}:\n{text}")
            time.sleep(0.02)
        raise RuntimeError(f"rivus did not start in {timeout}s:\n{self.log_path.read_text()}")

    def output(self):
        return self.log_path.read_text()

    def stop(self, sig=signal.SIGTERM, timeout=10.0):
        if self.proc is None or self.proc.poll() is not None:
            return self.proc.returncode if self.proc else None
        self.proc.send_signal(sig)
        try:
            return self.proc.wait(timeout)
        finally:
            self.log.close()

    def kill9(self):
        return self.stop(signal.SIGKILL)


class ExternalServer:
    """A server already running elsewhere (`RIVUS_TEST_URI`, e.g. Milvus Lite as an oracle
    while writing tests); never started or stopped here."""

    def __init__(self, uri):
        self.uri = uri


@pytest.fixture(scope="session")
def server(tmp_path_factory):
    external = os.environ.get("RIVUS_TEST_URI")
    if external:
        yield ExternalServer(external)
        return
    srv = RivusServer(tmp_path_factory.mktemp("rivus") / "data").start()
    yield srv
    srv.stop()


def _reset(client):
    for db in client.list_databases():
        client.use_database(db)
        for alias in client.list_aliases()["aliases"]:
            client.drop_alias(alias)
        for name in client.list_collections():
            client.drop_collection(name)
    client.use_database("default")
    for db in client.list_databases():
        if db != "default":
            client.drop_database(db)


@pytest.fixture
def client(server):
    c = MilvusClient(uri=server.uri)
    _reset(c)
    yield c
    c.close()


@pytest.fixture
def fresh_server(tmp_path):
    """A server of the test's own, for restart and crash tests."""
    servers = []

    def start(data_dir=None, port=0):
        srv = RivusServer(data_dir or (tmp_path / "data"), port=port).start()
        servers.append(srv)
        return srv

    yield start
    for srv in servers:
        srv.stop(signal.SIGKILL)
