"""The container deployment (Dockerfile, deploy/compose.yaml, deploy/Caddyfile) checked
against the code: no Docker daemon is needed, so these facts are what this repository can
prove without building the image (docs/self-hosting.md, "Containers")."""

from __future__ import annotations

import ast
import ipaddress
import os
import re
import subprocess
import tomllib
from functools import cache
from importlib import metadata
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import typer.main
import yaml
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from typer.testing import CliRunner

from vocable.api.routes.meta import router as meta_router
from vocable.cli.main import app
from vocable.livekit.server import PINNED_VERSION, find_binary
from vocable.livekit.webhooks import WEBHOOK_PATH
from vocable.providers import espeak_tts, gguf_weights
from vocable.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
VOCABLE_SERVICES = ("migrate", "api-1", "api-2", "worker-1", "worker-2")
APIS = ("api-1", "api-2")
WORKERS = ("worker-1", "worker-2")
LIVEKIT_NODES = ("livekit-1", "livekit-2")
# a secret the production check accepts, for the checks that need valid settings
GOOD_SECRET = "0123456789abcdef" * 4

Service = dict[str, Any]


# --- reading the files -----------------------------------------------------------------


@cache
def env_example() -> dict[str, str]:
    values = {}
    for line in (DEPLOY / ".env.example").read_text().splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            name, _, value = line.partition("=")
            values[name.strip()] = value.strip()
    return values


_VARIABLE = re.compile(r"\$\{(\w+)(?::([?-])([^}]*))?\}")


def interpolate(text: str, env: dict[str, str]) -> str:
    """Compose's ``${NAME}``, ``${NAME:?message}`` and ``${NAME:-default}``."""

    def value(match: re.Match[str]) -> str:
        name, kind, rest = match[1], match[2], match[3]
        if env.get(name):
            return env[name]
        if kind == "-":
            return rest
        raise AssertionError(f"${{{name}}} is not set: {rest or 'no default'}")

    return _VARIABLE.sub(value, text)


@cache
def raw_compose() -> dict[str, Any]:
    loaded = yaml.safe_load((DEPLOY / "compose.yaml").read_text())
    assert isinstance(loaded, dict)
    return loaded


def services(env: dict[str, str] | None = None) -> dict[str, Service]:
    """The services, with the .env values (or ``env``) put in as compose would."""
    text = interpolate((DEPLOY / "compose.yaml").read_text(), env or env_example())
    loaded = yaml.safe_load(text)
    assert isinstance(loaded, dict)
    result: dict[str, Service] = loaded["services"]
    return result


def environment(service: Service) -> dict[str, str]:
    env = service.get("environment") or {}
    assert isinstance(env, dict), "environment as a mapping, so anchors can merge it"
    return {k: str(v) for k, v in env.items()}


def livekit_config(service: Service) -> dict[str, Any]:
    config = yaml.safe_load(environment(service)["LIVEKIT_CONFIG"])
    assert isinstance(config, dict)
    return config


def published(service: Service, protocol: str = "tcp") -> set[tuple[int, int]]:
    """(host port, container port) pairs the service publishes over ``protocol``."""
    pairs: set[tuple[int, int]] = set()
    for entry in service.get("ports", []):
        spec, _, proto = str(entry).partition("/")
        if (proto or "tcp") != protocol:
            continue
        host, container = spec.rsplit(":", 2)[-2:]
        hosts, containers = _port_range(host), _port_range(container)
        assert len(hosts) == len(containers), entry
        pairs.update(zip(hosts, containers, strict=True))
    return pairs


def _port_range(text: str) -> list[int]:
    first, _, last = text.partition("-")
    return list(range(int(first), int(last or first) + 1))


@cache
def caddy_sites() -> dict[int, list[tuple[str, int]]]:
    """Each listening port of deploy/Caddyfile and the upstreams it proxies to."""
    sites: dict[int, list[tuple[str, int]]] = {}
    port = None
    for line in (DEPLOY / "Caddyfile").read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if site := re.fullmatch(r":(\d+)\s*\{", line):
            port = int(site[1])
        elif line.startswith("reverse_proxy ") and port is not None:
            upstreams = line.removeprefix("reverse_proxy ").removesuffix("{").split()
            sites[port] = [(u.rsplit(":", 1)[0], int(u.rsplit(":", 1)[1])) for u in upstreams]
    return sites


