"""CLI: fetch a finished case's summary, print field totals, write summary.csv/png.

Usage::

    python -m tools.results --stack STACK --case CASE
        [--from DIR | --s3-endpoint URL|aws] [--results-uri s3://...] [--out DIR]
"""

from __future__ import annotations

import argparse
import json
import logging
import shutil
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path, PurePosixPath
from typing import Any

import boto3
import botocore.exceptions

from tools.summary import (
    SummaryError,
    field_totals,
    find_smspec,
    format_table,
    missing_totals,
    plot_summary,
    read_summary,
    write_csv,
)

log = logging.getLogger("tools.results")

# Failures of these kinds come from the user's setup, not from a bug here.
_S3_ERRORS = (
    botocore.exceptions.BotoCoreError,
    botocore.exceptions.ClientError,
)


class UserError(Exception):
    """A mistake in the user's input or setup; the message is meant for the user."""


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; return the process exit code."""
    _configure_logging()
    args = _parse_args(argv)
    try:
        _run(args)
    except (UserError, SummaryError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    return 0


class _StderrHandler(logging.Handler):
    """Log handler that writes to whatever sys.stderr is when a record arrives."""

    def emit(self, record: logging.LogRecord) -> None:
        """Write one formatted record as a line on the current stderr."""
        # Looked up per record, not stored: tests and callers may swap stderr.
        try:
            print(self.format(record), file=sys.stderr)
        except Exception:
            self.handleError(record)


def _configure_logging() -> None:
    # Our own handler keeps boto's and matplotlib's chatter out of stderr.
    logger = logging.getLogger("tools")
    if any(isinstance(h, _StderrHandler) for h in logger.handlers):
        return
    handler = _StderrHandler()
    handler.setFormatter(logging.Formatter("results: %(message)s"))
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    logger.propagate = False


def _parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m tools.results",
        description="Print field totals of a finished case; write summary.csv/png.",
    )
    parser.add_argument("--stack", required=True, help="Pulumi stack name")
    parser.add_argument("--case", required=True, help="case name in the stack")
    source = parser.add_mutually_exclusive_group()
    source.add_argument(
        "--from",
        dest="from_dir",
        type=Path,
        help="local output folder, or a run folder with the SMSPEC below it",
    )
    source.add_argument(
        "--s3-endpoint",
        help="S3 endpoint URL to download the results from, or 'aws' for AWS",
    )
    parser.add_argument(
        "--results-uri",
        help="s3://bucket/prefix/ to download instead of the stack output's URI",
    )
    parser.add_argument(
        "--out", type=Path, help="output folder (default results/STACK/CASE/)"
    )
    return parser.parse_args(argv)


def _run(args: argparse.Namespace) -> None:
    out: Path = args.out or Path("results") / args.stack / args.case
    root = _source_folder(args, out=out)
    summary = read_summary(find_smspec(root, args.case))
    print(format_table(summary, field_totals(summary)))
    missing = missing_totals(summary)
    if missing:
        log.info("not in the summary: %s", ", ".join(missing))
    out.mkdir(parents=True, exist_ok=True)
    write_csv(summary, out / "summary.csv")
    log.info("wrote %s", out / "summary.csv")
    title = f"{args.stack}/{args.case} ({summary.case}): field rates and pressure"
    plot_summary(summary, out / "summary.png", title=title)


def _source_folder(args: argparse.Namespace, *, out: Path) -> Path:
    """The local folder to search for the SMSPEC, downloading from S3 if asked."""
    if args.from_dir is not None:
        if args.results_uri:
            raise UserError("--results-uri reads from S3; drop it or drop --from")
        return Path(args.from_dir)
    if args.s3_endpoint is None and args.results_uri is None:
        raise UserError("say where the results are: --from DIR or --s3-endpoint URL")
    uri = args.results_uri or results_uri(args.stack, args.case)
    endpoint = None if args.s3_endpoint in (None, "aws") else args.s3_endpoint
    download(uri, out, endpoint=endpoint)
    return out


def results_uri(stack: str, case: str) -> str:
    """The s3:// results URI of `case` from the outputs of Pulumi stack `stack`."""
    outputs = _stack_outputs(stack)
    cases = outputs.get("cases")
    if not isinstance(cases, dict):
        raise UserError(f"stack {stack} has no 'cases' output")
    if case not in cases:
        known = ", ".join(sorted(cases)) or "none"
        raise UserError(f"unknown case {case!r} in stack {stack}; known cases: {known}")
    uri = cases[case].get("results") if isinstance(cases[case], dict) else None
    if not isinstance(uri, str) or not uri:
        raise UserError(f"case {case} in stack {stack} has no 'results' output")
    return uri


