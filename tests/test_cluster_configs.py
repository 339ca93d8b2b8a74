"""The cluster configs in deploy/ parse and hold what linker's Ray backend needs.

deploy/ray/cluster.yaml (``ray up``) is checked against the schema of the installed Ray's
autoscaler; both it and deploy/kuberay/raycluster.yaml (a KubeRay ``RayCluster``) must install
this version of ``linker[ray]`` on every node, run the Ray version and a Python that the package
pins and allows, start a head and a worker group, and give each node as many Ray CPUs as its
machine or container has.
"""

from __future__ import annotations

import json
import re
import shlex
import tomllib
from pathlib import Path
from typing import Any

import pytest

yaml = pytest.importorskip("yaml", reason="pyyaml comes with the ray extra (make install)")

ROOT = Path(__file__).resolve().parents[1]
RAY_UP = ROOT / "deploy" / "ray" / "cluster.yaml"
KUBERAY = ROOT / "deploy" / "kuberay" / "raycluster.yaml"
# vCPUs of the instance types the config may name (AWS's published sizes)
INSTANCE_VCPUS = {"m7i.xlarge": 4, "m7i.2xlarge": 8, "m7i.4xlarge": 16, "m7i.8xlarge": 32}


def _project() -> dict[str, Any]:
    project: dict[str, Any] = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    return project


def _install_spec() -> str:
    """What every node must install: this version of the package with its ray extra."""
    return f"linker[ray]=={_project()['version']}"


def _pinned_ray() -> str:
    (spec,) = _project()["optional-dependencies"]["ray"]
    match = re.fullmatch(r"ray\[data\]==([\d.]+)", spec)
    assert match, f"the ray extra should pin one Ray version, not {spec!r}"
    return match.group(1)


def _check_image(image: str) -> None:
    """A Ray image of the pinned version, for a Python that linker allows."""
    match = re.fullmatch(r"rayproject/ray:([\d.]+)-py3(\d+)-cpu", image)
    assert match, f"{image}: use rayproject/ray:<version>-py3<minor>-cpu"
    assert match.group(1) == _pinned_ray(), f"{image}: linker[ray] pins Ray {_pinned_ray()}"
    least = re.fullmatch(r">=3\.(\d+)", _project()["requires-python"])
    assert least and int(match.group(2)) >= int(least.group(1)), f"{image}: Python too old"


def _installs_linker(commands: list[str]) -> bool:
    return any(
        argv[:2] == ["pip", "install"] and _install_spec() in argv
        for command in commands
        for part in command.split("&&")
        if (argv := shlex.split(part))
    )


def _ray_start(commands: list[str]) -> list[str]:
    """The arguments of the one ``ray start`` among shell ``commands``."""
    starts = [
        argv[2:]
        for command in commands
        for part in re.split(r"&&|;", command)
        if (argv := shlex.split(part))[:2] == ["ray", "start"]
    ]
    assert len(starts) == 1, commands
    return starts[0]


def _flag(args: list[str], name: str) -> str | None:
    """The value of ``--name=value`` or ``--name value``; ``""`` for a bare flag."""
    for i, arg in enumerate(args):
        if arg == f"--{name}":
            nxt = args[i + 1] if i + 1 < len(args) else ""
            return "" if nxt.startswith("--") else nxt
        if arg.startswith(f"--{name}="):
            return arg.split("=", 1)[1]
    return None


# -- ray up -------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def ray_up() -> dict[str, Any]:
    config: dict[str, Any] = yaml.safe_load(RAY_UP.read_text())
    return config


def test_ray_up_config_matches_rays_schema(ray_up: dict[str, Any]) -> None:
    autoscaler = pytest.importorskip("ray.autoscaler", reason="needs the ray extra")
    jsonschema = pytest.importorskip("jsonschema", reason="comes with Ray")
    schema = json.loads((Path(autoscaler.__file__).parent / "ray-schema.json").read_text())
    jsonschema.validate(ray_up, schema)


