"""The whole program under Pulumi's mocks, on the repository's dev and prod stacks."""

from __future__ import annotations

import ast
import copy
import json
import re
import shutil
from pathlib import Path
from typing import Any

import pytest

from components.errors import InputError
from tests.conftest import REPO, ProjectFactory, stack_file
from tools.render import RenderedResource, Rendering, render

JOB = "kubernetes:batch/v1:Job"
PVC = "kubernetes:core/v1:PersistentVolumeClaim"
CONFIG_MAP = "kubernetes:core/v1:ConfigMap"


def _of_type(rendering: Rendering, type_: str) -> list[RenderedResource]:
    return [r for r in rendering.resources if r.type == type_]


def _one(rendering: Rendering, type_: str) -> RenderedResource:
    (resource,) = _of_type(rendering, type_)
    return resource


def _job(rendering: Rendering, case: str) -> dict[str, Any]:
    return next(
        job
        for job in rendering.jobs()
        if job["metadata"]["labels"]["clarissa.io/case"] == case
    )


def _container(job: dict[str, Any], name: str) -> dict[str, Any]:
    spec = job["spec"]["template"]["spec"]
    return next(c for c in spec["containers"] if c["name"] == name)


def _env(container: dict[str, Any]) -> dict[str, Any]:
    return {
        item["name"]: item.get("value", item.get("valueFrom"))
        for item in container["env"]
    }


def _dev_config(**changes: Any) -> dict[str, Any]:
    config = copy.deepcopy(stack_file("dev")["config"])
    for key, value in changes.items():
        config[f"clarissa:{key}"] = value
    return config


# Namespace


def test_namespace_enforces_the_restricted_profile(dev: Rendering) -> None:
    labels = _one(dev, "kubernetes:core/v1:Namespace").inputs["metadata"]["labels"]
    assert labels["pod-security.kubernetes.io/enforce"] == "restricted"
    assert labels["app.kubernetes.io/part-of"] == "clarissa"
    assert labels["app.kubernetes.io/managed-by"] == "pulumi"


def test_namespace_name_comes_from_config(dev: Rendering, prod: Rendering) -> None:
    for rendering, name in ((dev, "clarissa-dev"), (prod, "clarissa-prod")):
        namespace = _one(rendering, "kubernetes:core/v1:Namespace")
        assert namespace.inputs["metadata"]["name"] == name
        assert rendering.outputs["namespace"] == name


def test_existing_namespace_is_used_not_created(project: ProjectFactory) -> None:
    config = _dev_config(namespace={"name": "team-sims", "create": False})
    rendering = render("dev", project_dir=project(config=config))
    assert _of_type(rendering, "kubernetes:core/v1:Namespace") == []
    namespaces = {
        obj["metadata"]["namespace"] for obj in rendering.kubernetes_objects()
    }
    assert namespaces == {"team-sims"}


def test_quota_and_limit_range_follow_config(dev: Rendering, prod: Rendering) -> None:
    quota = _one(prod, "kubernetes:core/v1:ResourceQuota").inputs["spec"]["hard"]
    assert quota["limits.memory"] == "512Gi"
    assert quota["pods"] == "40"
    assert _of_type(prod, "kubernetes:core/v1:LimitRange") == []
    limits = _one(dev, "kubernetes:core/v1:LimitRange").inputs["spec"]["limits"][0]
    assert limits["default"] == {"cpu": "1", "memory": "2Gi"}
    assert _of_type(dev, "kubernetes:core/v1:ResourceQuota") == []


def test_prod_namespace_outlives_destroy_because_it_holds_retained_claims(
    prod: Rendering, dev: Rendering
) -> None:
    options = _one(prod, "kubernetes:core/v1:Namespace").options
    assert options["retainOnDelete"] is True
    assert options["protect"] is True
    assert _one(dev, "kubernetes:core/v1:Namespace").options["retainOnDelete"] is False


# Decks


