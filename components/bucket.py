"""The results bucket with its hardening, or an existing bucket that is only named."""

from __future__ import annotations

import json

import pulumi
import pulumi_aws as aws

from components.settings import BucketSettings

s3 = aws.s3


class ResultsBucket(pulumi.ComponentResource):
    """A private, versioned, encrypted bucket that refuses plain-HTTP requests."""

    name: pulumi.Output[str]
    arn: pulumi.Output[str]

    def __init__(
        self,
        name: str,
        *,
        bucket_name: str,
        settings: BucketSettings,
        tags: dict[str, str],
        protect: bool,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__("clarissa:sim:ResultsBucket", name, None, opts)

        if settings.existing is not None:
            # Nothing is created: the bucket belongs to someone else.
            self.name = pulumi.Output.from_input(settings.existing)
            self.arn = pulumi.Output.from_input(f"arn:aws:s3:::{settings.existing}")
            self.register_outputs({"name": self.name})
            return

        child = pulumi.ResourceOptions(parent=self)
        bucket = s3.Bucket(
            f"{name}-bucket",
            bucket=bucket_name,
            force_destroy=settings.force_destroy,
            tags=tags,
            opts=pulumi.ResourceOptions(parent=self, protect=protect),
        )
        self.name = bucket.bucket
        self.arn = bucket.arn

        s3.BucketVersioning(
            f"{name}-versioning",
            bucket=bucket.id,
            versioning_configuration=s3.BucketVersioningVersioningConfigurationArgs(
                status="Enabled"
            ),
            opts=child,
        )
        s3.BucketServerSideEncryptionConfiguration(
            f"{name}-encryption",
            bucket=bucket.id,
            rules=[
                s3.BucketServerSideEncryptionConfigurationRuleArgs(
                    apply_server_side_encryption_by_default=s3.BucketServerSideEncryptionConfigurationRuleApplyServerSideEncryptionByDefaultArgs(
                        sse_algorithm="AES256"
                    ),
                )
            ],
            opts=child,
        )
        public_access = s3.BucketPublicAccessBlock(
            f"{name}-public-access",
            bucket=bucket.id,
            block_public_acls=True,
            block_public_policy=True,
            ignore_public_acls=True,
            restrict_public_buckets=True,
            opts=child,
        )
        s3.BucketOwnershipControls(
            f"{name}-ownership",
            bucket=bucket.id,
            rule=s3.BucketOwnershipControlsRuleArgs(
                object_ownership="BucketOwnerEnforced"
            ),
            opts=child,
        )
        s3.BucketLifecycleConfiguration(
            f"{name}-lifecycle",
            bucket=bucket.id,
            rules=[
                s3.BucketLifecycleConfigurationRuleArgs(
                    id="expire-old-versions-and-stale-uploads",
                    status="Enabled",
                    filter=s3.BucketLifecycleConfigurationRuleFilterArgs(prefix=""),
                    noncurrent_version_expiration=s3.BucketLifecycleConfigurationRuleNoncurrentVersionExpirationArgs(
                        noncurrent_days=settings.noncurrent_version_expiration_days
                    ),
                    abort_incomplete_multipart_upload=s3.BucketLifecycleConfigurationRuleAbortIncompleteMultipartUploadArgs(
                        days_after_initiation=7
                    ),
                )
            ],
            opts=child,
        )
        s3.BucketPolicy(
            f"{name}-tls-only",
            bucket=bucket.id,
            policy=bucket.arn.apply(tls_only_policy),
            # A policy put before the public access block can be refused as
            # public by accounts that block public policies by default.
            opts=pulumi.ResourceOptions(parent=self, depends_on=[public_access]),
        )

        self.register_outputs({"name": self.name, "arn": self.arn})


def tls_only_policy(bucket_arn: str) -> str:
    """Return a bucket policy that denies every request not made over TLS."""
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Sid": "DenyInsecureTransport",
                    "Effect": "Deny",
                    "Principal": "*",
                    "Action": "s3:*",
                    "Resource": [bucket_arn, f"{bucket_arn}/*"],
                    "Condition": {"Bool": {"aws:SecureTransport": "false"}},
                }
            ],
        }
    )
