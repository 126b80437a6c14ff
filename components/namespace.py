"""The stack's namespace, its Pod Security labels, quota and default limits."""

from __future__ import annotations

import pulumi
import pulumi_kubernetes as k8s

from components.settings import NamespaceSettings

POD_SECURITY_LABELS = {
    f"pod-security.kubernetes.io/{mode}": "restricted"
    for mode in ("enforce", "audit", "warn")
} | {"pod-security.kubernetes.io/enforce-version": "latest"}


class SimulationNamespace(pulumi.ComponentResource):
    """A namespace enforcing the restricted Pod Security profile, or an existing one."""

    name: pulumi.Output[str]

    def __init__(
        self,
        name: str,
        *,
        settings: NamespaceSettings,
        labels: dict[str, str],
        retain: bool,
        protect: bool,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__("clarissa:sim:Namespace", name, None, opts)

        if settings.create:
            namespace = k8s.core.v1.Namespace(
                f"{name}-namespace",
                metadata={
                    "name": settings.name,
                    "labels": {**labels, **POD_SECURITY_LABELS},
                },
                # Deleting a namespace deletes every PVC in it, so a stack
                # that retains its PVCs must retain their namespace too.
                opts=pulumi.ResourceOptions(
                    parent=self, retain_on_delete=retain, protect=protect
                ),
            )
            self.name = namespace.metadata.name
        else:
            self.name = pulumi.Output.from_input(settings.name)

        if settings.quota is not None:
            quota = settings.quota
            hard = {
                key: value
                for key, value in {
                    "requests.cpu": quota.requests_cpu,
                    "requests.memory": quota.requests_memory,
                    "limits.cpu": quota.limits_cpu,
                    "limits.memory": quota.limits_memory,
                    "requests.storage": quota.requests_storage,
                    "pods": None if quota.pods is None else str(quota.pods),
                }.items()
                if value is not None
            }
            k8s.core.v1.ResourceQuota(
                f"{name}-quota",
                metadata={
                    "name": "simulations",
                    "namespace": self.name,
                    "labels": labels,
                },
                spec={"hard": hard},
                opts=pulumi.ResourceOptions(parent=self),
            )

        if settings.limit_range is not None:
            limits = settings.limit_range
            k8s.core.v1.LimitRange(
                f"{name}-limits",
                metadata={
                    "name": "simulations",
                    "namespace": self.name,
                    "labels": labels,
                },
                spec={
                    "limits": [
                        {
                            "type": "Container",
                            "defaultRequest": limits.default_request.model_dump(),
                            "default": limits.default.model_dump(),
                        }
                    ]
                },
                opts=pulumi.ResourceOptions(parent=self),
            )

        self.register_outputs({"name": self.name})
