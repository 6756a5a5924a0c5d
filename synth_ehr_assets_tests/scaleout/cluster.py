"""A Celery deployment on one machine, for the scale-out test and benchmark: a Redis broker, Postgres instance
storage, one `dagster-celery` worker per queue and, optionally, the llama.cpp server as its own process.

Every process is started in its own session and stopped (its whole process group) when the context exits.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from contextlib import ExitStack, contextmanager
from pathlib import Path

import yaml

from synth_ehr_assets.defs.settings import PROJECT_ROOT

BIN = Path(sys.executable).parent
POSTGRES_BIN = [Path("/usr/local/bin"), *sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True)]
LLM_KEY = "scaleout-test-key"
_LLM_SERVICE = """
import signal, sys, threading, xllamacpp
real = xllamacpp.Server
def keyed(params):  # the service refuses requests without the key, like a hosted endpoint
    params.api_keys = [sys.argv[1]]
    return real(params)
xllamacpp.Server = keyed
from synth_ehr_assets.core.narratives.server import EmbeddedServer
server = EmbeddedServer(threads=1)
print(server.start(), server.model_name, flush=True)
stop = threading.Event()
signal.signal(signal.SIGTERM, lambda *_: stop.set())
stop.wait()
server.stop()
"""


def missing_services() -> list[str]:
    """Why the Celery cluster cannot start here (empty when it can)."""
    reasons = []
    if shutil.which("redis-server") is None:
        reasons.append("redis-server is not installed (apt-get install redis-server; .ci/run does it)")
    if _pg_binary("initdb") is None:
        reasons.append("PostgreSQL server binaries (initdb, postgres) are not installed")
    for module in ("dagster_celery", "dagster_postgres", "redis", "dagster_deltalake_polars"):
        try:
            __import__(module)
        except ImportError:
            reasons.append(f"python package {module} is missing (the `scaleout` extra)")
    return reasons


def _pg_binary(name: str) -> str | None:
    found = [folder / name for folder in POSTGRES_BIN if (folder / name).exists()]
    return str(found[0]) if found else shutil.which(name)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait_port(port: int, process: subprocess.Popen, what: str, timeout_s: float = 60) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{what} exited with {process.returncode} before listening on {port}")
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise RuntimeError(f"{what} did not listen on 127.0.0.1:{port} within {timeout_s:.0f}s")


@contextmanager
def _process(args: list[str], log: Path, stop: int = signal.SIGTERM, **kwargs):
    """Run `args` in a new session with output to `log`; on exit stop its process group, killing it if needed."""
    with open(log, "ab") as out:
        process = subprocess.Popen(args, stdout=out, stderr=subprocess.STDOUT, start_new_session=True, **kwargs)
    try:
        yield process
    finally:
        _stop(process, stop)


def _stop(process: subprocess.Popen, stop: int) -> None:
    """Signal the process group, then kill it if it has not exited within 30 s."""
    for sig in (stop, signal.SIGKILL):
        try:
            os.killpg(process.pid, sig)
        except ProcessLookupError:
            return
        try:
            process.wait(timeout=30)
            return
        except subprocess.TimeoutExpired:
            continue


def _as_postgres_user() -> dict:
    """initdb and postgres refuse to run as root: run them as `nobody` then."""
    return {"user": "nobody", "group": "nogroup"} if os.geteuid() == 0 else {}


@contextmanager
def redis_broker(folder: Path):
    port = free_port()
    args = ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
            "--dir", str(folder)]
    with _process(args, folder / "redis.log") as process:
        _wait_port(port, process, "redis-server")
        yield f"redis://127.0.0.1:{port}"


@contextmanager
def postgres_storage(folder: Path):
    """A throw-away Postgres cluster (trust auth, loopback only); yields its URL."""
    data = Path(tempfile.mkdtemp(prefix="synth-ehr-pg-"))  # outside pytest's root-only tmp tree
    try:
        user = _as_postgres_user()
        if user:
            shutil.chown(data, user="nobody")
        subprocess.run([_pg_binary("initdb"), "-D", str(data / "db"), "-A", "trust", "-U", "dagster", "-E", "UTF8"],
                       check=True, capture_output=True, cwd=data, **user)
        port = free_port()
        args = [_pg_binary("postgres"), "-D", str(data / "db"), "-p", str(port), "-c", "listen_addresses=127.0.0.1",
                "-c", "unix_socket_directories=", "-c", "fsync=off", "-c", "max_connections=200"]
        with _process(args, folder / "postgres.log", stop=signal.SIGINT, cwd=data, **user) as process:
            _wait_port(port, process, "postgres")
            yield f"postgresql+psycopg2://dagster@127.0.0.1:{port}/postgres"  # SQLAlchemy 2.1 would pick psycopg 3
    finally:
        shutil.rmtree(data, ignore_errors=True)


@contextmanager
def llm_service(folder: Path, env: dict):
    """The embedded llama.cpp server started as its own process, requiring LLM_KEY; yields (base_url, model)."""
    with open(folder / "llm.log", "ab") as log:
        process = subprocess.Popen([sys.executable, "-c", _LLM_SERVICE, LLM_KEY], stdout=subprocess.PIPE,
                                   stderr=log, text=True, env=env, start_new_session=True)
    try:
        line = process.stdout.readline().split()
        if len(line) != 2:
            raise RuntimeError(f"llm service did not start; see {folder / 'llm.log'}")
        yield line[0], line[1]
    finally:
        _stop(process, signal.SIGTERM)


def write_instance(home: Path, postgres_url: str) -> None:
    """DAGSTER_HOME for the cluster: the project's dagster.yaml with Postgres run, event and schedule storage."""
    config = yaml.safe_load((PROJECT_ROOT / "dagster.yaml").read_text())
    config["storage"] = {"postgres": {"postgres_url": postgres_url}}
    home.mkdir(parents=True, exist_ok=True)
    (home / "dagster.yaml").write_text(yaml.safe_dump(config, sort_keys=False))


