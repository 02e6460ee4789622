"""One deployment is one deployment: how perpwire starts its embedded Ray, records where a
deployment lives, and finds it again from another process.

``perpwire run`` and ``perpwire demo`` start a deployment; ``announce`` records its Ray (GCS)
address and namespace in ``$PERPWIRE_HOME/deployments/<name>.json`` (default ``~/.perpwire``),
written atomically and removed by ``forget`` on a clean stop. ``perpwire status``, ``submit``
and ``stop`` call ``locate`` (an explicit ``--address``, else the record, else ``RAY_ADDRESS``),
``connect`` and ``coordinator``: a record whose Ray no longer answers is reported as stale, and a cluster with no
coordinator of that name in that namespace is refused, so a command never reaches a deployment
that is not the user's. Every failure is a ``DeploymentError`` carrying one line for the user.

``start_ray`` is the one place perpwire starts Ray and ``join_ray`` the one place it joins one.
``address: local`` starts an embedded single-node Ray bound to 127.0.0.1 only, every port chosen
free at start-up (no fixed dashboard-agent or metrics port, so two deployments run side by side on
one host), with Ray's token authentication as ``ray.init`` sets it up for a new local cluster;
with ``RAY_ADDRESS`` set (inside ``ray job submit``) or Ray already joined, it joins instead.
``shutdown_ray`` ends what it started. Joining a GCS address first asks it one question with this
process's token: a missing or refused token is one ``AuthError`` saying what to set.
"""

from __future__ import annotations

import atexit
import contextlib
import logging
import os
import re
import socket
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import msgspec
import ray

from perpwire.actors.app.config import HOME_ENV as HOME_ENV  # re-exported: the variable naming our home
from perpwire.actors.app.config import perpwire_home
from perpwire.actors.coordination.coordinator import COORDINATOR_NAME as COORDINATOR
from perpwire.actors.logs import LOG_LEVEL_ENV
from perpwire.actors.pacing import now_ms

log = logging.getLogger(__name__)

DEFAULT_NAME = "perpwire"
LOOPBACK = "127.0.0.1"
STORE = "perpwire-store"

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
# RayParams fields of the embedded node's listening ports, each given a free loopback port
_PORT_FIELDS = ("gcs_server_port", "node_manager_port", "object_manager_port", "dashboard_port",
                "dashboard_agent_listen_port", "metrics_agent_port", "metrics_export_port",
                "runtime_env_agent_port")
# fixed ports Ray's autoscaler monitor and dashboard head read from the environment
_PORT_ENV = ("AUTOSCALER_METRIC_PORT", "DASHBOARD_METRIC_PORT")


class DeploymentError(Exception):
    """A deployment cannot be started, found or reached: the message is the one line to print."""


class Deployment(msgspec.Struct, frozen=True):
    """The record of a running deployment: where its Ray is and which namespace holds its actors."""

    name: str
    address: str  # GCS address (host:port) or ray://host:port
    namespace: str
    pid: int  # the process that started it (and removes the record on a clean stop)
    host: str
    started_ms: int
    auth: str = "disabled"  # Ray's authentication mode when it was started: "token" or "disabled"


# --- the record ---------------------------------------------------------------------------------


def home() -> Path:
    return perpwire_home()


def record_path(name: str) -> Path:
    if not _NAME.match(name):
        raise DeploymentError(f"not a deployment name: {name!r} (letters, digits, '_', '.', '-')")
    return home() / "deployments" / f"{name}.json"


