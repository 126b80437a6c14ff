"""Tests for the CI pipelines: they parse, name what exists and cover both stacks."""

from __future__ import annotations

import re
import shlex
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]
PIPELINES = {
    "gitlab": REPO / ".gitlab-ci.yml",
    "github": REPO / ".github" / "workflows" / "pulumi.yml",
}
STACKS = {"dev", "prod"}
SECRETS = (
    "PULUMI_BACKEND_URL",
    "PULUMI_CONFIG_PASSPHRASE",
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "KUBECONFIG",
)
_GITLAB_KEYWORDS = frozenset(
    {
        "after_script",
        "before_script",
        "cache",
        "default",
        "image",
        "include",
        "services",
        "stages",
        "variables",
        "workflow",
    }
)
_REDIRECTIONS = frozenset({">", ">>", "<"})
_SHELL_OPERATORS = frozenset({"|", "||", "&&", ";", "&"}) | _REDIRECTIONS
_MATRIX_REFERENCE = re.compile(r"\$\{\{\s*matrix\.(\w+)\s*\}\}")
_MAKE_TARGET = re.compile(r"^([A-Za-z0-9_./-]+(?:[ \t]+[A-Za-z0-9_./-]+)*)[ \t]*:(?!=)")

Command = list[str]


def load(pipeline: str) -> dict[Any, Any]:
    """Return a pipeline file's parsed YAML."""
    document = yaml.safe_load(PIPELINES[pipeline].read_text())
    assert isinstance(document, dict)
    return document


def _flatten(lines: Any) -> Iterator[str]:
    # GitLab flattens nested script lists, which is how YAML anchors splice in.
    if isinstance(lines, str):
        yield lines
    elif isinstance(lines, list):
        for line in lines:
            yield from _flatten(line)


def _resolve(jobs: dict[str, Any], name: str) -> dict[str, Any]:
    job = dict(jobs[name])
    parents = job.pop("extends", [])
    resolved: dict[str, Any] = {}
    for parent in [parents] if isinstance(parents, str) else parents:
        resolved.update(_resolve(jobs, parent))
    resolved.update(job)
    return resolved


def gitlab_scripts() -> dict[str, list[str]]:
    """Return each GitLab job's shell lines, with templates and defaults applied."""
    document = load("gitlab")
    default_before = (document.get("default") or {}).get("before_script", [])
    jobs = {
        name: value
        for name, value in document.items()
        if name not in _GITLAB_KEYWORDS and isinstance(value, dict)
    }
    scripts = {}
    for name in jobs:
        if name.startswith("."):
            continue
        job = _resolve(jobs, name)
        lines = [
            *_flatten(job.get("before_script", default_before)),
            *_flatten(job.get("script")),
            *_flatten(job.get("after_script")),
        ]
        scripts[name] = lines
    return scripts


def github_scripts() -> dict[str, list[str]]:
    """Return each GitHub job's shell lines, one per matrix value they name."""
    scripts = {}
    for name, job in load("github")["jobs"].items():
        matrix = (job.get("strategy") or {}).get("matrix") or {}
        lines = []
        for step in job.get("steps", []):
            for line in str(step.get("run", "")).splitlines():
                lines.extend(_expand_matrix(line.strip(), matrix))
        scripts[name] = [line for line in lines if line and not line.startswith("#")]
    return scripts


def _expand_matrix(line: str, matrix: dict[str, list[Any]]) -> list[str]:
    match = _MATRIX_REFERENCE.search(line)
    if match is None:
        return [line]
    values = matrix[match[1]]
    return [
        expanded
        for value in values
        for expanded in _expand_matrix(
            line[: match.start()] + str(value) + line[match.end() :], matrix
        )
    ]


SCRIPTS = {"gitlab": gitlab_scripts, "github": github_scripts}


def commands(pipeline: str) -> Iterator[tuple[str, Command]]:
    """Yield (job, command words) for every simple command of every job."""
    for job, lines in SCRIPTS[pipeline]().items():
        for line in lines:
            lexer = shlex.shlex(line, posix=True, punctuation_chars=True)
            lexer.whitespace_split = True
            command: Command = []
            redirected = False
            for word in lexer:
                if word in _SHELL_OPERATORS:
                    if command:
                        yield job, command
                    command = []
                    redirected = word in _REDIRECTIONS
                elif redirected:
                    # The word after > or < is a file, and the command goes on.
                    redirected = False
                else:
                    command.append(word)
            if command:
                yield job, command


def option_values(command: Command, option: str) -> list[str]:
    """Return the values given to an option (`--stack dev` or `--stack=dev`)."""
    values = []
    for index, word in enumerate(command):
        if word == option and index + 1 < len(command):
            values.append(command[index + 1])
        elif word.startswith(f"{option}="):
            values.append(word.split("=", 1)[1])
    return values


def pulumi_stacks(pipeline: str, operation: str) -> set[str]:
    """Return the stacks that a pipeline runs `pulumi <operation>` on."""
    return {
        stack
        for _, command in commands(pipeline)
        if command[:2] == ["pulumi", operation]
        for stack in option_values(command, "--stack")
    }


def _repo_module_exists(name: str) -> bool:
    # Only modules of this repository's packages are ours to check: `python -m
    # venv` is the standard library's.
    parts = name.split(".")
    path = REPO.joinpath(*parts)
    if not (REPO / parts[0]).is_dir():
        return True
    return path.with_suffix(".py").is_file() or (path / "__main__.py").is_file()