def _stack_outputs(stack: str) -> dict[str, Any]:
    if shutil.which("pulumi"):
        return _pulumi_outputs(stack)
    # Imported lazily: it is needed only when the pulumi CLI is absent.
    from components.errors import InputError
    from tools.render import render_outputs

    try:
        outputs: dict[str, Any] = render_outputs(stack)
    except InputError as err:
        raise UserError(str(err)) from err
    return outputs


def _pulumi_outputs(stack: str) -> dict[str, Any]:
    command = ["pulumi", "stack", "output", "--json", "--stack", stack]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        reason = (done.stderr.strip().splitlines() or ["no message"])[-1]
        raise UserError(f"pulumi stack output --stack {stack} failed: {reason}")
    outputs = json.loads(done.stdout or "{}")
    if not isinstance(outputs, dict):
        raise UserError(f"pulumi stack output --stack {stack} is not a JSON object")
    return outputs


def split_s3_uri(uri: str) -> tuple[str, str]:
    """Bucket and key prefix (ending in '/' unless empty) of an s3:// URI."""
    if not uri.startswith("s3://"):
        raise UserError(f"not an s3:// URI: {uri}")
    bucket, _, prefix = uri[len("s3://") :].partition("/")
    if not bucket:
        raise UserError(f"no bucket in {uri}")
    # Without the slash, prefix "runs/a" would also pick up "runs/ab/...".
    if prefix and not prefix.endswith("/"):
        prefix += "/"
    return bucket, prefix


def download(uri: str, dest: Path, *, endpoint: str | None) -> int:
    """Download every object under `uri` into `dest`; return how many."""
    bucket, prefix = split_s3_uri(uri)
    client = boto3.client("s3", endpoint_url=endpoint)
    try:
        keys = _list_keys(client, bucket=bucket, prefix=prefix)
        if not keys:
            raise UserError(f"no objects under {uri}")
        for key in keys:
            target = _local_path(dest, key=key, prefix=prefix)
            target.parent.mkdir(parents=True, exist_ok=True)
            client.download_file(bucket, key, str(target))
    except _S3_ERRORS as err:
        raise UserError(f"S3 {uri}: {err}") from err
    log.info("downloaded %d files from %s to %s", len(keys), uri, dest)
    return len(keys)


def _list_keys(client: Any, *, bucket: str, prefix: str) -> list[str]:
    pages = client.get_paginator("list_objects_v2").paginate(
        Bucket=bucket, Prefix=prefix
    )
    # Keys ending in '/' are folder markers made by some tools, not files.
    return [
        item["Key"]
        for page in pages
        for item in page.get("Contents", [])
        if not item["Key"].endswith("/")
    ]


def _local_path(dest: Path, *, key: str, prefix: str) -> Path:
    relative = PurePosixPath(key[len(prefix) :])
    # A key is remote input: never let it write outside the destination.
    if relative.is_absolute() or ".." in relative.parts:
        raise UserError(f"refusing S3 key outside {prefix!r}: {key}")
    return dest.joinpath(*relative.parts)


if __name__ == "__main__":
    sys.exit(main())