def write_record(dep: Deployment) -> Path:
    """Write the record atomically (a reader sees the old file or the new one, never half)."""
    path = record_path(dep.name)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{dep.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(msgspec.json.format(msgspec.json.encode(dep)))
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    return path


def read_record(name: str) -> Deployment | None:
    path = record_path(name)
    try:
        return msgspec.json.decode(path.read_bytes(), type=Deployment)
    except FileNotFoundError:
        return None
    except (OSError, msgspec.DecodeError) as exc:
        raise DeploymentError(f"unreadable deployment record {path}: {exc}") from None


def remove_record(name: str, pid: int | None = None) -> bool:
    """Remove the record of ``name`` (only if ``pid`` wrote it, when given). Returns whether it did."""
    dep = read_record(name)
    if dep is None or (pid is not None and dep.pid != pid):
        return False
    with contextlib.suppress(FileNotFoundError):
        record_path(name).unlink()
    return True


# --- is it alive ----------------------------------------------------------------------------------


def _host_port(address: str) -> tuple[str, int] | None:
    rest = address.split("://", 1)[-1]
    host, sep, port = rest.rpartition(":")
    if not sep or not port.isdigit():
        return None
    return host.strip("[]"), int(port)


def answers(address: str, timeout_s: float = 1.0) -> bool:
    """Whether something accepts TCP connections at the address (a quick test before Ray's own
    connect, which retries for a minute on a dead address)."""
    hp = _host_port(address)
    if hp is None:
        return True  # "auto" and the like: let Ray find it
    try:
        with socket.create_connection(hp, timeout=timeout_s):
            return True
    except OSError:
        return False


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def is_live(dep: Deployment) -> bool:
    """A record is live while its Ray answers and, on this host, its process still runs."""
    if dep.host == socket.gethostname() and not _pid_alive(dep.pid):
        return False
    return answers(dep.address)


def _stale_message(dep: Deployment, removed: bool) -> str:
    when = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(dep.started_ms / 1000))
    tail = "; removed the stale record" if removed else ""
    return (f"deployment {dep.name!r} is gone: its Ray at {dep.address} does not answer "
            f"(recorded by pid {dep.pid} on {dep.host} at {when}){tail}")


def _drop_if_dead_here(dep: Deployment) -> bool:
    """A stale record is removed only when its own process is gone on this host: a remote
    cluster that does not answer right now keeps its record."""
    if dep.host == socket.gethostname() and not _pid_alive(dep.pid):
        return remove_record(dep.name, dep.pid)
    return False


def claim(name: str) -> None:
    """Before starting deployment ``name``: refuse if a live one is recorded; clear a stale one."""
    dep = read_record(name)
    if dep is None:
        return
    if is_live(dep):
        raise DeploymentError(f"deployment {name!r} is already running (pid {dep.pid} on {dep.host}, Ray at "
                              f"{dep.address}, namespace {dep.namespace!r}): stop it first, or start this one "
                              "under another name")
    log.warning("%s", _stale_message(dep, _drop_if_dead_here(dep)))


def announce(name: str, namespace: str, *, out=None) -> Deployment:
    """Record the deployment this process's Ray now runs and print where it is. Call right after
    the runtime has started; ``forget`` on a clean stop."""
    dep = Deployment(name=name, address=current_address(), namespace=namespace, pid=os.getpid(),
                     host=socket.gethostname(), started_ms=now_ms(), auth=_auth_mode())
    path = write_record(dep)
    print(f"perpwire: deployment {name!r}: Ray at {dep.address}, namespace {namespace!r} (recorded in {path})",
          file=out, flush=True)
    return dep


def forget(name: str) -> None:
    """Remove the record this process wrote (a clean stop)."""
    with contextlib.suppress(DeploymentError, OSError):
        remove_record(name, os.getpid())


# --- reaching a deployment ----------------------------------------------------------------------


def locate(name: str | None = None, address: str | None = None, namespace: str | None = None) -> Deployment:
    """The deployment a command acts on: at ``address`` when given (``host:port`` of the GCS,
    ``ray://host:port`` of a Ray Client server, or ``auto``); otherwise the record of ``name``;
    otherwise, with no record on this machine (a worker node, a job, a laptop), ``RAY_ADDRESS``.
    Its namespace is ``namespace`` when given, else the recorded one, else the name. Raises
    ``DeploymentError`` when there is none of these or the recorded Ray is gone."""
    name = name or DEFAULT_NAME
    dep = None if address else read_record(name)
    if dep is not None:
        if not answers(dep.address):
            raise DeploymentError(_stale_message(dep, _drop_if_dead_here(dep)))
        return msgspec.structs.replace(dep, namespace=namespace) if namespace else dep
    address = address or os.environ.get(RAY_ADDRESS_ENV)
    if not address:
        raise DeploymentError(f"no deployment named {name!r} is recorded in {record_path(name).parent} "
                              "(start one with `perpwire run` or `perpwire demo`, or pass --address or set "
                              f"{RAY_ADDRESS_ENV} to reach one on a cluster)")
    return Deployment(name=name, address=address, namespace=namespace or name, pid=0, host="", started_ms=0,
                      auth="token" if _token_available() else "disabled")


