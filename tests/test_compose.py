"""The docker compose path, checked without a Docker engine (none runs here, nor the compose plugin).

Every compose file is validated against the Compose Specification's JSON Schema (as vendored by the
pinned check-jsonschema package), then held to the project's own rules: pinned images, healthchecks,
dependency conditions, real WIREWATCH_ settings, no secret in a file. The one Dockerfile is read the
same way, once per SERVICE value compose passes, and its build stage is replayed with uv (the same
commands, the same files) to prove each image would install what its service needs.
"""

from __future__ import annotations

import base64
import json
import os
import re
import shutil
import sys
import tomllib
from collections.abc import Iterator
from dataclasses import dataclass
from fnmatch import fnmatch
from importlib import resources
from pathlib import Path
from typing import Any

import pytest
import yaml
from jsonschema import Draft202012Validator

from wirewatch_alerts.settings import AlertsSettings
from wirewatch_common.settings import Settings, env_name
from wirewatch_common.topics import load_contract
from wirewatch_index.settings import IndexSettings
from wirewatch_ingest.settings import IngestSettings
from wirewatch_stack.cli import all_settings_classes
from wirewatch_testkit.processes import run_command
from wirewatch_translate.settings import TranslateSettings

ROOT = Path(__file__).resolve().parents[1]
COMPOSE = ROOT / "docker-compose.yml"
DOCKERFILE = ROOT / "deploy" / "docker" / "Dockerfile"
OVERRIDES = sorted((ROOT / "deploy").glob("compose.*.yml"))
ENV_EXAMPLES = [ROOT / "deploy" / "compose.env.example", ROOT / "deploy" / "cluster.env.example"]
SERVICES = ("ingest", "translate", "index", "alerts")
JOBS = {"provision", "models"}
SETTINGS_OF = {
    "ingest": IngestSettings,
    "translate": TranslateSettings,
    "index": IndexSettings,
    "alerts": AlertsSettings,
    "provision": IndexSettings,
    "models": TranslateSettings,
}
DEFAULT_PORT = {"ingest": 8081, "translate": 8082, "index": 8080, "alerts": 8083}
VARIABLE = re.compile(r"(?<!\$)\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-?])([^}]*))?\}")
EXACT_TAG = re.compile(r"^[a-z0-9][a-z0-9._/-]*:\d+(\.\d+)+[A-Za-z0-9._-]*(@sha256:[0-9a-f]{64})?$")

unit = pytest.mark.unit


# -- reading compose files the way Docker Compose does ----------------------------------------------


class Reset(dict[str, Any]):
    """A mapping tagged `!reset`: the merged value is removed."""


class Override(dict[str, Any]):
    """A mapping tagged `!override`: the merged value replaces the base's instead of merging into it."""


class ComposeLoader(yaml.SafeLoader):
    """YAML with Compose's `!reset` and `!override` tags (Compose 2.24.4+)."""


def _tagged(cls: type[dict[str, Any]]) -> Any:
    def construct(loader: yaml.SafeLoader, node: yaml.Node) -> dict[str, Any]:
        assert isinstance(node, yaml.MappingNode), "only mappings are tagged in our files"
        return cls(loader.construct_mapping(node, deep=True))

    return construct


ComposeLoader.add_constructor("!reset", _tagged(Reset))
ComposeLoader.add_constructor("!override", _tagged(Override))


def load(path: Path) -> dict[str, Any]:
    doc = yaml.load(path.read_text(encoding="utf-8"), Loader=ComposeLoader)
    assert isinstance(doc, dict)
    return doc


def merge(base: Any, override: Any, key: str = "") -> Any:
    """Compose's merge for the parts we use: mappings merge, ports/volumes append, the rest replaces."""
    if isinstance(override, Override):
        return dict(override)
    if isinstance(base, dict) and isinstance(override, dict):
        merged = dict(base)
        for k, v in override.items():
            if isinstance(v, Reset):
                merged.pop(k, None)
            else:
                merged[k] = merge(base.get(k), v, k) if k in base else merge(None, v, k)
        return merged
    if isinstance(base, list) and isinstance(override, list) and key in ("ports", "volumes"):
        return base + [item for item in override if item not in base]
    if isinstance(override, dict):
        return {k: merge(None, v, k) for k, v in override.items() if not isinstance(v, Reset)}
    return override


def environment(service: dict[str, Any]) -> dict[str, str]:
    env = service.get("environment") or {}
    if isinstance(env, list):
        env = dict(item.split("=", 1) for item in env)
    return {str(k): "" if v is None else str(v) for k, v in env.items()}


def resolve(value: str, given: dict[str, str] | None = None) -> str:
    """Interpolate `${VAR:-default}` with its default and `${VAR:?msg}` with a sample value."""
    given = given or {}

    def sub(m: re.Match[str]) -> str:
        name, op, arg = m.group(1), m.group(2), m.group(3)
        if name in given:
            return given[name]
        if op in (":-", "-"):
            return arg or ""
        if op in (":?", "?"):
            return "sample-value-for-tests"
        return ""

    return VARIABLE.sub(sub, value).replace("$$", "$")


def real_settings() -> set[str]:
    return {env_name(field) for cls in all_settings_classes() for field in cls.model_fields}


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    return load(COMPOSE)