def test_ray_up_installs_linker_on_every_node(ray_up: dict[str, Any]) -> None:
    assert _installs_linker(ray_up["setup_commands"]), "setup_commands must pip install it"
    _check_image(ray_up["docker"]["image"])  # one image: one Python and Ray everywhere
    assert not ray_up.get("file_mounts"), "nothing is copied from the launching machine"


def test_ray_up_head_and_workers(ray_up: dict[str, Any]) -> None:
    types = ray_up["available_node_types"]
    head = types[ray_up["head_node_type"]]
    workers = {name: t for name, t in types.items() if name != ray_up["head_node_type"]}
    assert workers, "a worker node type"
    head_args = _ray_start(ray_up["head_start_ray_commands"])
    assert _flag(head_args, "head") == "" and _flag(head_args, "port")
    assert _flag(head_args, "autoscaling-config"), "the head runs the autoscaler"
    assert float(_flag(head_args, "num-cpus") or "nan") == head["resources"]["CPU"]

    worker_args = _ray_start(ray_up["worker_start_ray_commands"])
    assert _flag(worker_args, "address") == f"$RAY_HEAD_IP:{_flag(head_args, 'port')}"
    for name, node in workers.items():
        cpus = INSTANCE_VCPUS[node["node_config"]["InstanceType"]]
        assert node["resources"]["CPU"] == cpus, f"{name}: one Ray CPU per vCPU"
        assert float(_flag(worker_args, "num-cpus") or cpus) == cpus, name
        assert 0 < node["max_workers"] <= ray_up["max_workers"], name
        assert node.get("min_workers", 0) <= node["max_workers"], name


# -- KubeRay ------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def kuberay() -> dict[str, Any]:
    config: dict[str, Any] = yaml.safe_load(KUBERAY.read_text())
    return config


def _groups(kuberay: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    spec = kuberay["spec"]
    return [("head", spec["headGroupSpec"])] + [
        (group["groupName"], group) for group in spec["workerGroupSpecs"]
    ]


def test_kuberay_is_a_raycluster_of_the_pinned_ray(kuberay: dict[str, Any]) -> None:
    assert kuberay["apiVersion"] == "ray.io/v1" and kuberay["kind"] == "RayCluster"
    assert kuberay["spec"]["rayVersion"] == _pinned_ray()
    assert len(kuberay["spec"]["workerGroupSpecs"]) >= 1, "a worker group"


def test_kuberay_installs_linker_then_starts_ray(kuberay: dict[str, Any]) -> None:
    overwrite = kuberay["metadata"].get("annotations", {}).get("ray.io/overwrite-container-cmd")
    for name, group in _groups(kuberay):
        (container,) = group["template"]["spec"]["containers"]
        _check_image(container["image"])
        # without the annotation KubeRay would replace these commands with its own
        assert overwrite == "true", "ray.io/overwrite-container-cmd must be the string 'true'"
        (script,) = container["args"]
        assert _installs_linker([script]), f"{name}: pip install {_install_spec()}"
        assert script.rstrip().endswith("$KUBERAY_GEN_RAY_START_CMD"), f"{name}: start Ray last"
        # KubeRay's rayStartParams is a map of strings
        assert all(isinstance(v, str) for v in group["rayStartParams"].values()), name


def test_kuberay_cpu_counts_are_consistent(kuberay: dict[str, Any]) -> None:
    for name, group in _groups(kuberay):
        (container,) = group["template"]["spec"]["containers"]
        resources = container["resources"]
        assert resources["requests"] == resources["limits"], f"{name}: a guaranteed pod"
        cpus = group["rayStartParams"].get("num-cpus", resources["limits"]["cpu"])
        if name == "head":
            assert cpus == "0", "the head's CPUs are the driver's, not Ray tasks'"
        else:
            assert cpus == resources["limits"]["cpu"], f"{name}: one Ray CPU per CPU"
            assert group["minReplicas"] <= group["replicas"] <= group["maxReplicas"], name
            assert group["maxReplicas"] >= 1, name
    head = kuberay["spec"]["headGroupSpec"]["template"]["spec"]["containers"][0]
    assert {p["containerPort"] for p in head["ports"]} >= {6379}, "the GCS port the driver uses"