def connect(dep: Deployment) -> None:
    """Join the deployment's Ray as a driver in its namespace (a process already joined to Ray
    must be joined to that one)."""
    if ray.is_initialized():
        if _host_port(dep.address) is not None and not _same_cluster(dep.address):
            raise DeploymentError(f"this process is joined to the Ray at {current_address()}, not {dep.address}")
        return
    join_ray(dep.address, dep.namespace, token=dep.auth == "token")


def _same_cluster(address: str) -> bool:
    """Whether ``address`` is the GCS this process is joined to: the same host:port, or the same
    port on a loopback name of this host (``ray start`` records the node's IP; 127.0.0.1 reaches it)."""
    here = current_address()
    if here == address or address.startswith("ray://"):
        return True
    a, b = _host_port(address), _host_port(here)
    return a is not None and b is not None and a[1] == b[1] and a[0] in (LOOPBACK, "localhost")


def join_ray(address: str, namespace: str | None, *, token: bool | None = None, runtime_env: dict | None = None,
             log_to_driver: bool = False) -> None:
    """The one place perpwire joins a running Ray: a GCS ``host:port``, ``ray://host:port`` (Ray
    Client) or ``auto``. A GCS address is first asked one cheap question with this process's token,
    so a missing or refused token is one ``AuthError`` saying what to set, not Ray's retries."""
    hp = _host_port(address)
    if hp is not None and hp[0] in (LOOPBACK, "localhost") and not address.startswith("ray://"):
        _local_only()
    if token if token is not None else _token_available():
        _enable_token_auth()
    check_auth(address)
    kwargs: dict = {"namespace": namespace, "log_to_driver": log_to_driver}
    if runtime_env:
        kwargs["runtime_env"] = runtime_env
    if not address.startswith("ray://"):
        kwargs["configure_logging"] = False
    global _joined_address
    try:
        ray.init(address=address, **kwargs)
        _joined_address = address
    except Exception as exc:
        if _is_auth_failure(exc):
            raise AuthError(_auth_message(address)) from None
        reason = (f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__).splitlines()[0]
        raise DeploymentError(f"cannot join the Ray at {address}: {reason}") from None


# --- Ray token authentication -------------------------------------------------------------------

RAY_ADDRESS_ENV = "RAY_ADDRESS"
_AUTH_MARKERS = ("InvalidAuthToken", "Unauthenticated", "UNAUTHENTICATED", "Authentication token",
                 "authentication token")


class AuthError(DeploymentError):
    """The cluster's Ray token authentication refused this process (exit 2: the user must set something)."""


def _auth_message(address: str) -> str:
    have = "refused this process's token" if _raw_token() else "requires a token and this process has none"
    return (f"the Ray at {address} {have} (Ray token authentication): set RAY_AUTH_TOKEN to the cluster's token, or "
            "RAY_AUTH_TOKEN_PATH to a file holding it (default ~/.ray/auth_token; `ray get-auth-token` on a node of "
            "the cluster prints it)")


def _is_auth_failure(exc: BaseException) -> bool:
    from ray.exceptions import AuthenticationError

    return isinstance(exc, AuthenticationError) or any(m in str(exc) for m in _AUTH_MARKERS)


def _raw_token() -> str | None:
    """This process's Ray token, from where Ray reads it (RAY_AUTH_TOKEN, RAY_AUTH_TOKEN_PATH,
    ~/.ray/auth_token), whatever the authentication mode. Never logged."""
    try:
        from ray._raylet import AuthenticationTokenLoader

        loader = AuthenticationTokenLoader.instance()
        if not loader.has_token(ignore_auth_mode=True):
            return None
        token = loader.get_raw_token()
    except (ImportError, AttributeError, RuntimeError):
        return None
    token = token.decode() if isinstance(token, bytes) else token
    return token or None