def test_each_deck_is_one_immutable_content_named_config_map(dev: Rendering) -> None:
    maps = {r.inputs["metadata"]["name"]: r.inputs for r in _of_type(dev, CONFIG_MAP)}
    assert len(maps) == 2
    for name, config_map in maps.items():
        assert name.startswith(("deck-spe1-", "deck-layered-"))
        assert config_map["immutable"] is True


def test_nested_deck_files_map_to_their_paths_through_items(dev: Rendering) -> None:
    volume = _job(dev, "layered")["spec"]["template"]["spec"]["volumes"][0]
    items = {item["key"]: item["path"] for item in volume["configMap"]["items"]}
    assert items["INCLUDE_2fGRID_2flayers_2ftops.grdecl"] == (
        "INCLUDE/GRID/layers/tops.grdecl"
    )
    config_map = next(
        r.inputs
        for r in _of_type(dev, CONFIG_MAP)
        if r.inputs["metadata"]["name"] == volume["configMap"]["name"]
    )
    assert set(items) == set(config_map["data"])
    source = REPO / "decks/layered/INCLUDE/GRID/layers/tops.grdecl"
    assert config_map["data"]["INCLUDE_2fGRID_2flayers_2ftops.grdecl"] == (
        source.read_text()
    )


def test_binary_deck_files_go_to_binary_data(
    project: ProjectFactory, tmp_path: Path
) -> None:
    decks = tmp_path / "decks"
    shutil.copytree(REPO / "decks" / "spe1", decks / "spe1")
    (decks / "spe1" / "grid.bin").write_bytes(bytes(range(256)))
    rendering = render("dev", project_dir=project(decks=decks))
    config_map = _one(rendering, CONFIG_MAP).inputs
    assert set(config_map["binaryData"]) == {"grid.bin"}
    assert "grid.bin" not in config_map["data"]


def test_editing_a_deck_replaces_only_its_config_map_and_its_jobs(
    project: ProjectFactory, tmp_path: Path
) -> None:
    decks = tmp_path / "decks"
    shutil.copytree(REPO / "decks", decks)
    before = render("dev", project_dir=project(decks=decks, name="before"))
    tops = decks / "layered/INCLUDE/GRID/layers/tops.grdecl"
    tops.write_text(tops.read_text() + "-- edited\n")
    after = render("dev", project_dir=project(decks=decks, name="after"))

    def names(rendering: Rendering) -> dict[str, str]:
        return {
            r.name: r.inputs["metadata"]["name"]
            for r in rendering.resources
            if r.is_kubernetes
        }

    changed = {
        name for name, value in names(before).items() if names(after)[name] != value
    }
    assert changed == {"deck-layered-files", "case-layered-job"}


def test_untouched_decks_render_identically(
    dev: Rendering, project: ProjectFactory
) -> None:
    again = render("dev", project_dir=project())
    assert again.kubernetes_objects() == dev.kubernetes_objects()


def test_a_deck_too_large_for_a_config_map_is_staged_in_the_bucket(
    project: ProjectFactory,
) -> None:
    config = _dev_config(decks={"configMapMaxBytes": 20000})
    rendering = render("dev", project_dir=project(config=config))
    staged = _of_type(rendering, "aws:s3/bucketObjectv2:BucketObjectv2")
    keys = {r.inputs["key"] for r in staged}
    spe1 = next(iter(keys)).rsplit("/", 1)[0]
    assert spe1.startswith("results/dev/_decks/spe1-")
    assert keys == {
        f"{spe1}/{name}" for name in ("SPE1CASE1.DATA", "dbcl-10.txt", "odbl-10.txt")
    }
    job = _job(rendering, "spe1case1")
    pod = job["spec"]["template"]["spec"]
    (fetch,) = pod["initContainers"]
    assert _env(fetch)["DECK_URI"] == f"s3://clarissa-dev-results/{spe1}/"
    assert pod["volumes"][0] == {"name": "deck", "emptyDir": {}}
    assert [r.inputs["metadata"]["name"] for r in _of_type(rendering, CONFIG_MAP)] == [
        _job(rendering, "layered")["spec"]["template"]["spec"]["volumes"][0][
            "configMap"
        ]["name"]
    ]


