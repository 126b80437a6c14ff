"""Delivers deck folders to pods: immutable ConfigMaps, or objects staged in S3."""

from __future__ import annotations

import base64

import pulumi
import pulumi_aws as aws
import pulumi_kubernetes as k8s

from components.plan import DeckPlan


class DeckStore(pulumi.ComponentResource):
    """Holds every deck's files where its cases' pods can read them."""

    resources: dict[str, list[pulumi.Resource]]

    def __init__(
        self,
        name: str,
        *,
        decks: tuple[DeckPlan, ...],
        namespace: pulumi.Input[str],
        labels: dict[str, str],
        bucket: pulumi.Input[str] | None,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__("clarissa:sim:DeckStore", name, None, opts)

        self.resources = {}
        for plan in decks:
            if plan.config_map is not None:
                stored = [self._config_map(plan, namespace, labels)]
            else:
                stored = self._staged_objects(plan, bucket)
                pulumi.log.info(
                    f"deck {plan.deck.name} ({plan.deck.payload_bytes} bytes) is too "
                    f"large for a ConfigMap; staged at {plan.staged_prefix}",
                    resource=self,
                )
            self.resources[plan.deck.name] = stored

        self.register_outputs({})

    def _config_map(
        self, plan: DeckPlan, namespace: pulumi.Input[str], labels: dict[str, str]
    ) -> pulumi.Resource:
        data: dict[str, str] = {}
        binary: dict[str, str] = {}
        for file in plan.deck.files:
            content = file.path.read_bytes()
            if file.is_text:
                data[file.key] = content.decode("utf-8")
            else:
                binary[file.key] = base64.b64encode(content).decode("ascii")
        config_map: pulumi.Resource = k8s.core.v1.ConfigMap(
            f"deck-{plan.deck.label}-files",
            metadata={
                "name": plan.config_map,
                "namespace": namespace,
                "labels": labels,
            },
            # The name carries a hash of the content, so an edited deck is a
            # new ConfigMap and nothing ever needs to change one in place.
            immutable=True,
            data=data or None,
            binary_data=binary or None,
            opts=pulumi.ResourceOptions(parent=self),
        )
        return config_map

    def _staged_objects(
        self, plan: DeckPlan, bucket: pulumi.Input[str] | None
    ) -> list[pulumi.Resource]:
        if plan.staged_prefix is None or bucket is None:
            raise ValueError("a staged deck needs a managed bucket")
        key_prefix = plan.staged_prefix.split("/", 3)[3]
        return [
            aws.s3.BucketObjectv2(
                f"deck-{plan.deck.label}-{file.key}",
                bucket=bucket,
                key=f"{key_prefix}{file.relative_path}",
                source=pulumi.FileAsset(str(file.path)),
                opts=pulumi.ResourceOptions(parent=self),
            )
            for file in plan.deck.files
        ]