def check_auth(address: str, timeout_s: float = 5.0) -> None:
    """Ask the GCS at ``address`` for its cluster id with this process's token (if it has one):
    ``AuthError`` if it is refused or missing. Anything else (no answer, ``auto``, a Ray Client
    address) is left for ``ray.init`` to report."""
    if address.startswith("ray://"):
        return
    hp = _host_port(address)
    if hp is None:
        return
    import grpc
    from ray.core.generated import gcs_service_pb2, gcs_service_pb2_grpc

    token = _raw_token()
    metadata = (("authorization", f"Bearer {token}"),) if token else ()
    host = f"[{hp[0]}]" if ":" in hp[0] else hp[0]
    channel = grpc.insecure_channel(f"{host}:{hp[1]}")
    try:
        gcs_service_pb2_grpc.NodeInfoGcsServiceStub(channel).GetClusterId(
            gcs_service_pb2.GetClusterIdRequest(), timeout=timeout_s, metadata=metadata)
    except grpc.RpcError as exc:
        if exc.code() == grpc.StatusCode.UNAUTHENTICATED:
            raise AuthError(_auth_message(address)) from None
    finally:
        channel.close()


def coordinator(dep: Deployment):
    """The deployment's coordinator, or ``DeploymentError`` when that cluster holds no perpwire
    deployment of this name."""
    try:
        return ray.get_actor(COORDINATOR, namespace=dep.namespace)
    except ValueError:
        raise DeploymentError(f"the Ray at {dep.address} holds no perpwire deployment named {dep.name!r} "
                              f"(no actor {COORDINATOR} in namespace {dep.namespace!r})") from None


def store_actor(dep: Deployment):
    try:
        return ray.get_actor(STORE, namespace=dep.namespace)
    except ValueError:
        return None


# --- starting Ray ---------------------------------------------------------------------------------


_node = None  # the embedded head node this process started
_joined_address: str | None = None  # the address join_ray joined (what a Ray Client driver reports)


def kill_actors(dep: Deployment) -> int:
    """End every perpwire actor of ``dep``'s namespace (its stream actors, coordinator, store);
    for ``perpwire stop`` when the process that started the deployment is gone."""
    import ray
    from ray.util import list_named_actors

    killed = 0
    for name in list_named_actors():
        if not name.startswith("perpwire-"):
            continue
        try:
            ray.kill(ray.get_actor(name, namespace=dep.namespace))
            killed += 1
        except ValueError:
            continue
    return killed


def start_ray(ray_config, *, runtime_env: dict | None = None) -> str:
    """Start (``address: local``) or join Ray for a ``RayConfig``; returns the GCS address.

    Never a second Ray: a process already joined to Ray stays there, and with ``RAY_ADDRESS`` set
    (always inside ``ray job submit``; or exported on a node) ``local`` joins that Ray instead of
    starting one. With ``PERPWIRE_LOG_LEVEL`` set (``perpwire -v``), the actors log at that level
    and their lines come to this process's stderr; otherwise they stay in Ray's log files."""
    if ray.is_initialized():
        return current_address()
    level = os.environ.get(LOG_LEVEL_ENV)
    if level:
        runtime_env = {**(runtime_env or {})}
        runtime_env["env_vars"] = {**runtime_env.get("env_vars", {}), LOG_LEVEL_ENV: level}
    address = ray_config.address
    if address == "local" and os.environ.get(RAY_ADDRESS_ENV):
        address = os.environ[RAY_ADDRESS_ENV]
        log.info("RAY_ADDRESS is set: joining the Ray at %s instead of starting one", address)
    if address == "local":
        return start_local_ray(ray_config.namespace, runtime_env=runtime_env, log_to_driver=bool(level))
    join_ray(address, ray_config.namespace, runtime_env=runtime_env, log_to_driver=bool(level))
    return current_address()


def start_local_ray(namespace: str | None = None, *, num_cpus: int | None = None,
                    runtime_env: dict | None = None, log_to_driver: bool = False) -> str:
    """Start an embedded single-node Ray whose every server listens on 127.0.0.1 at a port chosen
    free now, and connect this process to it. Returns its GCS address (``127.0.0.1:port``)."""
    global _node
    from ray._private.node import Node
    from ray._private.parameter import RayParams

    if ray.is_initialized():
        raise RuntimeError("Ray is already initialised in this process")
    shutdown_ray()  # a node left by an earlier ray.shutdown() without ours
    _local_only()
    _new_cluster_auth()
    ports = free_ports(len(_PORT_FIELDS) + len(_PORT_ENV))
    params = RayParams(node_ip_address=LOOPBACK, dashboard_host=LOOPBACK, include_dashboard=False,
                       num_cpus=num_cpus, redirect_output=None, **dict(zip(_PORT_FIELDS, ports, strict=False)))
    with _environ(dict(zip(_PORT_ENV, map(str, ports[len(_PORT_FIELDS):]), strict=True))):
        _node = Node(params, head=True, shutdown_at_exit=False, spawn_reaper=True, ray_init_cluster=True)
    try:
        ray.init(address=_node.gcs_address, namespace=namespace, runtime_env=runtime_env,
                 log_to_driver=log_to_driver, configure_logging=False)
    except BaseException:
        shutdown_ray()
        raise
    return _node.gcs_address