def test_a_large_deck_with_an_existing_bucket_is_refused(
    project: ProjectFactory,
) -> None:
    config = _dev_config(
        decks={"configMapMaxBytes": 20000}, bucket={"existing": "shared-bucket"}
    )
    with pytest.raises(InputError, match=r"decks/spe1: .* over the ConfigMap limit"):
        render("dev", project_dir=project(config=config))


def test_missing_include_stops_the_program_naming_file_and_line(
    project: ProjectFactory, tmp_path: Path
) -> None:
    decks = tmp_path / "decks"
    shutil.copytree(REPO / "decks", decks)
    (decks / "layered/INCLUDE/PROPS/fluids.inc").unlink()
    lines = (decks / "layered/LAYERED.DATA").read_text().splitlines()
    line = 1 + next(i for i, text in enumerate(lines) if "PROPS/fluids.inc" in text)
    with pytest.raises(InputError) as caught:
        render("dev", project_dir=project(decks=decks))
    assert str(caught.value) == (
        f"decks/layered/LAYERED.DATA:{line}: INCLUDE 'INCLUDE/PROPS/fluids.inc' is "
        "not in deck folder decks/layered"
    )


# Output storage


def test_each_case_gets_a_claim_sized_from_config(
    dev: Rendering, prod: Rendering
) -> None:
    for rendering, size in ((dev, "10Gi"), (prod, "100Gi")):
        claims = _of_type(rendering, PVC)
        assert {c.inputs["metadata"]["name"] for c in claims} == {
            "spe1case1-output",
            "layered-output",
        }
        for claim in claims:
            assert claim.inputs["spec"]["resources"]["requests"]["storage"] == size
            assert claim.inputs["spec"]["accessModes"] == ["ReadWriteOnce"]


def test_retained_claims_survive_destroy_and_prod_protects_them(
    dev: Rendering, prod: Rendering
) -> None:
    for claim in _of_type(prod, PVC):
        assert claim.options["retainOnDelete"] is True
        assert claim.options["protect"] is True
    for claim in _of_type(dev, PVC):
        assert claim.options["retainOnDelete"] is False
        assert claim.options["protect"] is False


def test_ephemeral_output_uses_an_empty_dir_and_no_claim(
    project: ProjectFactory,
) -> None:
    config = _dev_config(output={"kind": "ephemeral", "size": "5Gi"})
    rendering = render("dev", project_dir=project(config=config))
    assert _of_type(rendering, PVC) == []
    volumes = _job(rendering, "spe1case1")["spec"]["template"]["spec"]["volumes"]
    assert {"name": "output", "emptyDir": {"sizeLimit": "5Gi"}} in volumes


def test_storage_class_comes_from_config(project: ProjectFactory) -> None:
    config = _dev_config(output={"storageClass": "fast-ssd"})
    rendering = render("dev", project_dir=project(config=config))
    for claim in _of_type(rendering, PVC):
        assert claim.inputs["spec"]["storageClassName"] == "fast-ssd"


# Bucket


