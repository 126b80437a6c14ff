"""The Job manifest of one case, built as plain data so that it is testable alone."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from components.decks import Case
from components.naming import LABEL_PREFIX, spec_hash, standard_labels
from components.quantity import parse_quantity
from components.settings import Resources, StackSettings

WORKING_DIR = "/simulation"
DECK_DIR = "deck"
OUTPUT_DIR = "output"
STATUS_DIR = "status"
SCRATCH_DIR = "tmp"
SIMULATOR = "simulator"
UPLOADER = "uploader"
FETCHER = "fetch-deck"
EXIT_CODE_FILE = f"{STATUS_DIR}/simulator-exit-code"
DECK_ERROR_EXIT_CODE = 1

# The simulator's exit status is written to a volume only this pod sees, so
# the uploader waits for this run's simulator, never for a marker that an
# earlier attempt left on a retained PVC.
SIMULATOR_SCRIPT = (
    f'flow "$@"; status=$?; echo "$status" > {EXIT_CODE_FILE}; exit "$status"'
)
UPLOAD_SCRIPT = (
    f"until [ -f {EXIT_CODE_FILE} ]; do sleep 2; done; "
    f'exec aws s3 cp --recursive --no-progress {OUTPUT_DIR} "$RESULTS_URI"'
)
FETCH_SCRIPT = f'exec aws s3 cp --recursive --no-progress "$DECK_URI" {DECK_DIR}'


@dataclass(frozen=True)
class DeckSource:
    """Where a deck's files come from: a ConfigMap's items, or a staged prefix."""

    config_map: str | None = None
    items: tuple[tuple[str, str], ...] = ()
    staged_uri: str | None = None


@dataclass(frozen=True)
class CaseTarget:
    """Everything about a case's Job that is not in the stack settings."""

    case: Case
    stack: str
    namespace: str
    service_account: str
    deck: DeckSource
    output_claim: str | None
    results_uri: str
    region: str


def results_uri(*, bucket: str, prefix: str, stack: str, case: str) -> str:
    """Return the s3:// URI a case's output folder is copied to."""
    return f"s3://{bucket}/{prefix}/{stack}/{case}/"


def case_labels(settings: StackSettings, case: Case, *, stack: str) -> dict[str, str]:
    """Return the labels of a case's Job and pods."""
    return {
        **standard_labels(
            part_of=settings.part_of, component="simulator", instance=stack
        ),
        f"{LABEL_PREFIX}/case": case.name,
        f"{LABEL_PREFIX}/deck": case.deck[:63].strip("-_.") or "deck",
    }


def job_manifest(settings: StackSettings, target: CaseTarget) -> dict[str, Any]:
    """Return the Job (metadata and spec) that runs one case."""
    labels = case_labels(settings, target.case, stack=target.stack)
    spec = {
        "backoffLimit": settings.job.backoff_limit,
        "activeDeadlineSeconds": settings.job.active_deadline_seconds,
        "podFailurePolicy": _failure_policy(),
        "template": {
            "metadata": {"labels": labels},
            "spec": _pod_spec(settings, target),
        },
    }
    metadata: dict[str, Any] = {
        # Job templates are immutable, so the name follows the spec: a changed
        # case gets a new Job instead of a failed patch.
        "name": job_name(target.case, spec),
        "namespace": target.namespace,
        "labels": labels,
    }
    if not settings.job.wait_for_completion:
        metadata["annotations"] = {"pulumi.com/skipAwait": "true"}
    return {"metadata": metadata, "spec": spec}


def job_name(case: Case, spec: dict[str, Any]) -> str:
    """Return a Job name that changes whenever the spec does."""
    return f"{case.name}-{spec_hash(spec)}"


def omp_threads(resources: Resources) -> int:
    """Return the OpenMP thread count that fits the CPU limit (at least one)."""
    return max(1, math.floor(parse_quantity(resources.limits.cpu)))


def _failure_policy() -> dict[str, Any]:
    return {
        "rules": [
            {
                # A deck the simulator rejects fails the same way on every
                # retry, so the Job fails at once.
                "action": "FailJob",
                "onExitCodes": {
                    "containerName": SIMULATOR,
                    "operator": "In",
                    "values": [DECK_ERROR_EXIT_CODE],
                },
            },
            {
                # Evictions and preemptions are not the case's fault.
                "action": "Ignore",
                "onPodConditions": [{"type": "DisruptionTarget", "status": "True"}],
            },
        ]
    }


def _pod_spec(settings: StackSettings, target: CaseTarget) -> dict[str, Any]:
    init_containers = []
    if target.deck.staged_uri is not None:
        init_containers.append(_fetcher(settings, target))
    spec: dict[str, Any] = {
        "restartPolicy": "Never",
        "serviceAccountName": target.service_account,
        # The pods never talk to the Kubernetes API; IRSA mounts its own token.
        "automountServiceAccountToken": False,
        "securityContext": {
            "runAsNonRoot": True,
            "runAsUser": settings.job.run_as_user,
            "runAsGroup": settings.job.run_as_user,
            "fsGroup": settings.job.run_as_user,
            "seccompProfile": {"type": "RuntimeDefault"},
        },
        "containers": [_simulator(settings, target), _uploader(settings, target)],
        "volumes": _volumes(settings, target),
    }
    if init_containers:
        spec["initContainers"] = init_containers
    if settings.job.node_selector:
        spec["nodeSelector"] = dict(settings.job.node_selector)
    return spec