def shutdown_ray() -> None:
    """Disconnect from Ray and end the embedded node this process started (if any)."""
    global _node
    if ray.is_initialized():
        ray.shutdown()
    node, _node = _node, None
    if node is not None:
        node.kill_all_processes(check_alive=False, allow_graceful=True, wait=True)


atexit.register(shutdown_ray)  # registered after ray's own hook, so it runs first


def current_address() -> str:
    """The GCS address of the Ray this process is joined to (the ``ray://`` address under Ray Client)."""
    try:
        return ray.get_runtime_context().gcs_address
    except Exception:  # Ray Client: no GCS client in this process; the address it was joined with
        return _joined_address or ""


def free_ports(n: int, host: str = LOOPBACK) -> list[int]:
    """``n`` distinct ports free on ``host`` right now (all held open until every one is picked)."""
    with contextlib.ExitStack() as stack:
        ports = []
        for _ in range(n):
            s = stack.enter_context(socket.socket(socket.AF_INET, socket.SOCK_STREAM))
            s.bind((host, 0))
            ports.append(s.getsockname()[1])
        return ports


@contextlib.contextmanager
def _environ(values: dict[str, str]) -> Iterator[None]:
    saved = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def _local_only() -> None:
    """Ray replaces a loopback node or cluster address by the host's routable IP unless it is told
    this is not a multi-node cluster (its switch for laptops without clusters). Set it for this
    process and its children so 127.0.0.1 stays 127.0.0.1."""
    from ray._private import ray_constants

    os.environ["RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"] = "0"
    ray_constants.ENABLE_RAY_CLUSTER = False


def _new_cluster_auth() -> None:
    """What ``ray.init`` does for a new local cluster: token authentication on unless
    ``RAY_AUTH_MODE`` says otherwise, and a token generated (``~/.ray/auth_token``) if none
    exists; that file is then made private to its owner."""
    with contextlib.suppress(ImportError):
        from ray._private.authentication.authentication_token_setup import (
            enable_token_auth_by_default,
            ensure_token_if_auth_enabled,
        )

        enable_token_auth_by_default()
        ensure_token_if_auth_enabled({}, create_token_if_missing=True)
    _private_token_file()


def _private_token_file() -> None:
    """Ray writes its default token file with the process umask (often world-readable): make it
    readable by its owner only, as a secret should be."""
    if os.environ.get("RAY_AUTH_TOKEN") or os.environ.get("RAY_AUTH_TOKEN_PATH"):
        return
    path = Path.home() / ".ray" / "auth_token"
    with contextlib.suppress(OSError):
        if path.stat().st_mode & 0o077:
            path.chmod(0o600)


def _enable_token_auth() -> None:
    with contextlib.suppress(ImportError):
        from ray._private.authentication.authentication_token_setup import (
            maybe_enable_token_auth_if_token_available,
        )

        quiet = logging.getLogger(maybe_enable_token_auth_if_token_available.__module__)
        level = quiet.level
        quiet.setLevel(logging.ERROR)  # joining: Ray's notice that tokens are on is for new clusters
        try:
            maybe_enable_token_auth_if_token_available(warn_if_disabled=False)
        finally:
            quiet.setLevel(level)


def _token_available() -> bool:
    if os.environ.get("RAY_AUTH_MODE"):
        return os.environ["RAY_AUTH_MODE"].lower() == "token"
    try:
        from ray._raylet import AuthenticationTokenLoader

        return bool(AuthenticationTokenLoader.instance().has_token(ignore_auth_mode=True))
    except (ImportError, AttributeError):
        return False


def _auth_mode() -> str:
    return "token" if os.environ.get("RAY_AUTH_MODE", "").lower() == "token" else "disabled"

