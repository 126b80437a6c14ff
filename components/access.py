"""Pod identity: a ServiceAccount and, with IRSA, an IAM role scoped to the stack."""

from __future__ import annotations

import json

import pulumi
import pulumi_aws as aws
import pulumi_kubernetes as k8s

from components.settings import AccessSettings


class BucketAccess(pulumi.ComponentResource):
    """A ServiceAccount whose pods may write only under the stack's bucket prefix."""

    service_account: pulumi.Output[str]
    ready: list[pulumi.Resource]

    def __init__(
        self,
        name: str,
        *,
        settings: AccessSettings,
        namespace: pulumi.Input[str],
        namespace_name: str,
        bucket_arn: pulumi.Input[str],
        stack_prefix: str,
        role_name: str,
        labels: dict[str, str],
        tags: dict[str, str],
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__("clarissa:sim:BucketAccess", name, None, opts)

        annotations: dict[str, pulumi.Input[str]] = {}
        self.ready = []
        irsa = settings.irsa
        if irsa is not None:
            subject = (
                f"system:serviceaccount:{namespace_name}:{settings.service_account}"
            )
            role = aws.iam.Role(
                f"{name}-role",
                name=role_name,
                assume_role_policy=json.dumps(
                    trust_policy(
                        provider_arn=irsa.oidc_provider_arn,
                        issuer=irsa.issuer_host_path,
                        subject=subject,
                    )
                ),
                tags=tags,
                opts=pulumi.ResourceOptions(parent=self),
            )
            policy = aws.iam.RolePolicy(
                f"{name}-bucket-policy",
                role=role.id,
                policy=pulumi.Output.from_input(bucket_arn).apply(
                    lambda arn: json.dumps(prefix_policy(arn, stack_prefix))
                ),
                opts=pulumi.ResourceOptions(parent=self),
            )
            annotations["eks.amazonaws.com/role-arn"] = role.arn
            self.ready.append(policy)

        account = k8s.core.v1.ServiceAccount(
            f"{name}-service-account",
            metadata={
                "name": settings.service_account,
                "namespace": namespace,
                "labels": labels,
                "annotations": annotations or None,
            },
            automount_service_account_token=False,
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.service_account = account.metadata.name
        self.ready.append(account)
        self.register_outputs({"serviceAccount": self.service_account})


def trust_policy(*, provider_arn: str, issuer: str, subject: str) -> dict[str, object]:
    """Return a trust policy that only the given ServiceAccount can assume."""
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Federated": provider_arn},
                "Action": "sts:AssumeRoleWithWebIdentity",
                "Condition": {
                    "StringEquals": {
                        f"{issuer}:sub": subject,
                        f"{issuer}:aud": "sts.amazonaws.com",
                    }
                },
            }
        ],
    }


def prefix_policy(bucket_arn: str, stack_prefix: str) -> dict[str, object]:
    """Return a policy that writes results and reads staged decks under one prefix."""
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "WriteResults",
                "Effect": "Allow",
                "Action": ["s3:PutObject", "s3:AbortMultipartUpload"],
                "Resource": f"{bucket_arn}/{stack_prefix}/*",
            },
            {
                "Sid": "ReadStagedDecks",
                "Effect": "Allow",
                "Action": "s3:GetObject",
                "Resource": f"{bucket_arn}/{stack_prefix}/_decks/*",
            },
            {
                "Sid": "ListStagedDecks",
                "Effect": "Allow",
                "Action": "s3:ListBucket",
                "Resource": bucket_arn,
                "Condition": {"StringLike": {"s3:prefix": f"{stack_prefix}/_decks/*"}},
            },
        ],
    }