def _container_security(settings: StackSettings) -> dict[str, Any]:
    return {
        "allowPrivilegeEscalation": False,
        "capabilities": {"drop": ["ALL"]},
        "readOnlyRootFilesystem": settings.job.read_only_root_filesystem,
        "runAsNonRoot": True,
    }


def _resources(resources: Resources) -> dict[str, Any]:
    return {
        "requests": {
            "cpu": resources.requests.cpu,
            "memory": resources.requests.memory,
        },
        "limits": {"cpu": resources.limits.cpu, "memory": resources.limits.memory},
    }


def _mount(name: str, *, read_only: bool = False) -> dict[str, Any]:
    mount: dict[str, Any] = {"name": name, "mountPath": f"{WORKING_DIR}/{name}"}
    if read_only:
        mount["readOnly"] = True
    return mount


def _scratch_env() -> list[dict[str, Any]]:
    # With a read-only root filesystem, temporary files and the AWS CLI's
    # cache need a writable home.
    scratch = f"{WORKING_DIR}/{SCRATCH_DIR}"
    return [{"name": "HOME", "value": scratch}, {"name": "TMPDIR", "value": scratch}]


def _simulator(settings: StackSettings, target: CaseTarget) -> dict[str, Any]:
    threads = str(omp_threads(settings.job.resources))
    return {
        "name": SIMULATOR,
        "image": settings.image.reference,
        "imagePullPolicy": settings.image.pull_policy,
        "workingDir": WORKING_DIR,
        "command": ["sh", "-c", SIMULATOR_SCRIPT, "flow"],
        "args": [f"{DECK_DIR}/{target.case.data_file}", f"--output-dir={OUTPUT_DIR}"],
        "env": [{"name": "OMP_NUM_THREADS", "value": threads}, *_scratch_env()],
        "resources": _resources(settings.job.resources),
        "securityContext": _container_security(settings),
        "volumeMounts": [
            _mount(DECK_DIR, read_only=True),
            _mount(OUTPUT_DIR),
            _mount(STATUS_DIR),
            _mount(SCRATCH_DIR),
        ],
    }


def _s3_env(settings: StackSettings, target: CaseTarget) -> list[dict[str, Any]]:
    env: list[dict[str, Any]] = [{"name": "AWS_DEFAULT_REGION", "value": target.region}]
    if settings.bucket.endpoint is not None:
        env.append({"name": "AWS_ENDPOINT_URL", "value": settings.bucket.endpoint})
    secret = settings.access.secret_name
    if secret is not None:
        for name, key in (
            ("AWS_ACCESS_KEY_ID", settings.access.access_key_id_key),
            ("AWS_SECRET_ACCESS_KEY", settings.access.secret_access_key_key),
        ):
            env.append(
                {
                    "name": name,
                    "valueFrom": {"secretKeyRef": {"name": secret, "key": key}},
                }
            )
    return [*env, *_scratch_env()]


def _uploader(settings: StackSettings, target: CaseTarget) -> dict[str, Any]:
    return {
        "name": UPLOADER,
        "image": settings.uploader.image.reference,
        "imagePullPolicy": settings.uploader.image.pull_policy,
        "workingDir": WORKING_DIR,
        "command": ["sh", "-c", UPLOAD_SCRIPT],
        "env": [
            {"name": "RESULTS_URI", "value": target.results_uri},
            *_s3_env(settings, target),
        ],
        "resources": _resources(settings.uploader.resources),
        "securityContext": _container_security(settings),
        "volumeMounts": [
            _mount(OUTPUT_DIR, read_only=True),
            _mount(STATUS_DIR, read_only=True),
            _mount(SCRATCH_DIR),
        ],
    }


def _fetcher(settings: StackSettings, target: CaseTarget) -> dict[str, Any]:
    return {
        "name": FETCHER,
        "image": settings.uploader.image.reference,
        "imagePullPolicy": settings.uploader.image.pull_policy,
        "workingDir": WORKING_DIR,
        "command": ["sh", "-c", FETCH_SCRIPT],
        "env": [
            {"name": "DECK_URI", "value": target.deck.staged_uri},
            *_s3_env(settings, target),
        ],
        "resources": _resources(settings.uploader.resources),
        "securityContext": _container_security(settings),
        "volumeMounts": [_mount(DECK_DIR), _mount(SCRATCH_DIR)],
    }


def _volumes(settings: StackSettings, target: CaseTarget) -> list[dict[str, Any]]:
    deck: dict[str, Any]
    if target.deck.config_map is not None:
        deck = {
            "name": DECK_DIR,
            "configMap": {
                "name": target.deck.config_map,
                "items": [
                    {"key": key, "path": path} for key, path in target.deck.items
                ],
            },
        }
    else:
        deck = {"name": DECK_DIR, "emptyDir": {}}
    output: dict[str, Any]
    if target.output_claim is not None:
        output = {
            "name": OUTPUT_DIR,
            "persistentVolumeClaim": {"claimName": target.output_claim},
        }
    else:
        output = {"name": OUTPUT_DIR, "emptyDir": {"sizeLimit": settings.output.size}}
    return [
        deck,
        output,
        {"name": STATUS_DIR, "emptyDir": {"sizeLimit": "1Mi"}},
        {"name": SCRATCH_DIR, "emptyDir": {"sizeLimit": "1Gi"}},
    ]