def celery_config(folder: Path, broker: str) -> Path:
    """The executor block the run and every worker share (broker, backend, modules to import)."""
    path = folder / "celery.yaml"
    path.write_text(yaml.safe_dump({"execution": {"config": {
        "broker": broker, "backend": broker, "include": ["synth_ehr_assets.definitions"],
        "config_source": {"worker_prefetch_multiplier": 1, "broker_connection_retry_on_startup": True},
    }}}))
    return path


def _wait_workers(config: Path, names: list[str], timeout_s: float = 180) -> None:
    """Wait until every worker answers a broadcast ping."""
    from dagster_celery.cli import get_app

    app = get_app(str(config))
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        replies = app.control.ping(timeout=1.0) or []
        seen = {name.split("@")[0] for reply in replies for name in reply}
        if set(names) <= seen:
            return
        time.sleep(1)
    raise RuntimeError(f"celery workers {names} did not answer within {timeout_s:.0f}s")


@contextmanager
def celery_workers(folder: Path, config: Path, queues: dict[str, str], env: dict):
    """One solo-pool worker per name (-> its queue, or comma-separated queues), each running one step at a time;
    yields when all answer."""
    env = {**env, "PATH": f"{BIN}{os.pathsep}{env.get('PATH', '')}"}  # dagster-celery runs `celery` from PATH
    with ExitStack() as stack:
        for name, queue in queues.items():
            # one `-q a,b`: dagster-celery passes each -q on as celery's -Q, of which celery keeps only the last
            args = [str(BIN / "dagster-celery"), "worker", "start", "-A", "dagster_celery.app", "-y", str(config),
                    "-q", queue, "-n", name, "--", "--pool=solo", "--without-gossip", "--without-mingle"]
            stack.enter_context(_process(args, folder / f"worker-{name}.log", env=env))
        _wait_workers(config, list(queues))
        yield