@pytest.fixture(scope="module")
def services(compose: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return compose["services"]


def long_running(services: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {name: s for name, s in services.items() if s.get("restart") != "no"}


# -- the Compose Specification ----------------------------------------------------------------------


def compose_schema() -> dict[str, Any]:
    text = (
        resources.files("check_jsonschema.builtin_schemas.vendor").joinpath("compose-spec.json").read_text()
    )
    schema = json.loads(text)
    assert schema["title"] == "Compose Specification"
    return schema


def _plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


@unit
@pytest.mark.parametrize("path", [COMPOSE, *OVERRIDES], ids=lambda p: p.name)
def test_compose_file_is_valid_against_the_compose_specification(path):
    validator = Draft202012Validator(compose_schema())
    errors = sorted(validator.iter_errors(_plain(load(path))), key=lambda e: list(e.absolute_path))
    assert not errors, "\n".join(f"{list(e.absolute_path)}: {e.message}" for e in errors)


@unit
def test_the_schema_check_catches_a_broken_file(compose):
    broken = _plain(compose)
    broken["services"]["ingest"]["depends_on"]["kafka"]["condition"] = "service_started_maybe"
    broken["services"]["index"]["healthcheck"]["interval"] = {"seconds": 10}
    assert len(list(Draft202012Validator(compose_schema()).iter_errors(broken))) >= 2


@unit
def test_every_override_merges_onto_services_of_the_base_file(services):
    for path in OVERRIDES:
        unknown = set(load(path).get("services", {})) - set(services)
        assert not unknown, f"{path.name} configures services the base file lacks: {unknown}"


# -- the project's rules ----------------------------------------------------------------------------


@unit
def test_the_stack_is_all_there(services):
    assert {"kafka", "elasticsearch", *JOBS, *SERVICES} <= set(services)
    assert services["kafka"]["image"].startswith("apache/kafka:")
    assert services["kafka"]["environment"]["KAFKA_PROCESS_ROLES"] == "broker,controller", (
        "KRaft, no ZooKeeper"
    )
    assert services["elasticsearch"]["image"].startswith("docker.elastic.co/elasticsearch/elasticsearch:9.")


@unit
def test_every_long_running_service_has_a_healthcheck(services):
    for name, service in long_running(services).items():
        check = service.get("healthcheck")
        assert check and not check.get("disable"), f"{name} has no healthcheck"
        assert check["test"][0] in ("CMD", "CMD-SHELL") and len(check["test"]) > 1, name
        assert service.get("restart") == "unless-stopped", f"{name} should come back after a crash"


@unit
@pytest.mark.parametrize("name", SERVICES)
def test_service_healthchecks_ask_the_service_on_its_own_port(services, name):
    test = " ".join(services[name]["healthcheck"]["test"])
    port = environment(services[name])[env_name(f"{name}_port")]
    assert port == str(DEFAULT_PORT[name])
    assert f"http://127.0.0.1:{port}/readyz" in test


@unit
def test_one_shot_jobs_never_restart(services):
    assert {name for name, s in services.items() if s.get("restart") == "no"} == JOBS
    for name in JOBS:
        assert services[name]["healthcheck"] == {"disable": True}, f"{name} exits: no healthcheck applies"


@unit
def test_depends_on_waits_for_health_or_for_a_job_to_finish(services):
    for name, service in services.items():
        for dep, spec in (service.get("depends_on") or {}).items():
            assert dep in services, f"{name} depends on unknown {dep}"
            wanted = "service_completed_successfully" if dep in JOBS else "service_healthy"
            assert "healthcheck" in services[dep], dep
            assert spec["condition"] == wanted, f"{name} -> {dep}"


@unit
def test_services_start_after_their_infrastructure_and_jobs(services):
    def deps(name: str) -> set[str]:
        return set(services[name].get("depends_on") or {})

    assert {"kafka", "elasticsearch"} <= deps("provision")
    assert {"kafka", "provision"} <= deps("ingest")
    assert {"kafka", "provision", "models"} <= deps("translate")
    assert {"kafka", "elasticsearch", "provision"} <= deps("index")


@unit
def test_every_image_is_pinned_to_an_exact_version(services):
    for name, service in services.items():
        image = service.get("image", "")
        assert EXACT_TAG.match(image), f"{name}: image {image!r} is not pinned to an exact version"
        assert not image.endswith(":latest")


@unit
@pytest.mark.parametrize("name", SERVICES)
def test_wirewatch_images_are_built_here_and_tagged_with_the_package_version(services, name):
    version = tomllib.loads((ROOT / "services" / name / "pyproject.toml").read_text())["project"]["version"]
    assert services[name]["image"] == f"wirewatch-{name}:{version}"
    assert services[name]["build"] == {
        "context": ".",
        "dockerfile": "deploy/docker/Dockerfile",
        "args": {"SERVICE": name},
    }
    assert (ROOT / services[name]["build"]["dockerfile"]).is_file()


@unit
def test_jobs_run_from_the_service_images_they_need(services):
    assert services["provision"]["image"] == services["index"]["image"], "it needs wirewatch_index's setup()"
    assert services["provision"]["command"][:3] == ["python", "-m", "wirewatch_stack.provision"]
    assert services["models"]["image"] == services["translate"]["image"]
    for job in JOBS:
        assert "build" not in services[job], f"{job} reuses a service's image; it must not build it again"
        assert services[job]["pull_policy"] == "never", f"{job}: its image exists only where it was built"


def builders_per_tag(services: dict[str, dict[str, Any]]) -> dict[str, list[str]]:
    """The services that build each image tag (a build without `image:` gets its own project tag)."""
    tags: dict[str, list[str]] = {}
    for name, service in services.items():
        if "build" in service:
            tags.setdefault(service.get("image") or f"wirewatch-{name}", []).append(name)
    return tags


def combinations() -> list[tuple[str, dict[str, Any]]]:
    """The base file alone, then merged with each override, as `docker compose -f ... -f ...` runs them."""
    base = load(COMPOSE)
    return [(COMPOSE.name, base)] + [(f"+{p.name}", merge(base, load(p))) for p in OVERRIDES]


@unit
@pytest.mark.parametrize("files", [name for name, _ in combinations()])
def test_each_image_tag_has_exactly_one_builder(files):
    # Compose 2.36+ builds through bake, which refuses two targets writing one tag (`image already exists`).
    merged = dict(combinations())[files]
    services = merged["services"]
    for tag, builders in builders_per_tag(services).items():
        assert len(builders) == 1, f"{files}: {tag} is built by {builders}; keep `build:` on one of them"
    built = builders_per_tag(services)
    for name, service in services.items():
        if "build" not in service and service.get("image") in built:
            assert service.get("pull_policy") == "never", (
                f"{files}: {name} runs the local image {service['image']}; a pull would fail"
            )


@unit
def test_the_one_builder_rule_catches_a_job_that_builds_again(services):
    twice = merge(services, {"provision": {"build": services["index"]["build"]}})
    assert builders_per_tag(twice)["wirewatch-index:0.1.0"] == ["provision", "index"]


@unit
def test_provision_applies_the_mounted_topic_contract(services):
    provision = services["provision"]
    command = provision["command"]
    contract = command[command.index("--contract") + 1]
    mounts = [v for v in provision["volumes"] if str(v).endswith(f":{contract}:ro")]
    assert len(mounts) == 1, f"{contract} is read by provision but not mounted read-only"
    source = mounts[0].split(":", 1)[0]
    assert source.startswith("./") and (ROOT / source).resolve() == ROOT / "deploy" / "kafka" / "topics.yaml"
    # The override for an existing cluster adds its certificates to the mounts, never in place of them.
    merged = merge(load(COMPOSE), load(ROOT / "deploy" / "compose.existing-cluster.yml"))
    assert mounts[0] in merged["services"]["provision"]["volumes"]
    assert merged["services"]["provision"]["command"] == command


@unit
def test_the_bundled_kafka_has_a_fixed_cluster_id(services):
    value = resolve(environment(services["kafka"])["CLUSTER_ID"])
    assert re.fullmatch(r"[A-Za-z0-9_-]{22}", value), f"CLUSTER_ID {value!r} is not a base64url UUID"
    assert len(base64.urlsafe_b64decode(value + "==")) == 16


# -- volumes, resolved as Compose resolves them -----------------------------------------------------


def env_example_values() -> dict[str, str]:
    """The non-empty values of compose.env.example, as an operator's copied .env would give them."""
    values = {}
    for line in (ROOT / "deploy" / "compose.env.example").read_text(encoding="utf-8").splitlines():
        if "=" in line and not line.startswith("#"):
            key, value = line.split("=", 1)
            if value:
                values[key] = value
    return values


def mount_source(entry: Any, given: dict[str, str]) -> tuple[str, str]:
    """('bind' | 'volume' | 'anonymous', source) for one entry of a service's `volumes`."""
    if isinstance(entry, dict):
        source = resolve(str(entry.get("source") or ""), given)
        kind = entry.get("type", "volume")
        if kind == "bind":
            return "bind", source
        return ("volume", source) if source else ("anonymous", "")
    parts = resolve(str(entry), given).split(":")
    if len(parts) == 1:
        return "anonymous", ""
    source = parts[0]
    # Compose's rule: only a source starting with `.`, `/` or `~` is a host path.
    return ("bind", source) if source.startswith((".", "/", "~")) else ("volume", source)


# A required variable (`:?`) has no default; an operator sets it to a folder of theirs.
REQUIRED_SAMPLES = {"ARGOS_PACKAGES_DIR": "/srv/argosmodels"}


def undeclared_volumes(project: dict[str, Any], given: dict[str, str]) -> list[str]:
    declared = set(project.get("volumes") or {})
    return [
        f"{name}: {entry!r} reads as the volume {source!r}, which is not declared"
        for name, service in project["services"].items()
        for entry in service.get("volumes") or []
        for kind, source in [mount_source(entry, given)]
        if kind == "volume" and source not in declared
    ]


@unit
@pytest.mark.parametrize("files", [name for name, _ in combinations()])
@pytest.mark.parametrize("values", ["defaults", "env-example"])
def test_every_volume_source_is_a_host_path_or_a_declared_volume(files, values):
    given = REQUIRED_SAMPLES | (env_example_values() if values == "env-example" else {})
    problems = undeclared_volumes(dict(combinations())[files], given)
    assert not problems, f"{files} with {values}:\n" + "\n".join(problems)


@unit
def test_the_volume_check_catches_a_bare_relative_host_path():
    project = {"services": {"ingest": {"volumes": ["deploy/certs:/etc/wirewatch/certs:ro"]}}, "volumes": {}}
    assert undeclared_volumes(project, {}), "deploy/certs is a volume name to Compose"
    project["services"]["ingest"]["volumes"] = ["${CERTS:-./deploy/certs}:/etc/wirewatch/certs:ro"]
    assert not undeclared_volumes(project, {})
    assert undeclared_volumes(project, {"CERTS": "deploy/certs"})


@unit
def test_translate_replicas_share_one_consumer_group_and_the_models_volume(services):
    translate = services["translate"]
    replicas = translate["deploy"]["replicas"]
    assert replicas >= 2
    assert replicas <= load_contract().stories.partitions, "replicas beyond the partition count sit idle"
    assert "container_name" not in translate and "ports" not in translate, "fixed names/ports block replicas"
    group = environment(translate).get("WIREWATCH_TRANSLATE_GROUP_ID", TranslateSettings().translate_group_id)
    assert "$" not in group, "one constant group for every replica"
    model_dir = environment(translate)["WIREWATCH_MODEL_DIR"]
    assert f"models:{model_dir}" in translate["volumes"]
    # The pending queue (DATA_DIR) is a named volume: an anonymous one is lost by `down` or a scale-down.
    data_dir = environment(translate)["WIREWATCH_DATA_DIR"]
    assert f"translate-data:{data_dir}" in translate["volumes"]
    assert "translate-data" in (load(COMPOSE).get("volumes") or {})
    assert f"models:{environment(services['models'])['WIREWATCH_MODEL_DIR']}" in services["models"]["volumes"]
    assert "models" in (load(COMPOSE).get("volumes") or {})


@unit
def test_every_wirewatch_variable_is_a_real_setting():
    known = real_settings()
    used: dict[str, set[str]] = {}
    for path in [COMPOSE, *OVERRIDES]:
        for name, service in (load(path).get("services") or {}).items():
            for key in environment(service):
                if key.startswith("WIREWATCH_"):
                    used.setdefault(key, set()).add(f"{path.name}:{name}")
    for path in ENV_EXAMPLES:
        for line in path.read_text(encoding="utf-8").splitlines():
            key = line.lstrip("# ").split("=", 1)[0]
            if key.startswith("WIREWATCH_") and "=" in line:
                used.setdefault(key, set()).add(path.name)
    assert used, "the files set no WIREWATCH_ variable at all?"
    unknown = {key: where for key, where in used.items() if key not in known}
    assert not unknown, f"not wirewatch settings (README, 'Settings'): {unknown}"


@unit
@pytest.mark.parametrize("name", sorted(SETTINGS_OF))
def test_each_service_environment_is_accepted_by_its_settings(services, name, monkeypatch):
    for key in list(os.environ):
        if key.startswith("WIREWATCH_"):
            monkeypatch.delenv(key)
    env = {k: resolve(v) for k, v in environment(services[name]).items() if k.startswith("WIREWATCH_")}
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    settings = SETTINGS_OF[name](_env_file=None)
    for key, value in env.items():
        field = key.removeprefix("WIREWATCH_").lower()
        shown = getattr(settings, field)
        shown = shown.get_secret_value() if hasattr(shown, "get_secret_value") else shown
        if isinstance(shown, tuple):
            shown = ",".join(map(str, shown))
        if isinstance(shown, bool):
            shown = str(shown).lower()
        assert str(shown) == value or value == "", f"{name}: {key}={value!r} read as {shown!r}"


@unit
def test_services_reach_the_bundled_clusters(services):
    for name in ("provision", *SERVICES):
        env = environment(services[name])
        assert env["WIREWATCH_KAFKA_BOOTSTRAP_SERVERS"] == "kafka:9092", name
    for name in ("provision", "index"):
        assert environment(services[name])["WIREWATCH_ELASTICSEARCH_URL"] == "http://elasticsearch:9200"
    advertised = services["kafka"]["environment"]["KAFKA_ADVERTISED_LISTENERS"]
    assert "PLAINTEXT://kafka:9092" in advertised
    assert services["kafka"]["environment"]["KAFKA_LOG_DIRS"] == "/var/lib/kafka/data"
    assert "kafka-data:/var/lib/kafka/data" in services["kafka"]["volumes"]


@unit
def test_elasticsearch_has_security_on_and_no_password_in_any_file(services):
    es = environment(services["elasticsearch"])
    assert es["xpack.security.enabled"] == "true"
    required = re.compile(r"^\$\{ELASTIC_PASSWORD:\?[^}]+\}$")
    assert required.match(es["ELASTIC_PASSWORD"]), "the password comes from .env, and is required"
    for name in ("provision", "index"):
        assert required.match(environment(services[name])["WIREWATCH_ELASTICSEARCH_PASSWORD"]), name
    assert "$${ELASTIC_PASSWORD}" in " ".join(services["elasticsearch"]["healthcheck"]["test"])
    for path in [COMPOSE, *OVERRIDES]:
        for name, service in (load(path).get("services") or {}).items():
            for key, value in environment(service).items():
                if re.search(r"PASSWORD|API_KEY|SECRET|API_KEYS", key):
                    assert value == "" or value.startswith("${"), (
                        f"{path.name}:{name} writes {key} in the file"
                    )


@unit
def test_published_ports_stay_on_loopback():
    for path in [COMPOSE, *OVERRIDES]:
        for name, service in (load(path).get("services") or {}).items():
            for port in service.get("ports") or []:
                assert str(port).startswith("127.0.0.1:"), (
                    f"{path.name}:{name} publishes {port} on every address"
                )


@unit
def test_interpolated_variables_are_documented_in_the_env_example():
    documented = {
        line.split("=", 1)[0]
        for line in (ROOT / "deploy" / "compose.env.example").read_text(encoding="utf-8").splitlines()
        if "=" in line and not line.startswith("#")
    }
    for path in [COMPOSE, *OVERRIDES]:
        for name in VARIABLE.findall(path.read_text(encoding="utf-8")):
            assert name[0] in documented, (
                f"{path.name} reads ${{{name[0]}}}: document it in compose.env.example"
            )


@unit
def test_existing_cluster_override_leaves_the_bundled_clusters_out():
    merged = merge(load(COMPOSE), load(ROOT / "deploy" / "compose.existing-cluster.yml"))
    services = merged["services"]
    for bundled in ("kafka", "elasticsearch"):
        assert services[bundled]["profiles"] == ["bundled"], f"{bundled} must not start by default"
    for name in ("provision", *SERVICES):
        service = services[name]
        assert not {"kafka", "elasticsearch"} & set(service.get("depends_on") or {}), name
        env = environment(service)
        assert not any(k.startswith(("WIREWATCH_KAFKA_", "WIREWATCH_ELASTICSEARCH_")) for k in env), (
            f"{name}: the cluster's settings come from the env file, never from the bundled defaults"
        )
        assert service["env_file"][0]["required"] is True
        assert any(str(v).endswith(":/etc/wirewatch/certs:ro") for v in service["volumes"]), name
    assert services["translate"]["depends_on"]["models"]["condition"] == "service_completed_successfully"
    assert services["translate"]["deploy"]["replicas"] >= 2


@unit
def test_offline_models_override_installs_from_a_mounted_folder():
    models = merge(load(COMPOSE), load(ROOT / "deploy" / "compose.models-offline.yml"))["services"]["models"]
    env = environment(models)
    assert env["MODELS_SOURCE"] == "path"
    assert any(v.endswith(f":{env['MODELS_IMPORT_DIR']}:ro") for v in models["volumes"])
    assert any(v.startswith("${ARGOS_PACKAGES_DIR:?") for v in models["volumes"])


# -- the one Dockerfile -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Stage:
    """One `FROM` of the Dockerfile: its base (unexpanded), its `AS` name, and the instructions after it."""

    base: str
    name: str | None
    body: list[tuple[str, str]]


def dockerfile() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs, continuation lines joined, comments dropped."""
    text = DOCKERFILE.read_text(encoding="utf-8")
    lines = [line for line in text.splitlines() if not line.lstrip().startswith("#")]
    joined = "\n".join(lines).replace("\\\n", " ")
    out = []
    for line in joined.splitlines():
        if line.strip():
            instruction, _, args = line.strip().partition(" ")
            out.append((instruction.upper(), " ".join(args.split())))
    return out


def stages() -> list[Stage]:
    result: list[Stage] = []
    for instruction, args in dockerfile():
        if instruction == "FROM":
            words = [w for w in args.split() if not w.startswith("--platform")]
            name = words[2] if len(words) == 3 and words[1].upper() == "AS" else None
            result.append(Stage(words[0], name, []))
        elif result:
            result[-1].body.append((instruction, args))
    return result


def global_args() -> dict[str, str | None]:
    """The ARGs declared before the first FROM (usable in FROM lines only), with their defaults."""
    found: dict[str, str | None] = {}
    for instruction, args in dockerfile():
        if instruction == "FROM":
            break
        if instruction == "ARG":
            name, has_default, default = args.partition("=")
            found[name] = default if has_default else None
    return found


def expand(text: str, values: dict[str, str]) -> str:
    """Docker's substitution of `${NAME}`, `${NAME:-default}` and `$NAME`, for the names in `values` only."""
    pattern = re.compile(r"\$\{(\w+)(?::-([^}]*))?\}|\$(\w+)")

    def sub(m: re.Match[str]) -> str:
        name, default = m.group(1) or m.group(3), m.group(2)
        if name not in values:
            return m.group(0)
        return values[name] or (default or "") if default is not None else values[name]

    return pattern.sub(sub, text)


def build_args(service: str) -> dict[str, str]:
    """What `docker compose build` gives the Dockerfile for a service: its SERVICE, the other defaults."""
    return {k: v for k, v in global_args().items() if v is not None} | {"SERVICE": service}


def scoped(stage: Stage, given: dict[str, str]) -> list[tuple[str, str]]:
    """A stage's instructions with build arguments expanded where Docker would: only after the stage's `ARG`."""
    visible: dict[str, str] = {}
    out = []
    for instruction, args in stage.body:
        if instruction == "ARG":
            name, _, default = args.partition("=")
            visible[name] = given.get(name, default)
        out.append((instruction, args if instruction == "RUN" else expand(args, visible)))
    return out


def image(service: str) -> list[Stage]:
    """The stages a service's image is made of, base first: the last stage and the stages it is FROM."""
    given = build_args(service)
    named = {s.name: s for s in stages() if s.name}
    chain = [stages()[-1]]
    while (base := expand(chain[0].base, given)) in named:
        chain.insert(0, named[base])
    return chain


def image_instructions(service: str) -> list[tuple[str, str]]:
    """Every instruction that makes the service's image (not its build stage), in order."""
    return [pair for stage in image(service) for pair in scoped(stage, build_args(service))]


def build_stage(service: str) -> list[tuple[str, str]]:
    """The instructions of the stage the image copies its virtual environment from."""
    sources = {
        m.group(1)
        for ins, args in image_instructions(service)
        if ins == "COPY" and (m := re.search(r"--from=(\S+)", args))
    }
    assert len(sources) == 1, f"{service}: copies from {sources}"
    (stage,) = [s for s in stages() if s.name in sources]
    return scoped(stage, build_args(service))


def uv_version() -> str:
    match = re.search(r"^UV_VERSION := (\S+)$", (ROOT / "Makefile").read_text(), re.M)
    assert match
    return match.group(1)


def shell_part(run_args: str) -> str:
    """A RUN line's command without its `--mount=…` options."""
    return re.sub(r"^(--\S+\s+)*", "", run_args)


def run_build_steps(
    service: str, work: Path, uv: Path | None = None, venv: Path | None = None
) -> list[list[str]]:
    """Replay the build stage here, in order, as `sh` runs RUN lines in the image (SERVICE in the environment).

    Without `uv`, only the steps that need neither uv nor the build context run, and each `uv sync`
    line is returned with its shell words expanded (so `$(…)` shows what it would pass to uv). With
    `uv` (and the `venv` to install into), COPY lines copy from the repository (symlinks kept) and
    every `uv sync` runs for real; the uv install itself is always skipped.
    """
    env = {"PATH": os.environ.get("PATH", ""), "HOME": str(work), "SERVICE": service}
    if uv is not None:
        assert venv is not None
        env = {k: v for k, v in os.environ.items() if not k.startswith(("UV_", "VIRTUAL_ENV"))} | {
            "SERVICE": service,
            "PATH": f"{uv.parent}:{os.environ.get('PATH', '')}",
            "UV_PROJECT_ENVIRONMENT": str(venv),
            "UV_PYTHON_DOWNLOADS": "never",
            "UV_PYTHON": sys.executable,
        }
    work.mkdir(parents=True, exist_ok=True)
    syncs = []
    for ins, args in build_stage(service):
        if ins == "COPY" and uv is not None:
            *sources, dest = [a for a in args.split() if not a.startswith("--")]
            for source in sources:
                src = ROOT / source
                target = work / dest / src.name if dest.endswith("/") else work / dest
                target.parent.mkdir(parents=True, exist_ok=True)
                if src.is_dir():
                    shutil.copytree(src, target, symlinks=True, ignore=shutil.ignore_patterns("__pycache__"))
                else:
                    shutil.copy2(src, target, follow_symlinks=False)
        if ins != "RUN" or "pip install" in args:
            continue
        command = shell_part(args)
        if command.startswith("uv sync"):
            code, output = run_command(["sh", "-c", f"echo {command}"], env, work, timeout=30)
            assert code == 0, output
            syncs.append(output.split())
            if uv is None:
                continue
        code, output = run_command(["sh", "-c", command], env, work, timeout=300)
        assert code == 0, f"{service}: RUN {command}\n{output}"
    return syncs


def services_built(project: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {name: s for name, s in project["services"].items() if "build" in s}


@unit
@pytest.mark.parametrize("files", [name for name, _ in combinations()])
def test_every_image_is_built_from_the_one_dockerfile_with_its_service(files):
    built = services_built(dict(combinations())[files])
    assert set(built) == set(SERVICES), f"{files}: built {sorted(built)}"
    for name, service in built.items():
        build = service["build"]
        assert (build["context"], build["dockerfile"]) == (".", DOCKERFILE.relative_to(ROOT).as_posix())
        assert build["args"] == {"SERVICE": name}, f"{files}: {name} builds with {build['args']}"
        assert service["image"].startswith(f"wirewatch-{build['args']['SERVICE']}:")
    assert not list(ROOT.glob("services/*/Dockerfile")), "one Dockerfile for every service"


@unit
def test_the_dockerfile_has_a_stage_for_each_service_compose_builds_and_no_other(tmp_path):
    passed = {
        service["build"]["args"]["SERVICE"]
        for _, project in combinations()
        for service in services_built(project).values()
    }
    assert passed == set(SERVICES)
    assert global_args()["SERVICE"] is None, "no default: a build must say which service it makes"
    assert stages()[-1].base == "service-${SERVICE:-missing}", "the image is the chosen service's stage"
    per_service = {
        s.name.removeprefix("service-") for s in stages() if s.name and s.name.startswith("service-")
    }
    assert per_service == passed | {"missing"}
    for name in passed:
        assert [s.name for s in image(name)] == ["runtime", f"service-{name}", None]
        syncs = run_build_steps(name, tmp_path)
        assert len(syncs) == 2 and all(f"wirewatch-{name}" in sync for sync in syncs), syncs


@unit
@pytest.mark.parametrize("value", ["", "stack", "Index", "ingest translate"])
def test_the_build_stops_plainly_on_a_service_the_dockerfile_does_not_know(value, tmp_path):
    with pytest.raises(AssertionError, match=r"SERVICE=ingest, translate, index or alerts \(got '"):
        run_build_steps(value, tmp_path)


@unit
def test_a_build_without_a_service_ends_in_a_stage_that_says_so(tmp_path):
    # `FROM service-${SERVICE:-missing}`: a valid name without the argument (so BuildKit's
    # InvalidDefaultArgInFrom check stays quiet), and a stage of ours, so nothing is pulled by it.
    stage_names = [s.name for s in image("")]
    assert stage_names == ["runtime", "service-missing", None]
    (run,) = [args for ins, args in scoped(image("")[1], build_args("")) if ins == "RUN"]
    code, output = run_command(["sh", "-c", run], {"PATH": os.environ.get("PATH", "")}, tmp_path)
    assert code == 2 and "build with --build-arg SERVICE=ingest, translate, index or alerts" in output


@unit
@pytest.mark.parametrize("name", SERVICES)
def test_dockerfile_base_and_uv_are_pinned(name):
    for base in (image(name)[0].base, next(s.base for s in stages() if s.name == "build")):
        base = expand(base, build_args(name))
        assert EXACT_TAG.match(base) and "@sha256:" in base, f"{name}: FROM {base} is not pinned"
        assert "-slim-" in base
    runs = " ".join(args for ins, args in build_stage(name) if ins == "RUN")
    assert f"uv=={uv_version()}" in runs, "the same uv as the Makefile"


@unit
@pytest.mark.parametrize("name", SERVICES)
def test_dockerfile_installs_locked_dependencies_before_the_code(name, tmp_path):
    build = build_stage(name)
    syncs = [i for i, (ins, args) in enumerate(build) if ins == "RUN" and "uv sync" in args]
    assert len(syncs) == 2
    first, second = run_build_steps(name, tmp_path)
    for words in (first, second):
        assert "--frozen" in words and "--no-dev" in words
        packages = {words[i + 1] for i, w in enumerate(words) if w == "--package"}
        assert packages == (
            {"wirewatch-index", "wirewatch-stack"} if name == "index" else {f"wirewatch-{name}"}
        )
    assert "--no-install-workspace" in first
    assert "--no-editable" in second, "the runtime stage copies the environment only"
    code = next(i for i, (ins, args) in enumerate(build) if ins == "COPY" and f"services/{name}/src" in args)
    assert syncs[0] < code < syncs[1]
    sources_before = [s for ins, args in build[: syncs[0]] if ins == "COPY" for s in args.split()[:-1]]
    assert "uv.lock" in sources_before
    assert not [s for s in sources_before if "/src" in s], "no code in the dependency layer"
    # Up to `ARG SERVICE` the layers are the same for every image, so they are built once for all three.
    shared = build[: build.index(("ARG", "SERVICE"))]
    assert {"uv.lock", *(f"services/{s}/pyproject.toml" for s in SERVICES)} <= {
        source for ins, args in shared if ins == "COPY" for source in args.split()[:-1]
    }


@unit
@pytest.mark.parametrize("name", SERVICES)
def test_dockerfile_runs_as_a_fixed_non_root_user_with_a_healthcheck(name):
    final = image_instructions(name)
    users = [args for ins, args in final if ins == "USER"]
    assert users, f"{name}: no USER"
    uid = users[-1].split(":")[0]
    assert uid.isdigit() and int(uid) >= 1000, f"{name}: USER {users[-1]} must be a fixed non-root uid"
    assert final[-1][0] == "USER", "nothing runs as root after it"
    port = DEFAULT_PORT[name]
    assert [args for ins, args in final if ins == "EXPOSE"] == [str(port)], "its own port only"
    env = " ".join(args for ins, args in final if ins == "ENV")
    assert "WIREWATCH_HOST=0.0.0.0" in env and f"{env_name(name + '_port')}={port}" in env
    for other in set(SERVICES) - {name}:
        assert env_name(other + "_port") not in env, f"{name}'s image sets {other}'s port"
    (health,) = [args for ins, args in final if ins == "HEALTHCHECK"]
    assert "/healthz" in health and f"'{port}'" in health and "curl" not in health
    assert env_name(name + "_port") in health
    (cmd,) = [args for ins, args in final if ins == "CMD"]
    assert json.loads(cmd) == ["python", "-m", f"wirewatch_{name}"]
    own = SETTINGS_OF[name] if f"{name}_port" not in Settings.model_fields else Settings
    assert own.model_fields[f"{name}_port"].default == port
    volume = next(i for i, (ins, _) in enumerate(final) if ins == "VOLUME")
    assert not [ins for ins, _ in final[volume:] if ins == "RUN"], (
        "nothing written into DATA_DIR after VOLUME"
    )


def dockerignore_includes(path: str) -> bool:
    """Whether the build context keeps `path`, by .dockerignore's last-match-wins rules."""
    keep = True
    parts = path.split("/")
    candidates = ["/".join(parts[: i + 1]) for i in range(len(parts))]
    for raw in (ROOT / ".dockerignore").read_text().splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        negate = line.startswith("!")
        pattern = line.lstrip("!").rstrip("/")
        if any(fnmatch(c, pattern) or fnmatch(c, pattern.removeprefix("**/")) for c in candidates):
            keep = negate
    return keep


def copies(name: str) -> Iterator[tuple[str, str]]:
    """(source, destination) of every COPY from the build context, in the build stage and the image."""
    for ins, args in [*build_stage(name), *image_instructions(name)]:
        if ins == "COPY" and "--from=" not in args:
            *sources, dest = [a for a in args.split() if not a.startswith("--")]
            for source in sources:
                assert "$" not in source, f"{name}: {source} is not expanded where Docker would expand it"
                yield source, dest


@unit
@pytest.mark.parametrize("name", SERVICES)
def test_dockerfile_copies_only_files_the_build_context_keeps(name):
    for source, _ in copies(name):
        assert (ROOT / source).exists(), source
        assert dockerignore_includes(source), f"{source} is excluded by .dockerignore"
    for secret in (".env", ".venv/bin/python", "var/ingest/ledger.sqlite3", ".git/config", "samples/x.xml"):
        assert not dockerignore_includes(secret), f"{secret} would reach the build context"
    other_code = {f"services/{other}/src" for other in set(SERVICES) - {name}}
    assert not other_code & {source for source, _ in copies(name)}, f"{name} copies another service's code"


@unit
def test_models_job_command_is_installed_in_the_translate_image_only(services):
    assert services["models"]["command"] == ["wirewatch-install-models"]
    script = ("deploy/docker/install-models.sh", "/usr/local/bin/wirewatch-install-models")
    assert script in set(copies("translate"))
    assert script not in set(copies("ingest")) | set(copies("index"))


# -- things that run: the models job script and the images' build stage --------------------------------


@pytest.mark.integration
@pytest.mark.slow
def test_models_job_installs_offline_then_finds_the_packages_present(tmp_path):
    script = ROOT / "deploy" / "docker" / "install-models.sh"
    bin_dir = str(Path(sys.executable).parent)
    base = {k: v for k, v in os.environ.items() if not k.startswith(("WIREWATCH_", "MODELS_"))}
    env = base | {
        "PATH": f"{bin_dir}:{base.get('PATH', '')}",
        "WIREWATCH_MODEL_DIR": str(tmp_path / "models"),
    }
    code, output = run_command(
        [f"{bin_dir}/wirewatch-translate", "test-packages", str(tmp_path / "import")], env, tmp_path
    )
    assert code == 0, output

    code, output = run_command(
        ["sh", str(script)], env | {"MODELS_SOURCE": "path", "MODELS_IMPORT_DIR": "/nowhere"}, tmp_path
    )
    assert code == 2 and "no .argosmodel file in /nowhere" in output

    code, output = run_command(
        ["sh", str(script)],
        env | {"MODELS_SOURCE": "path", "MODELS_IMPORT_DIR": str(tmp_path / "import")},
        tmp_path,
    )
    assert code == 0, output
    assert {p.name for p in (tmp_path / "models").iterdir() if not p.name.startswith(".")} == {
        "translate-en_ar-test",
        "translate-ar_en-test",
        "translate-en_tr-test",
        "translate-tr_en-test",
    }

    # The default source is the Argos index. Test packages are no translation: the job goes for the
    # real ones (here the index cannot be reached, so it fails saying so).
    env_offline = env | {"WIREWATCH_TRANSLATE_PACKAGE_INDEX": "http://127.0.0.1:9/unreachable/"}
    code, output = run_command(["sh", str(script)], env_offline, tmp_path)
    assert code != 0 and "missing: en→ar ar→en en→tr tr→en" in output, output
    # With a real package active for every pair it must not touch the network.
    for folder in (tmp_path / "models").glob("translate-*"):
        meta_file = folder / "metadata.json"
        meta = json.loads(meta_file.read_text(encoding="utf-8"))
        meta.pop("wirewatch_test", None)
        meta["description"] = "a real package, as the Argos index ships it"
        meta_file.write_text(json.dumps(meta), encoding="utf-8")
    code, output = run_command(["sh", str(script)], env_offline, tmp_path)
    assert code == 0 and "installed already" in output, output

    code, output = run_command(["sh", str(script)], env | {"MODELS_SOURCE": "skip"}, tmp_path)
    assert code == 0 and "skipped" in output
    code, output = run_command(["sh", str(script)], env | {"MODELS_SOURCE": "sometimes"}, tmp_path)
    assert code == 2 and "use index, path or skip" in output


def pinned_uv() -> Path:
    """The uv the Makefile pins: .tools/bin/uv, or one on PATH of that version; else the test is skipped."""
    candidates = [ROOT / ".tools" / "bin" / "uv"]
    if found := shutil.which("uv"):
        candidates.append(Path(found))
    for uv in candidates:
        if uv.exists():
            code, output = run_command([str(uv), "--version"], dict(os.environ), ROOT, timeout=30)
            if code == 0 and output.split()[1] == uv_version():
                return uv
    pytest.skip(f"uv {uv_version()} is neither in .tools/ (run `make` first) nor on PATH")


@pytest.mark.integration
@pytest.mark.slow
@pytest.mark.parametrize("name", SERVICES)
def test_image_build_stage_installs_what_the_service_needs_and_nothing_else(name, tmp_path):
    venv = tmp_path / "venv"
    run_build_steps(name, tmp_path / "src", pinned_uv(), venv)
    python = str(venv / "bin" / "python")
    probe = (
        "import importlib.util, json; "
        "print(json.dumps({m: importlib.util.find_spec(m) is not None for m in "
        "['wirewatch_common', 'wirewatch_ingest', 'wirewatch_translate', 'wirewatch_index', 'wirewatch_alerts', "
        "'wirewatch_stack', 'wirewatch_testkit', 'tantivy', 'ctranslate2', 'feedparser', 'pytest']}))"
    )
    code, output = run_command([python, "-c", probe], {"PATH": os.environ.get("PATH", "")}, tmp_path)
    assert code == 0, output
    found = json.loads(output.strip().splitlines()[-1])
    wanted = {
        "ingest": {"wirewatch_common", "wirewatch_ingest", "feedparser"},
        "translate": {"wirewatch_common", "wirewatch_translate", "ctranslate2"},
        "index": {"wirewatch_common", "wirewatch_index", "wirewatch_stack", "tantivy"},
        "alerts": {"wirewatch_common", "wirewatch_alerts", "tantivy"},
    }[name]
    assert {m for m, present in found.items() if present} == wanted
    # Installed, not editable: the code and the topic contract live in the environment itself.
    code, output = run_command(
        [
            python,
            "-c",
            f"import wirewatch_{name}.__main__; from wirewatch_common.topics import load_contract; "
            "import wirewatch_common; print(wirewatch_common.__file__, load_contract().stories.name)",
        ],
        {"PATH": os.environ.get("PATH", "")},
        tmp_path,
    )
    assert code == 0, output
    assert str(venv) in output and "wirewatch.stories" in output
