"""Deploys OPM Flow simulation cases to Kubernetes with their decks and results."""

from pathlib import Path

import pulumi

from components.access import BucketAccess
from components.bucket import ResultsBucket
from components.decks import scan_decks
from components.deckstore import DeckStore
from components.errors import InputError
from components.namespace import SimulationNamespace
from components.naming import standard_labels
from components.plan import plan_stack
from components.settings import load_settings
from components.simulation import Simulations
from components.stack_config import aws_region, project_config

project = pulumi.get_project()
stack = pulumi.get_stack()

# Everything is checked before the first resource is registered, so bad input
# never leaves a half-made stack behind.
try:
    settings = load_settings(project_config(project), project=project, stack=stack)
    plan = plan_stack(
        settings,
        scan_decks(Path(settings.decks.path)),
        project=project,
        stack=stack,
        default_region=aws_region(),
    )
except InputError as err:
    raise pulumi.RunError(str(err)) from None

labels = standard_labels(part_of=settings.part_of, component="storage", instance=stack)
tags = {"part-of": settings.part_of, "stack": stack, "managed-by": "pulumi"}

namespace = SimulationNamespace(
    "simulations",
    settings=settings.namespace,
    labels=labels,
    retain=settings.output.kind == "pvc" and settings.output.retain,
    protect=settings.protect,
)
bucket = ResultsBucket(
    "results",
    bucket_name=plan.bucket,
    settings=settings.bucket,
    tags=tags,
    protect=settings.protect,
)
access = BucketAccess(
    "access",
    settings=settings.access,
    namespace=namespace.name,
    namespace_name=plan.namespace,
    bucket_arn=bucket.arn,
    stack_prefix=plan.stack_prefix,
    role_name=f"{project}-{stack}-simulator",
    labels=labels,
    tags=tags,
)
decks = DeckStore(
    "decks",
    decks=plan.decks,
    namespace=namespace.name,
    labels=labels,
    bucket=bucket.name if plan.manages_bucket else None,
)
Simulations(
    "cases",
    cases=plan.cases,
    settings=settings,
    namespace=namespace.name,
    needs={
        case.case.name: [*access.ready, *decks.resources[case.case.deck]]
        for case in plan.cases
    },
)

pulumi.export("namespace", namespace.name)
pulumi.export("bucket", bucket.name)
pulumi.export("serviceAccount", access.service_account)
pulumi.export(
    "cases",
    {
        case_plan.case.name: {
            "job": case_plan.job_name,
            "deck": case_plan.case.deck,
            "results": case_plan.results,
            "logs": case_plan.logs_command(plan.namespace),
        }
        for case_plan in plan.cases
    },
)