@cache
def dockerfile() -> list[tuple[str, str]]:
    """(instruction, arguments) pairs, continuation lines joined, comments dropped."""
    text = re.sub(r"\\\n", " ", (ROOT / "Dockerfile").read_text())
    lines = [ln.strip() for ln in text.splitlines()]
    return [
        (ln.split(None, 1)[0].upper(), ln.split(None, 1)[1])
        for ln in lines
        if ln and not ln.startswith("#")
    ]


def final_stage() -> list[tuple[str, str]]:
    instructions = dockerfile()
    last_from = max(i for i, (op, _) in enumerate(instructions) if op == "FROM")
    return instructions[last_from:]


def dockerfile_env() -> dict[str, str]:
    env = {}
    for op, args in final_stage():
        if op == "ENV":
            for name, value in re.findall(r'(\w+)=("[^"]*"|\S+)', args):
                env[name] = value.strip('"')
    return env


def exec_form(op: str) -> list[str]:
    (args,) = [a for o, a in final_stage() if o == op]
    form = yaml.safe_load(args)
    assert isinstance(form, list), f"{op} in exec form (JSON list): signals reach vocable"
    return [str(part) for part in form]


def settings_from(env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> Settings:
    """Settings exactly as a process with this environment reads them."""
    with monkeypatch.context() as patch:
        for name in [n for n in os.environ if n.startswith("VOCABLE_")]:
            patch.delenv(name)
        for name, value in env.items():
            patch.setenv(name, value)
        return Settings()


def with_secrets() -> dict[str, str]:
    return {**env_example(), "LIVEKIT_API_SECRET": GOOD_SECRET, "POSTGRES_PASSWORD": "pw"}


def process_env(name: str) -> dict[str, str]:
    """What a Vocable container's process sees: the image's ENV, then the service's."""
    return {**dockerfile_env(), **environment(services(with_secrets())[name])}


# --- the compose file: variables, settings, commands ----------------------------------


def test_every_variable_the_compose_file_uses_is_in_the_env_example_and_back() -> None:
    used = set(_VARIABLE.findall((DEPLOY / "compose.yaml").read_text()))
    assert {name for name, _, _ in used} == set(env_example())


def test_every_vocable_variable_set_is_a_settings_field() -> None:
    fields = set(Settings.model_fields)
    sources = {name: environment(s) for name, s in raw_compose()["services"].items()}
    sources["Dockerfile"] = dockerfile_env()
    for source, env in sources.items():
        for name in env:
            if name.startswith("VOCABLE_"):
                assert name.removeprefix("VOCABLE_").lower() in fields, (source, name)


@pytest.mark.parametrize("name", VOCABLE_SERVICES)
def test_each_vocable_service_has_valid_production_settings(
    name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = settings_from(process_env(name), monkeypatch)
    assert settings.environment == "production"
    assert settings.data_dir == Path("/var/lib/vocable")


def test_the_example_secret_is_refused_until_it_is_replaced(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    env = {**dockerfile_env(), **environment(services()["api-1"])}
    with pytest.raises(ValueError, match="VOCABLE_LIVEKIT_API_SECRET is a placeholder"):
        settings_from(env, monkeypatch)


@pytest.mark.parametrize("name", VOCABLE_SERVICES)
def test_each_vocable_service_runs_a_real_cli_command(name: str) -> None:
    service = raw_compose()["services"][name]
    command = service["command"]
    assert exec_form("ENTRYPOINT") == ["vocable"]
    group = typer.main.get_command(app)
    assert command[0] in group.commands  # type: ignore[attr-defined]
    expected = {"migrate": "migrate", "api": "api", "worker": "worker"}[name.split("-")[0]]
    assert command == [expected]
    assert CliRunner().invoke(app, [*command, "--help"]).exit_code == 0


def test_the_image_entrypoint_is_the_package_console_script_and_its_command_the_api() -> None:
    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]
    (entrypoint,) = exec_form("ENTRYPOINT")
    assert scripts[entrypoint] == "vocable.cli.main:app"
    assert exec_form("CMD") == ["api"]
    assert "api" in typer.main.get_command(app).commands  # type: ignore[attr-defined]


def test_the_schema_is_migrated_once_before_apis_and_workers_start() -> None:
    migrate = raw_compose()["services"]["migrate"]
    assert migrate["restart"] == "no"
    for name in (*APIS, *WORKERS):
        needs = raw_compose()["services"][name]["depends_on"]
        assert needs["migrate"] == {"condition": "service_completed_successfully"}, name


def test_apis_and_workers_share_the_database_key_pair_and_data_directory() -> None:
    envs = {name: process_env(name) for name in VOCABLE_SERVICES}
    for variable in (
        "VOCABLE_DATABASE_URL",
        "VOCABLE_LIVEKIT_API_KEY",
        "VOCABLE_LIVEKIT_API_SECRET",
        "VOCABLE_DATA_DIR",
    ):
        assert len({env[variable] for env in envs.values()}) == 1, variable
    data_dir = envs["api-1"]["VOCABLE_DATA_DIR"]
    # secrets.json (worker credential, encryption key) lives there: one volume for all
    mounts = {tuple(raw_compose()["services"][n]["volumes"]) for n in VOCABLE_SERVICES}
    assert len(mounts) == 1
    (volumes,) = mounts
    assert any(
        m.split(":")[1] == data_dir and m.split(":")[0] in raw_compose()["volumes"] for m in volumes
    )


def test_the_database_url_names_the_postgres_service_and_its_credentials() -> None:
    svc = services(with_secrets())
    url = urlsplit(process_env("api-1")["VOCABLE_DATABASE_URL"])
    postgres = environment(svc["postgres"])
    assert url.scheme == "postgresql+psycopg"
    assert (url.hostname, url.port) == ("postgres", 5432)
    assert url.username == postgres["POSTGRES_USER"]
    assert url.password == postgres["POSTGRES_PASSWORD"]
    assert url.path == "/" + postgres["POSTGRES_DB"]


def test_postgres_has_the_pgvector_release_the_bootstrap_builds() -> None:
    image = raw_compose()["services"]["postgres"]["image"]
    bootstrap = (ROOT / "scripts" / "bootstrap.sh").read_text()
    (version,) = re.findall(r"^pgvector_version=(\S+)$", bootstrap, re.MULTILINE)
    assert re.fullmatch(rf"pgvector/pgvector:{re.escape(version)}-pg\d+", image)


def test_every_image_is_pinned_to_a_release() -> None:
    for name, service in raw_compose()["services"].items():
        if "build" in service:
            continue
        assert re.search(r":v?\d+\.\d+\.\d+", service["image"]), name


def test_health_conditions_name_services_that_have_a_healthcheck() -> None:
    all_services = raw_compose()["services"]
    for name, service in all_services.items():
        for needed, rule in service.get("depends_on", {}).items():
            assert needed in all_services, (name, needed)
            if rule["condition"] == "service_healthy":
                assert "healthcheck" in all_services[needed], (name, needed)


# --- LiveKit: the image, the cluster and its ports --------------------------------------


@pytest.mark.parametrize("name", LIVEKIT_NODES)
def test_livekit_runs_the_release_our_bootstrap_builds(name: str) -> None:
    assert raw_compose()["services"][name]["image"] == f"livekit/livekit-server:v{PINNED_VERSION}"


@pytest.mark.parametrize("name", LIVEKIT_NODES)
def test_livekit_nodes_share_redis_our_key_pair_and_post_webhooks_to_the_apis(name: str) -> None:
    svc = services(with_secrets())
    config = livekit_config(svc[name])
    api = process_env("api-1")
    assert config["keys"] == {api["VOCABLE_LIVEKIT_API_KEY"]: api["VOCABLE_LIVEKIT_API_SECRET"]}
    host, port = config["redis"]["address"].split(":")
    assert host == "redis" and int(port) == 6379
    assert config["rtc"]["use_external_ip"] is False
    assert config["rtc"]["node_ip"] == env_example()["NODE_IP"]
    webhook = config["webhook"]
    assert webhook["api_key"] == api["VOCABLE_LIVEKIT_API_KEY"]
    (url,) = [urlsplit(u) for u in webhook["urls"]]
    assert url.path == WEBHOOK_PATH
    assert url.hostname in svc and url.port is not None
    assert set(caddy_sites()[url.port]) == api_upstreams(), "webhooks reach the APIs"


@pytest.mark.parametrize("name", LIVEKIT_NODES)
def test_livekit_media_ports_are_published_as_configured(name: str) -> None:
    service = services(with_secrets())[name]
    rtc = livekit_config(service)["rtc"]
    udp = set(range(rtc["port_range_start"], rtc["port_range_end"] + 1))
    # ICE candidates carry the node's own port numbers: the host must use the same ones
    assert published(service, "udp") == {(p, p) for p in udp}
    assert published(service, "tcp") == {(rtc["tcp_port"], rtc["tcp_port"])}


def test_the_two_livekit_nodes_use_distinct_ports() -> None:
    svc = services(with_secrets())
    seen: dict[str, set[int]] = {"tcp": set(), "udp": set()}
    for name in LIVEKIT_NODES:
        config = livekit_config(svc[name])
        tcp = {config["port"], config["rtc"]["tcp_port"]}
        udp = set(range(config["rtc"]["port_range_start"], config["rtc"]["port_range_end"] + 1))
        assert not tcp & seen["tcp"] and not udp & seen["udp"], name
        seen["tcp"] |= tcp
        seen["udp"] |= udp
    for name, service in svc.items():
        if name not in LIVEKIT_NODES:
            assert not {h for h, _ in published(service, "udp")} & seen["udp"], name


@pytest.mark.parametrize("name", LIVEKIT_NODES)
def test_livekit_healthcheck_asks_the_configured_port(name: str) -> None:
    service = services(with_secrets())[name]
    url = urlsplit(service["healthcheck"]["test"][-1])
    assert url.port == livekit_config(service)["port"]


@pytest.mark.parametrize("name", LIVEKIT_NODES)
def test_livekit_itself_reads_the_config_and_reports_the_published_ports(name: str) -> None:
    binary = find_binary(Settings())
    if binary is None:
        pytest.skip("no livekit-server here (scripts/bootstrap.sh builds one)")
    service = services(with_secrets())[name]
    out = subprocess.run(
        [str(binary), "ports"],
        env={"LIVEKIT_CONFIG": environment(service)["LIVEKIT_CONFIG"]},
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    ).stdout
    config = livekit_config(service)
    rtc = config["rtc"]
    assert re.search(rf"^{config['port']} - HTTP service$", out, re.MULTILINE), out
    assert re.search(rf"^{rtc['tcp_port']} - ICE/TCP$", out, re.MULTILINE), out
    udp = f"{rtc['port_range_start']}-{rtc['port_range_end']} - ICE/UDP range"
    assert re.search(rf"^{udp}$", out, re.MULTILINE), out


# --- the proxy, and who reaches whom ----------------------------------------------------


def api_upstreams() -> set[tuple[str, int]]:
    return {(name, int(process_env(name)["VOCABLE_API_PORT"])) for name in APIS}


def livekit_upstreams() -> set[tuple[str, int]]:
    svc = services(with_secrets())
    return {(name, livekit_config(svc[name])["port"]) for name in LIVEKIT_NODES}


def proxy_site_of(url: str) -> set[tuple[str, int]]:
    """The upstreams behind a URL that names the proxy service."""
    parts = urlsplit(url)
    assert parts.hostname == "proxy" and parts.port is not None, url
    return set(caddy_sites()[parts.port])


def test_the_proxy_spreads_over_both_apis_and_both_livekit_nodes() -> None:
    sites = {frozenset(upstreams) for upstreams in caddy_sites().values()}
    assert sites == {frozenset(api_upstreams()), frozenset(livekit_upstreams())}
    health = re.search(r"health_uri\s+(\S+)", (DEPLOY / "Caddyfile").read_text())
    assert health is not None
    assert health[1] in {getattr(r, "path", None) for r in meta_router.routes}


def test_the_proxy_publishes_each_site_on_the_same_port() -> None:
    proxy = services(with_secrets())["proxy"]
    assert published(proxy) == {(port, port) for port in caddy_sites()}


def test_the_trusted_proxy_is_the_proxy_address() -> None:
    proxy = raw_compose()["services"]["proxy"]
    address = ipaddress.ip_address(proxy["networks"]["default"]["ipv4_address"])
    (subnet,) = raw_compose()["networks"]["default"]["ipam"]["config"]
    assert address in ipaddress.ip_network(subnet["subnet"])
    for name in APIS:
        trusted = process_env(name)["VOCABLE_TRUSTED_PROXIES"].split(",")
        assert any(address in ipaddress.ip_network(n.strip()) for n in trusted), name


@pytest.mark.parametrize("name", WORKERS)
def test_workers_reach_the_apis_and_livekit_through_services_in_the_file(name: str) -> None:
    env = process_env(name)
    assert proxy_site_of(env["VOCABLE_PUBLIC_API_URL"]) == api_upstreams()
    assert proxy_site_of(env["VOCABLE_LIVEKIT_URL"]) == livekit_upstreams()


@pytest.mark.parametrize("name", APIS)
def test_apis_reach_livekit_and_hand_browsers_the_published_urls(name: str) -> None:
    env = process_env(name)
    assert proxy_site_of(env["VOCABLE_LIVEKIT_URL"]) == livekit_upstreams()
    proxy = published(services(with_secrets())["proxy"])
    for variable, upstreams in (
        ("VOCABLE_PUBLIC_API_URL", api_upstreams()),
        ("VOCABLE_LIVEKIT_PUBLIC_URL", livekit_upstreams()),
    ):
        port = urlsplit(env[variable]).port
        (container,) = [c for h, c in proxy if h == port]
        assert set(caddy_sites()[container]) == upstreams, variable


@pytest.mark.parametrize("name", APIS)
def test_api_healthcheck_asks_the_api_port(name: str) -> None:
    command = raw_compose()["services"][name]["healthcheck"]["test"][-1]
    url = urlsplit(re.findall(r"'(http://[^']+)'", command)[0])
    assert url.port == int(process_env(name)["VOCABLE_API_PORT"])
    assert url.path in {getattr(r, "path", None) for r in meta_router.routes}


# --- the Dockerfile ----------------------------------------------------------------------


def test_every_base_image_is_pinned_to_a_release() -> None:
    bases = [args.split()[0] for op, args in dockerfile() if op == "FROM"]
    assert len(bases) == 3
    for base in bases:
        assert re.search(r":\d+\.\d+\.\d+", base), base


def test_the_python_base_is_a_version_the_package_supports() -> None:
    requires = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["requires-python"]
    final = final_stage()[0][1].split()[0]
    version = re.search(r"python:(\d+\.\d+\.\d+)", final)
    assert version is not None
    assert Requirement(f"python{requires}").specifier.contains(version[1])


def test_the_image_runs_as_an_unprivileged_user() -> None:
    users = [args for op, args in final_stage() if op == "USER"]
    assert users and users[-1] not in {"root", "0", "0:0"}


def test_the_exposed_port_is_the_api_port_of_image_and_compose() -> None:
    (exposed,) = [args for op, args in final_stage() if op == "EXPOSE"]
    assert int(exposed) == int(dockerfile_env()["VOCABLE_API_PORT"])
    assert dockerfile_env()["VOCABLE_API_HOST"] == "0.0.0.0"
    for name in APIS:
        assert int(process_env(name)["VOCABLE_API_PORT"]) == int(exposed)


def test_the_image_serves_the_dashboard_it_built() -> None:
    copies = [args.split() for op, args in final_stage() if op == "COPY"]
    (dashboard,) = [c for c in copies if c[0] == "--from=web"]
    assert dashboard[1].endswith("/web/dashboard/dist")
    assert dockerfile_env()["VOCABLE_DASHBOARD_DIR"] == dashboard[2]


def test_the_llm_runtime_is_built_with_the_bootstrap_flags() -> None:
    bootstrap = (ROOT / "scripts" / "bootstrap.sh").read_text()
    (flags,) = re.findall(r'CMAKE_ARGS="\$\{CMAKE_ARGS:-([^}]*)\}"', bootstrap)
    env = " ".join(args for op, args in dockerfile() if op == "ENV")
    assert f'CMAKE_ARGS="{flags}"' in env


def test_the_runtime_image_installs_the_programs_the_engines_run() -> None:
    runs = " ".join(args for op, args in final_stage() if op == "RUN")
    assert espeak_tts.PROGRAM in runs.split()
    assert "libgomp1" in runs.split()  # llama.cpp's OpenMP runtime


def test_the_model_file_is_prepared_in_the_image_as_the_runtime_user() -> None:
    stage = final_stage()
    user_at = max(i for i, (op, _) in enumerate(stage) if op == "USER")
    prepare = [i for i, (op, args) in enumerate(stage) if op == "RUN" and "models prepare" in args]
    assert prepare and prepare[0] > user_at


# --- which pins of the lock go into the image -------------------------------------------


def lock_names() -> set[str]:
    lines = (ROOT / "requirements.lock").read_text().splitlines()
    return {canonicalize_name(ln.split("==")[0]) for ln in lines if "==" in ln}


def left_out_packages() -> set[str]:
    lines = (DEPLOY / "test-only-packages.txt").read_text().splitlines()
    return {canonicalize_name(ln) for ln in lines if ln.strip() and not ln.startswith("#")}


def runtime_closure() -> set[str]:
    """The package's declared dependencies, transitively, from the installed metadata."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    todo = [Requirement(r) for r in project["dependencies"]]
    seen: dict[str, set[str]] = {}
    while todo:
        req = todo.pop()
        name = canonicalize_name(req.name)
        if name in seen and set(req.extras) <= seen[name]:
            continue
        extras = seen.setdefault(name, set())
        extras.update(req.extras)
        for text in metadata.distribution(req.name).requires or []:
            dep = Requirement(text)
            markers = [{"extra": e} for e in (*extras, "")]
            if dep.marker is None or any(dep.marker.evaluate(m) for m in markers):
                todo.append(dep)
    return set(seen)


def module_owners() -> dict[str, set[str]]:
    """Top-level import name -> installed distributions (extension modules included,
    which ``packages_distributions`` misses when a wheel has no top_level.txt)."""
    owners: dict[str, set[str]] = {}
    for dist in metadata.distributions():
        for file in dist.files or []:
            top = file.parts[0].split(".")[0]
            if top.isidentifier() and not file.parts[0].endswith((".dist-info", ".data")):
                owners.setdefault(top, set()).add(canonicalize_name(dist.metadata["Name"]))
    return owners


def imported_by_src() -> set[str]:
    """Distributions whose modules src/vocable imports (declared or not)."""
    owners = module_owners()
    found = set()
    for path in (ROOT / "src" / "vocable").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                names = [node.module]
            for name in names:
                found.update(owners.get(name.split(".")[0], set()))
    return found


def model_parts() -> set[str]:
    return {
        canonicalize_name(m.requirement(part).split("==")[0])
        for m in gguf_weights.MODELS.values()
        for part in range(1, m.parts + 1)
    }


def test_the_image_leaves_out_exactly_the_pins_the_runtime_does_not_need() -> None:
    left_out = left_out_packages()
    assert left_out <= lock_names(), "every name is a pin of requirements.lock"
    needed = (runtime_closure() | imported_by_src() | model_parts()) & lock_names()
    assert not left_out & needed, "the runtime needs these"
    assert lock_names() - left_out == needed, "pins nothing needs: add them to the list"


def test_the_dockerfile_filters_the_lock_with_that_list() -> None:
    runs = " ".join(args for op, args in dockerfile() if op == "RUN")
    assert "/tmp/test-only-packages.txt" in runs and "--no-deps -r /tmp/runtime.lock" in runs
    copied = " ".join(args for op, args in dockerfile() if op == "COPY")
    assert "deploy/test-only-packages.txt" in copied