def make_targets() -> set[str]:
    """Return the targets the Makefile defines."""
    targets: set[str] = set()
    for line in (REPO / "Makefile").read_text().splitlines():
        match = _MAKE_TARGET.match(line)
        if match:
            targets.update(match[1].split())
    return targets


@pytest.mark.parametrize("pipeline", PIPELINES)
def test_pipeline_is_yaml_with_jobs(pipeline: str) -> None:
    assert SCRIPTS[pipeline]()


@pytest.mark.parametrize("pipeline", PIPELINES)
def test_commands_name_modules_stacks_packs_and_files_that_exist(
    pipeline: str,
) -> None:
    missing = []
    for job, command in commands(pipeline):
        if command[:2] == ["python", "-m"] and not _repo_module_exists(command[2]):
            missing.append(f"{job}: module {command[2]}")
        for folder in option_values(command, "--policy-pack"):
            if not (REPO / folder / "PulumiPolicy.yaml").is_file():
                missing.append(f"{job}: policy pack {folder}")
        for stack in option_values(command, "--stack"):
            if not (REPO / f"Pulumi.{stack}.yaml").is_file():
                missing.append(f"{job}: stack {stack}")
        if Path(command[0]).name == "pip" and command[1:2] == ["install"]:
            for requirements in option_values(command, "-r"):
                if not (REPO / requirements).is_file():
                    missing.append(f"{job}: requirements {requirements}")
    assert missing == []


@pytest.mark.parametrize("pipeline", PIPELINES)
def test_make_targets_exist(pipeline: str) -> None:
    if not (REPO / "Makefile").is_file():
        pytest.skip("no Makefile in the repository yet, so no targets to check")
    targets = make_targets()
    missing = [
        f"{job}: make {target}"
        for job, command in commands(pipeline)
        if command[0] == "make"
        for target in command[1:]
        if not target.startswith("-") and "=" not in target and target not in targets
    ]
    assert missing == []


@pytest.mark.parametrize("pipeline", PIPELINES)
def test_tests_run_through_make(pipeline: str) -> None:
    assert any(command == ["make", "test"] for _, command in commands(pipeline))


@pytest.mark.parametrize("pipeline", PIPELINES)
def test_policies_are_checked_offline_for_both_stacks(pipeline: str) -> None:
    checked = {
        stack
        for _, command in commands(pipeline)
        if command[:3] == ["python", "-m", "tools.render"]
        and "--check-policies" in command
        for stack in option_values(command, "--stack")
    }
    assert checked == STACKS


@pytest.mark.parametrize("pipeline", PIPELINES)
def test_both_stacks_are_previewed_with_the_policy_pack(pipeline: str) -> None:
    previews = [
        command
        for _, command in commands(pipeline)
        if command[:2] == ["pulumi", "preview"]
    ]
    assert pulumi_stacks(pipeline, "preview") == STACKS
    assert all("--diff" in command for command in previews)
    assert all(option_values(c, "--policy-pack") == ["policy"] for c in previews)


@pytest.mark.parametrize("pipeline", PIPELINES)
def test_both_stacks_are_deployed_without_prompts(pipeline: str) -> None:
    updates = [c for _, c in commands(pipeline) if c[:2] == ["pulumi", "up"]]
    assert pulumi_stacks(pipeline, "up") == STACKS
    assert all("--yes" in command for command in updates)


def test_gitlab_deploys_prod_by_hand_on_main_or_a_version_tag() -> None:
    job = load("gitlab")["deploy:prod"]
    rules = job["rules"]
    assert {rule.get("when") for rule in rules} == {"manual"}
    conditions = " ".join(rule["if"] for rule in rules)
    assert "$CI_COMMIT_TAG =~ /^v/" in conditions
    assert "$CI_DEFAULT_BRANCH" in conditions


def test_github_deploys_prod_on_a_tag_or_by_hand_behind_an_environment() -> None:
    workflow = load("github")
    # PyYAML reads the bare key `on` as the boolean True.
    triggers = workflow.get("on", workflow.get(True))
    assert isinstance(triggers, dict)
    assert "workflow_dispatch" in triggers
    assert "v*" in triggers["push"]["tags"]
    job = workflow["jobs"]["up-prod"]
    assert job["environment"] == "prod"
    assert "refs/tags/v" in job["if"]
    assert "workflow_dispatch" in job["if"]


def test_gitlab_installs_requirements_into_a_venv_first() -> None:
    before = list(_flatten(load("gitlab")["default"]["before_script"]))
    assert before[:3] == [
        "python -m venv .venv",
        ". .venv/bin/activate",
        "pip install -r requirements.txt",
    ]


def test_gitlab_secrets_are_not_set_in_the_file() -> None:
    document = load("gitlab")
    scopes = [document, *(v for v in document.values() if isinstance(v, dict))]
    defined = {
        name
        for scope in scopes
        for name in (scope.get("variables") or {})
        if name in SECRETS
    }
    assert defined == set()


def test_github_secrets_come_from_repository_secrets() -> None:
    def envs(node: Any) -> Iterator[dict[str, Any]]:
        if isinstance(node, dict):
            if isinstance(node.get("env"), dict):
                yield node["env"]
            for value in node.values():
                yield from envs(value)
        elif isinstance(node, list):
            for value in node:
                yield from envs(value)

    literal = [
        f"{name}={value}"
        for env in envs(load("github"))
        for name, value in env.items()
        if name in SECRETS or name == "KUBECONFIG_CONTENT"
        if not re.fullmatch(r"\$\{\{ secrets\.\w+ \}\}", str(value))
    ]
    assert literal == []