def test_bucket_is_versioned_encrypted_private_and_tls_only(dev: Rendering) -> None:
    bucket = _one(dev, "aws:s3/bucket:Bucket").inputs
    assert bucket["bucket"] == "clarissa-dev-results"
    versioning = _one(dev, "aws:s3/bucketVersioning:BucketVersioning").inputs
    assert versioning["versioningConfiguration"]["status"] == "Enabled"
    encryption = _one(
        dev,
        "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration",
    ).inputs
    default = encryption["rules"][0]["applyServerSideEncryptionByDefault"]
    assert default["sseAlgorithm"] == "AES256"
    block = _one(dev, "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock").inputs
    assert all(
        block[flag]
        for flag in (
            "blockPublicAcls",
            "blockPublicPolicy",
            "ignorePublicAcls",
            "restrictPublicBuckets",
        )
    )
    ownership = _one(dev, "aws:s3/bucketOwnershipControls:BucketOwnershipControls")
    assert ownership.inputs["rule"]["objectOwnership"] == "BucketOwnerEnforced"
    policy = json.loads(_one(dev, "aws:s3/bucketPolicy:BucketPolicy").inputs["policy"])
    (statement,) = policy["Statement"]
    assert statement["Effect"] == "Deny"
    assert statement["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}


def test_lifecycle_expires_old_versions_after_configured_days(prod: Rendering) -> None:
    lifecycle = _one(
        prod, "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration"
    ).inputs
    rule = lifecycle["rules"][0]
    assert rule["noncurrentVersionExpiration"]["noncurrentDays"] == 365
    assert rule["abortIncompleteMultipartUpload"]["daysAfterInitiation"] == 7


def test_prod_protects_its_bucket_and_never_force_destroys(
    dev: Rendering, prod: Rendering
) -> None:
    bucket = _one(prod, "aws:s3/bucket:Bucket")
    assert bucket.options["protect"] is True
    assert bucket.inputs["forceDestroy"] is False
    assert _one(dev, "aws:s3/bucket:Bucket").options["protect"] is False


def test_bucket_name_from_config(project: ProjectFactory) -> None:
    config = _dev_config(bucket={"name": "acme-reservoir-results"})
    rendering = render("dev", project_dir=project(config=config))
    assert _one(rendering, "aws:s3/bucket:Bucket").inputs["bucket"] == (
        "acme-reservoir-results"
    )
    assert rendering.outputs["bucket"] == "acme-reservoir-results"


def test_existing_bucket_creates_no_aws_resource(project: ProjectFactory) -> None:
    config = _dev_config(bucket={"existing": "shared-results"})
    rendering = render("dev", project_dir=project(config=config))
    assert [r for r in rendering.resources if r.type.startswith("aws:")] == []
    assert rendering.outputs["bucket"] == "shared-results"
    assert rendering.outputs["cases"]["layered"]["results"] == (
        "s3://shared-results/results/dev/layered/"
    )


# Pod access


def test_irsa_role_trusts_only_the_stack_service_account(prod: Rendering) -> None:
    role = _one(prod, "aws:iam/role:Role").inputs
    (statement,) = json.loads(role["assumeRolePolicy"])["Statement"]
    issuer = "oidc.eks.eu-central-1.amazonaws.com/id/EXAMPLED539D4633E53DE1B71EXAMPLE"
    assert statement["Condition"]["StringEquals"] == {
        f"{issuer}:sub": "system:serviceaccount:clarissa-prod:opm-flow",
        f"{issuer}:aud": "sts.amazonaws.com",
    }
    account = _one(prod, "kubernetes:core/v1:ServiceAccount").inputs
    assert account["metadata"]["annotations"]["eks.amazonaws.com/role-arn"].endswith(
        "role/clarissa-prod-simulator"
    )


def test_irsa_policy_writes_only_under_the_stack_prefix(prod: Rendering) -> None:
    policy = json.loads(_one(prod, "aws:iam/rolePolicy:RolePolicy").inputs["policy"])
    statements = {s["Sid"]: s for s in policy["Statement"]}
    write = statements["WriteResults"]
    assert write["Action"] == ["s3:PutObject", "s3:AbortMultipartUpload"]
    assert write["Resource"] == "arn:aws:s3:::clarissa-prod-results/results/prod/*"
    for statement in policy["Statement"]:
        actions = statement["Action"]
        actions = [actions] if isinstance(actions, str) else actions
        assert "s3:*" not in actions
        assert statement["Resource"] != "*"


def test_secret_access_feeds_keys_to_the_uploader_only(dev: Rendering) -> None:
    job = _job(dev, "spe1case1")
    uploader = _env(_container(job, "uploader"))
    assert uploader["AWS_ACCESS_KEY_ID"] == {
        "secretKeyRef": {"name": "clarissa-s3-credentials", "key": "AWS_ACCESS_KEY_ID"}
    }
    assert "AWS_ACCESS_KEY_ID" not in _env(_container(job, "simulator"))
    assert _of_type(dev, "aws:iam/role:Role") == []


def test_endpoint_setting_reaches_the_uploader(project: ProjectFactory) -> None:
    config = _dev_config(bucket={"endpoint": "https://minio.example.internal:9000"})
    rendering = render("dev", project_dir=project(config=config))
    uploader = _env(_container(_job(rendering, "layered"), "uploader"))
    assert uploader["AWS_ENDPOINT_URL"] == "https://minio.example.internal:9000"


# Jobs


def test_job_runs_flow_on_the_case_relative_to_the_working_dir(dev: Rendering) -> None:
    job = _job(dev, "spe1case1")
    simulator = _container(job, "simulator")
    assert simulator["workingDir"] == "/simulation"
    assert simulator["args"] == ["deck/SPE1CASE1.DATA", "--output-dir=output"]
    assert simulator["command"][:2] == ["sh", "-c"]
    assert simulator["command"][2].startswith('flow "$@";')
    mounts = {m["name"]: m["mountPath"] for m in simulator["volumeMounts"]}
    assert mounts["deck"] == "/simulation/deck"
    assert mounts["output"] == "/simulation/output"


def test_job_carries_the_standard_labels_and_the_case(dev: Rendering) -> None:
    job = _job(dev, "layered")
    for labels in (
        job["metadata"]["labels"],
        job["spec"]["template"]["metadata"]["labels"],
    ):
        assert labels["app.kubernetes.io/name"] == "opm-flow"
        assert labels["app.kubernetes.io/component"] == "simulator"
        assert labels["app.kubernetes.io/part-of"] == "clarissa"
        assert labels["clarissa.io/case"] == "layered"


def test_job_retry_and_deadline_follow_config(dev: Rendering, prod: Rendering) -> None:
    assert _job(dev, "layered")["spec"]["backoffLimit"] == 2
    assert _job(dev, "layered")["spec"]["activeDeadlineSeconds"] == 7200
    assert _job(prod, "layered")["spec"]["backoffLimit"] == 1
    assert _job(prod, "layered")["spec"]["activeDeadlineSeconds"] == 259200


def test_deck_errors_fail_the_job_at_once_and_disruptions_do_not_count(
    dev: Rendering,
) -> None:
    rules = _job(dev, "layered")["spec"]["podFailurePolicy"]["rules"]
    assert rules[0] == {
        "action": "FailJob",
        "onExitCodes": {"containerName": "simulator", "operator": "In", "values": [1]},
    }
    assert rules[1]["action"] == "Ignore"
    assert rules[1]["onPodConditions"][0]["type"] == "DisruptionTarget"
    assert _job(dev, "layered")["spec"]["template"]["spec"]["restartPolicy"] == "Never"


def test_resources_and_threads_follow_config(dev: Rendering, prod: Rendering) -> None:
    for rendering, limits, threads in (
        (dev, {"cpu": "2", "memory": "4Gi"}, "2"),
        (prod, {"cpu": "16", "memory": "32Gi"}, "16"),
    ):
        simulator = _container(_job(rendering, "spe1case1"), "simulator")
        assert simulator["resources"]["limits"] == limits
        assert _env(simulator)["OMP_NUM_THREADS"] == threads


def test_pods_meet_the_restricted_profile(dev: Rendering, prod: Rendering) -> None:
    for rendering in (dev, prod):
        for job in rendering.jobs():
            pod = job["spec"]["template"]["spec"]
            assert pod["securityContext"]["runAsNonRoot"] is True
            assert pod["securityContext"]["seccompProfile"] == {
                "type": "RuntimeDefault"
            }
            assert pod["automountServiceAccountToken"] is False
            for container in [*pod.get("initContainers", []), *pod["containers"]]:
                security = container["securityContext"]
                assert security["allowPrivilegeEscalation"] is False
                assert security["capabilities"] == {"drop": ["ALL"]}
                assert security["readOnlyRootFilesystem"] is True


def test_upload_runs_after_the_simulator_not_before(dev: Rendering) -> None:
    job = _job(dev, "spe1case1")
    pod = job["spec"]["template"]["spec"]
    assert "initContainers" not in pod
    uploader = _container(job, "uploader")
    script = uploader["command"][2]
    wait, _, upload = script.partition("done;")
    assert "until [ -f status/simulator-exit-code ]" in wait
    assert 'aws s3 cp --recursive --no-progress output "$RESULTS_URI"' in upload
    assert "status/simulator-exit-code" in _container(job, "simulator")["command"][2]
    assert _env(uploader)["RESULTS_URI"] == (
        "s3://clarissa-dev-results/results/dev/spe1case1/"
    )


def test_jobs_never_set_a_ttl(dev: Rendering, prod: Rendering) -> None:
    for rendering in (dev, prod):
        for job in rendering.jobs():
            assert "ttlSecondsAfterFinished" not in job["spec"]


def test_job_name_carries_a_hash_of_its_spec(
    project: ProjectFactory, dev: Rendering
) -> None:
    config = _dev_config()
    config["clarissa:job"]["resources"]["limits"]["memory"] = "6Gi"
    changed = render("dev", project_dir=project(config=config))
    before = _job(dev, "layered")["metadata"]["name"]
    after = _job(changed, "layered")["metadata"]["name"]
    assert before.startswith("layered-")
    assert after.startswith("layered-")
    assert before != after


def test_waiting_for_completion_is_config(dev: Rendering, prod: Rendering) -> None:
    dev_job = _one_job_resource(dev)
    assert dev_job.options["customTimeouts"] == {"create": "30m", "update": "30m"}
    assert "annotations" not in dev_job.inputs["metadata"]
    prod_job = _one_job_resource(prod)
    assert prod_job.options["customTimeouts"] == {}
    assert prod_job.inputs["metadata"]["annotations"] == {
        "pulumi.com/skipAwait": "true"
    }


def _one_job_resource(rendering: Rendering) -> RenderedResource:
    return next(r for r in _of_type(rendering, JOB) if r.name == "case-layered-job")


def test_job_waits_for_its_deck_claim_and_access(dev: Rendering) -> None:
    needs = set(_one_job_resource(dev).options["dependsOn"])
    assert {
        "deck-layered-files",
        "case-layered-output",
        "access-service-account",
    } <= needs


# Outputs


def test_outputs_name_every_case_with_job_deck_results_and_logs(dev: Rendering) -> None:
    outputs = dev.outputs
    assert outputs["bucket"] == "clarissa-dev-results"
    assert outputs["serviceAccount"] == "opm-flow"
    case = outputs["cases"]["spe1case1"]
    job = _job(dev, "spe1case1")["metadata"]["name"]
    assert case == {
        "job": job,
        "deck": "spe1",
        "results": "s3://clarissa-dev-results/results/dev/spe1case1/",
        "logs": f"kubectl logs -n clarissa-dev job/{job} -c simulator -f",
    }


# Stack differences


def test_dev_and_prod_differ_only_through_config(
    prod: Rendering, project: ProjectFactory
) -> None:
    folder = project(stack="prod", config=stack_file("prod")["config"])
    again = render("prod", project_dir=folder)
    assert again.as_json() == prod.as_json()
    # Under another stack name only the names derived from it change, and the
    # Job names with them, since the stack name is part of each Job's spec.
    renamed = render("staging", project_dir=_renamed(folder, "prod", "staging"))
    text = json.dumps(renamed.as_json()).replace("staging", "prod")
    assert _without_job_hashes(text) == _without_job_hashes(json.dumps(prod.as_json()))


def _without_job_hashes(text: str) -> str:
    return re.sub(r"\b(spe1case1|layered)-[0-9a-f]{8}\b", r"\1-<hash>", text)


def _renamed(folder: Path, old: str, new: str) -> Path:
    (folder / f"Pulumi.{old}.yaml").rename(folder / f"Pulumi.{new}.yaml")
    return folder


def test_program_never_compares_the_stack_name_to_a_literal() -> None:
    sources = [REPO / "__main__.py", *sorted((REPO / "components").glob("*.py"))]
    for source in sources:
        tree = ast.parse(source.read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.Compare):
                literals = [
                    operand.value
                    for operand in (node.left, *node.comparators)
                    if isinstance(operand, ast.Constant)
                ]
                assert not {"dev", "prod"} & set(literals), f"{source}:{node.lineno}"
