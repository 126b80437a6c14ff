"""One simulation case: its output volume claim and the Job that runs it."""

from __future__ import annotations

from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from components.plan import CasePlan
from components.settings import StackSettings


class SimulationCase(pulumi.ComponentResource):
    """Runs one case as a Job and, with PVC output, keeps its output claim."""

    job_name: pulumi.Output[str]

    def __init__(
        self,
        name: str,
        *,
        plan: CasePlan,
        settings: StackSettings,
        namespace: pulumi.Input[str],
        depends_on: list[pulumi.Resource],
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__("clarissa:sim:Case", name, None, opts)

        labels = plan.job["metadata"]["labels"]
        needs = list(depends_on)
        if plan.output_claim is not None:
            needs.append(self._claim(name, plan, settings, namespace, labels))

        job = k8s.batch.v1.Job(
            f"{name}-job",
            metadata={**plan.job["metadata"], "namespace": namespace},
            spec=plan.job["spec"],
            opts=pulumi.ResourceOptions(
                parent=self,
                depends_on=needs,
                custom_timeouts=_job_timeouts(settings),
            ),
        )
        self.job_name = job.metadata.name
        self.register_outputs({"job": self.job_name})

    def _claim(
        self,
        name: str,
        plan: CasePlan,
        settings: StackSettings,
        namespace: pulumi.Input[str],
        labels: dict[str, str],
    ) -> pulumi.Resource:
        output = settings.output
        spec: dict[str, Any] = {
            "accessModes": [output.access_mode],
            "resources": {"requests": {"storage": output.size}},
        }
        if output.storage_class is not None:
            spec["storageClassName"] = output.storage_class
        claim: pulumi.Resource = k8s.core.v1.PersistentVolumeClaim(
            f"{name}-output",
            metadata={
                "name": plan.output_claim,
                "namespace": namespace,
                "labels": labels,
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
