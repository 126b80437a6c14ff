"""The stack plan: every name, deck source and Job spec, derived before resources."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from components.decks import Case, Deck
from components.errors import InputError
from components.naming import dns_label
from components.podspec import (
    CaseTarget,
    DeckSource,
    job_manifest,
    results_uri,
)
from components.settings import StackSettings


@dataclass(frozen=True)
class DeckPlan:
    """How one deck reaches its pods."""

    deck: Deck
    config_map: str | None
    staged_prefix: str | None

    @property
    def source(self) -> DeckSource:
        """The pod's view of where the deck's files come from."""
        if self.config_map is not None:
            items = tuple((file.key, file.relative_path) for file in self.deck.files)
            return DeckSource(config_map=self.config_map, items=items)
        return DeckSource(staged_uri=self.staged_prefix)


@dataclass(frozen=True)
class CasePlan:
    """One case: its deck, output claim, results URI and Job manifest."""

    case: Case
    deck: DeckPlan
    output_claim: str | None
    results: str
    job: dict[str, Any]

    @property
    def job_name(self) -> str:
        """The Job's metadata.name."""
        return str(self.job["metadata"]["name"])

    def logs_command(self, namespace: str) -> str:
        """The kubectl command that follows the case's simulator output."""
        return f"kubectl logs -n {namespace} job/{self.job_name} -c simulator -f"


@dataclass(frozen=True)
class StackPlan:
    """Everything the stack will create, by name."""

    stack: str
    settings: StackSettings
    namespace: str
    bucket: str
    manages_bucket: bool
    region: str
    service_account: str
    decks: tuple[DeckPlan, ...]
    cases: tuple[CasePlan, ...]

    @property
    def stack_prefix(self) -> str:
        """The key prefix under which this stack writes in the bucket."""
        return f"{self.settings.bucket.prefix}/{self.stack}"


def derived_bucket_name(*, project: str, stack: str) -> str:
    """The bucket name used when config names none."""
    return dns_label(f"{project}-{stack}-results")


def plan_stack(
    settings: StackSettings,
    decks: tuple[Deck, ...],
    *,
    project: str,
    stack: str,
    default_region: str | None,
) -> StackPlan:
    """Derive the whole stack, or raise InputError if the decks cannot be delivered."""
    bucket_settings = settings.bucket
    bucket = (
        bucket_settings.existing
        or bucket_settings.name
        or derived_bucket_name(project=project, stack=stack)
    )
    stack_prefix = f"{bucket_settings.prefix}/{stack}"
    deck_plans = tuple(
        _plan_deck(settings, deck, bucket=bucket, stack_prefix=stack_prefix)
        for deck in decks
    )
    region = bucket_settings.region or default_region or "us-east-1"
    cases = tuple(
        _plan_case(
            settings,
            deck_plan,
            case,
            stack=stack,
            bucket=bucket,
            region=region,
        )
        for deck_plan in deck_plans
        for case in deck_plan.deck.cases
    )
    return StackPlan(
        stack=stack,
        settings=settings,
        namespace=settings.namespace.name,
        bucket=bucket,
        manages_bucket=bucket_settings.existing is None,
        region=region,
        service_account=settings.access.service_account,
        decks=deck_plans,
        cases=cases,
    )


def _plan_deck(
    settings: StackSettings, deck: Deck, *, bucket: str, stack_prefix: str
) -> DeckPlan:
    content = deck.digest[:10]
    if deck.payload_bytes <= settings.decks.config_map_max_bytes:
        return DeckPlan(
            deck=deck, config_map=f"deck-{deck.label}-{content}", staged_prefix=None
        )
    if settings.bucket.existing is not None:
        raise InputError(
            f"{settings.decks.path}/{deck.name}: {deck.payload_bytes} bytes is over "
            f"the ConfigMap limit ({settings.decks.config_map_max_bytes} bytes) and "
            "a deck this large is staged in a bucket the stack manages; with "
            "bucket.existing set the stack creates no AWS resources. Let the stack "
            "manage the bucket, or make the deck smaller."
        )
    return DeckPlan(
        deck=deck,
        config_map=None,
        staged_prefix=f"s3://{bucket}/{stack_prefix}/_decks/{deck.label}-{content}/",
    )


def _plan_case(
    settings: StackSettings,
    deck_plan: DeckPlan,
    case: Case,
    *,
    stack: str,
    bucket: str,
    region: str,
) -> CasePlan:
    claim = f"{case.name}-output" if settings.output.kind == "pvc" else None
    results = results_uri(
        bucket=bucket, prefix=settings.bucket.prefix, stack=stack, case=case.name
    )
    target = CaseTarget(
        case=case,
        stack=stack,
        namespace=settings.namespace.name,
        service_account=settings.access.service_account,
        deck=deck_plan.source,
        output_claim=claim,
        results_uri=results,
        region=region,
    )
    return CasePlan(
        case=case,
        deck=deck_plan,
        output_claim=claim,
        results=results,
        job=job_manifest(settings, target),
    )
