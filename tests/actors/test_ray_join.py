"""Joining Ray without starting any: never a second Ray inside a job (RAY_ADDRESS set, or Ray
already joined), and Ray token authentication failures as one line with exit status 2 — from a
GCS that answers UNAUTHENTICATED (a stand-in gRPC server on loopback) and from the errors Ray
raises (fake error paths). No Ray is started here."""

from __future__ import annotations

from concurrent import futures

import grpc
import pytest
from ray.exceptions import AuthenticationError

from perpwire.actors.app import deployment
from perpwire.actors.app.cli import main
from perpwire.actors.app.config import RayConfig
from perpwire.actors.app.deployment import AuthError

WHAT_TO_SET = ("set RAY_AUTH_TOKEN to the cluster's token, or RAY_AUTH_TOKEN_PATH to a file holding it (default "
               "~/.ray/auth_token; `ray get-auth-token` on a node of the cluster prints it)")


@pytest.fixture
def no_ray(monkeypatch, tmp_path):
    """A process not joined to any Ray, whose attempts to start one fail the test."""
    monkeypatch.setenv(deployment.HOME_ENV, str(tmp_path / "home"))
    monkeypatch.delenv("RAY_ADDRESS", raising=False)
    monkeypatch.setattr(deployment.ray, "is_initialized", lambda: False)

    def start_local(*a, **k):
        raise AssertionError("started a local Ray")

    monkeypatch.setattr(deployment, "start_local_ray", start_local)
    return monkeypatch


def test_inside_a_job_local_joins_ray_address_instead_of_starting_a_second_ray(no_ray):
    joined = []
    no_ray.setenv("RAY_ADDRESS", "10.1.2.3:6379")
    no_ray.setattr(deployment, "join_ray", lambda address, namespace, **kw: joined.append((address, namespace)))
    no_ray.setattr(deployment, "current_address", lambda: "10.1.2.3:6379")
    assert deployment.start_ray(RayConfig(address="local", namespace="funding")) == "10.1.2.3:6379"
    assert joined == [("10.1.2.3:6379", "funding")]


def test_a_process_already_joined_to_ray_stays_there(monkeypatch):
    monkeypatch.setattr(deployment.ray, "is_initialized", lambda: True)
    monkeypatch.setattr(deployment, "current_address", lambda: "10.9.9.9:6379")
    monkeypatch.setattr(deployment, "join_ray", lambda *a, **k: pytest.fail("joined again"))
    monkeypatch.setattr(deployment, "start_local_ray", lambda *a, **k: pytest.fail("started a second Ray"))
    assert deployment.start_ray(RayConfig(address="local")) == "10.9.9.9:6379"
    assert deployment.start_ray(RayConfig(address="ray://head:10001")) == "10.9.9.9:6379"


def test_without_a_record_status_uses_ray_address(no_ray):
    no_ray.setenv("RAY_ADDRESS", "10.1.2.3:6379")
    dep = deployment.locate(None, None, "funding")
    assert (dep.name, dep.address, dep.namespace) == ("funding", "10.1.2.3:6379", "funding")
    no_ray.delenv("RAY_ADDRESS")
    with pytest.raises(deployment.DeploymentError, match="pass --address or set RAY_ADDRESS"):
        deployment.locate(None, None, "funding")


class _Refusing(grpc.GenericRpcHandler):
    """Every call refused the way Ray's GCS refuses a missing or wrong token."""

    def __init__(self):
        self.calls: list[tuple[str, dict]] = []

    def service(self, details):
        self.calls.append((details.method, dict(details.invocation_metadata)))

        def refuse(request, context):
            context.abort(grpc.StatusCode.UNAUTHENTICATED, "InvalidAuthToken: Authentication token is missing or "
                          "incorrect")

        return grpc.unary_unary_rpc_method_handler(refuse)


@pytest.fixture
def refusing_gcs():
    handler = _Refusing()
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=2))
    server.add_generic_rpc_handlers((handler,))
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    yield f"127.0.0.1:{port}", handler
    server.stop(0)


def test_a_gcs_refusing_the_token_is_one_line_exit_2_and_the_token_is_sent_not_shown(no_ray, refusing_gcs, capsys):
    address, handler = refusing_gcs
    no_ray.setenv("RAY_AUTH_TOKEN", "0123456789abcdef0123456789abcdef")
    no_ray.setattr(deployment.ray, "init", lambda *a, **k: pytest.fail("ray.init after a refused token"))
    assert main(["status", "--address", address, "--namespace", "funding"]) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert err == f"perpwire: the Ray at {address} refused this process's token (Ray token authentication): " \
                  f"{WHAT_TO_SET}\n"
    assert "0123456789abcdef" not in err
    method, metadata = handler.calls[0]
    assert method == "/ray.rpc.NodeInfoGcsService/GetClusterId"
    assert metadata["authorization"] == "Bearer 0123456789abcdef0123456789abcdef"


def test_no_token_at_all_says_this_process_has_none(no_ray, refusing_gcs, tmp_path):
    address, handler = refusing_gcs
    no_ray.delenv("RAY_AUTH_TOKEN", raising=False)
    no_ray.delenv("RAY_AUTH_TOKEN_PATH", raising=False)
    no_ray.setenv("HOME", str(tmp_path))  # no ~/.ray/auth_token
    with pytest.raises(AuthError) as info:
        deployment.check_auth(address)
    assert str(info.value) == f"the Ray at {address} requires a token and this process has none (Ray token " \
                              f"authentication): {WHAT_TO_SET}"
    assert "authorization" not in handler.calls[0][1]


@pytest.mark.parametrize("error", [
    AuthenticationError("RPC error: InvalidAuthToken: Authentication token is missing or incorrect"),
    ConnectionError("ray client connection failed: UNAUTHENTICATED: invalid token"),
])
def test_an_auth_error_from_ray_init_is_one_line_exit_2(no_ray, capsys, error):
    """Through ray:// the token is checked by Ray Client's server: its error, whatever its type."""
    def init(*a, **k):
        raise error

    no_ray.setattr(deployment.ray, "init", init)
    assert main(["stop", "--address", "ray://head.example:10001", "--namespace", "funding"]) == 2
    out, err = capsys.readouterr()
    assert out == "" and err.count("\n") == 1
    assert err.startswith("perpwire: the Ray at ray://head.example:10001 ") and err.endswith(f"{WHAT_TO_SET}\n")


def test_other_join_failures_stay_exit_1_with_their_reason(no_ray, capsys):
    def init(*a, **k):
        raise ConnectionError("Failed to connect to Ray cluster at ray://head.example:10001\nmore detail")

    no_ray.setattr(deployment.ray, "init", init)
    assert main(["status", "--address", "ray://head.example:10001"]) == 1
    assert capsys.readouterr().err == ("perpwire: cannot join the Ray at ray://head.example:10001: ConnectionError: "
                                       "Failed to connect to Ray cluster at ray://head.example:10001\n")
