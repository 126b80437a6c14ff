"""The simulation cases: each one's output volume claim and the Job that runs it."""

from __future__ import annotations

from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from components.plan import CasePlan
from components.settings import StackSettings


class Simulations(pulumi.ComponentResource):
    """Runs every case as a Job and, with PVC output, keeps each case's claim.

    One component holds all cases: a component per case would double the
    resources the engine tracks for large case sets without adding anything
    a user acts on.
    """

    job_names: dict[str, pulumi.Output[str]]

    def __init__(
        self,
        name: str,
        *,
        cases: tuple[CasePlan, ...],
        settings: StackSettings,
        namespace: pulumi.Input[str],
        needs: dict[str, list[pulumi.Resource]],
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__("clarissa:sim:Simulations", name, None, opts)

        self.job_names = {}
        for plan in cases:
            case = plan.case.name
            depends_on = list(needs.get(case, []))
            if plan.output_claim is not None:
                depends_on.append(self._claim(plan, settings, namespace))
            job = k8s.batch.v1.Job(
                f"case-{case}-job",
                metadata={**plan.job["metadata"], "namespace": namespace},
                spec=plan.job["spec"],
                opts=pulumi.ResourceOptions(
                    parent=self,
                    depends_on=depends_on,
                    custom_timeouts=_job_timeouts(settings),
                ),
            )
            self.job_names[case] = job.metadata.name

        self.register_outputs({})

    def _claim(
        self,
        plan: CasePlan,
        settings: StackSettings,
        namespace: pulumi.Input[str],
    ) -> pulumi.Resource:
        output = settings.output
        spec: dict[str, Any] = {
            "accessModes": [output.access_mode],
            "resources": {"requests": {"storage": output.size}},
        }
        if output.storage_class is not None:
            spec["storageClassName"] = output.storage_class
        claim: pulumi.Resource = k8s.core.v1.PersistentVolumeClaim(
            f"case-{plan.case.name}-output",
            metadata={
                "name": plan.output_claim,
                "namespace": namespace,
                "labels": plan.job["metadata"]["labels"],
                # Claims of WaitForFirstConsumer classes bind only once the
                # Job's pod is scheduled, which is after this resource.
                "annotations": {"pulumi.com/skipAwait": "true"},
            },
            spec=spec,
            opts=pulumi.ResourceOptions(
                parent=self,
                retain_on_delete=output.retain,
                protect=settings.protect,
            ),
        )
        return claim


def _job_timeouts(settings: StackSettings) -> pulumi.CustomTimeouts | None:
    if not settings.job.wait_for_completion:
        return None
    minutes = f"{settings.job.wait_timeout_minutes}m"
    return pulumi.CustomTimeouts(create=minutes, update=minutes)
