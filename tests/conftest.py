"Test-wide settings: offline, quiet, single-process-friendly; a guard that fails any test opening a network connection."
import os, socket

import pytest

for var, val in {"HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1",
                 "HF_HUB_DISABLE_TELEMETRY": "1", "OMP_WAIT_POLICY": "PASSIVE", "TOKENIZERS_PARALLELISM": "false"}.items():
    os.environ.setdefault(var, val)
os.environ.pop("TINYREPRO_SCALE", None)

_real_connect = socket.socket.connect

def _guarded_connect(self, address):
    host = address[0] if isinstance(address, tuple) else address
    if isinstance(host, str) and host not in ("127.0.0.1", "::1", "localhost", "0.0.0.0") and not host.startswith("/"):
        raise AssertionError(f"test tried to open a network connection to {address!r}")
    return _real_connect(self, address)

@pytest.fixture(autouse=True)
def no_network(monkeypatch):
    "Nothing in the library may touch the network: any non-loopback connect fails the test."
    monkeypatch.setattr(socket.socket, "connect", _guarded_connect)
    yield
