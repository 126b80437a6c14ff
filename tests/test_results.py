"""Tests for tools.results (the CLI) and tools.summary (reading OPM Flow summaries)."""

from __future__ import annotations

import csv
import subprocess
import sys
import types
from pathlib import Path

import boto3
import numpy as np
import pytest
import resfo

from tests.conftest import require_binary, run_tool
from tools import results, summary

REPO = Path(__file__).resolve().parents[1]
DECK = REPO / "decks" / "spe1" / "SPE1CASE1.DATA"

# The stock SPE1 deck asks for no field totals nor FPR; the table and plot are
# about those, so the test run asks for them as well.
FIELD_VECTORS = ["FOPT", "FGPT", "FWPT", "FWIT", "FGIT", "FPR"]
FIELD_VECTORS += ["FGPR", "FWPR", "FWIR", "FGIR"]


@pytest.fixture(scope="session")
def spe1_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder holding the SPE1 deck and Flow's output of it in output/."""
    require_binary("flow")
    run = tmp_path_factory.mktemp("spe1")
    deck = DECK.read_text()
    extra = "\n".join(FIELD_VECTORS)
    (run / "SPE1CASE1.DATA").write_text(
        deck.replace("\nSUMMARY\n", f"\nSUMMARY\n{extra}\n", 1)
    )
    done = subprocess.run(
        ["flow", "SPE1CASE1.DATA", "--output-dir=output"],
        cwd=run,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    return run


@pytest.fixture(scope="session")
def spe1_output(spe1_run: Path) -> Path:
    """Flow's output folder of the SPE1 run."""
    return spe1_run / "output"


@pytest.fixture(scope="session")
def spe1_cli(spe1_output: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The --out folder of one real `python -m tools.results` run on SPE1."""
    out = tmp_path_factory.mktemp("results")
    done = _cli("--from", str(spe1_output), "--out", str(out))
    assert done.returncode == 0, done.stderr
    (out / "stdout.txt").write_text(done.stdout)
    return out


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return run_tool("results", "--stack", "dev", "--case", "spe1", *args)


def _smspec_keywords(smspec: Path) -> list[str]:
    arrays = dict(resfo.read(smspec))
    return [k.decode().strip() for k in np.asarray(arrays["KEYWORDS"])]


def _unsmry_params(unsmry: Path) -> list[np.ndarray]:
    return [np.asarray(a) for key, a in resfo.read(unsmry) if key == "PARAMS  "]


def _table_value(stdout: str, keyword: str) -> float:
    for line in stdout.splitlines():
        cells = line.split()
        if cells and cells[0] == keyword:
            numbers = [
                c for c in cells if c.replace(",", "").replace(".", "").isdigit()
            ]
            return float(numbers[0].replace(",", ""))
    raise AssertionError(f"{keyword} not in table:\n{stdout}")


@pytest.mark.simulator
def test_table_fopt_equals_last_fopt_in_unsmry(
    spe1_cli: Path, spe1_output: Path
) -> None:
    keywords = _smspec_keywords(spe1_output / "SPE1CASE1.SMSPEC")
    last = _unsmry_params(spe1_output / "SPE1CASE1.UNSMRY")[-1]
    expected = float(last[keywords.index("FOPT")])
    printed = _table_value((spe1_cli / "stdout.txt").read_text(), "FOPT")
    assert expected > 0
    assert printed == pytest.approx(expected, abs=0.05)


@pytest.mark.simulator
def test_table_lists_units_from_smspec(spe1_cli: Path, spe1_output: Path) -> None:
    arrays = dict(resfo.read(spe1_output / "SPE1CASE1.SMSPEC"))
    keywords = [k.decode().strip() for k in np.asarray(arrays["KEYWORDS"])]
    unit = np.asarray(arrays["UNITS   "])[keywords.index("FPR")].decode().strip()
    fpr_line = next(
        line
        for line in (spe1_cli / "stdout.txt").read_text().splitlines()
        if line.startswith("FPR ")
    )
    assert unit and unit in fpr_line.split()


@pytest.mark.simulator
def test_csv_has_a_column_per_vector_and_a_row_per_step(
    spe1_cli: Path, spe1_output: Path
) -> None:
    keywords = _smspec_keywords(spe1_output / "SPE1CASE1.SMSPEC")
    steps = len(_unsmry_params(spe1_output / "SPE1CASE1.UNSMRY"))
    with (spe1_cli / "summary.csv").open() as stream:
        header, *rows = list(csv.reader(stream))
    assert header[:2] == ["TIME", "DATE"]
    assert len(set(header)) == len(header)
    # Every SMSPEC vector (TIME among them) plus the DATE column.
    assert len(header) == len(keywords) + 1
    assert {h.split(":")[0] for h in header} - {"DATE"} == set(keywords)
    assert len(rows) == steps


@pytest.mark.simulator
def test_png_is_a_valid_nontrivial_png(spe1_cli: Path) -> None:
    png = spe1_cli / "summary.png"
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert png.stat().st_size > 20_000


@pytest.mark.simulator
def test_from_parent_folder_finds_smspec(spe1_run: Path, tmp_path: Path) -> None:
    done = _cli("--from", str(spe1_run), "--out", str(tmp_path))
    assert done.returncode == 0, done.stderr
    assert "FOPT" in done.stdout
    assert (tmp_path / "summary.csv").is_file()


def test_missing_folder_exits_2_with_one_error_line(tmp_path: Path) -> None:
    done = _cli("--from", str(tmp_path / "nowhere"), "--out", str(tmp_path))
    assert done.returncode == 2
    assert done.stderr.startswith("error: ")
    assert len(done.stderr.strip().splitlines()) == 1


def test_folder_without_smspec_exits_2(tmp_path: Path) -> None:
    (tmp_path / "run").mkdir()
    done = _cli("--from", str(tmp_path / "run"), "--out", str(tmp_path))
    assert done.returncode == 2
    assert done.stderr.startswith("error: no *.SMSPEC")


def test_several_smspecs_none_matching_case_is_an_error_listing_them(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    for name in ("a/ONE.SMSPEC", "b/TWO.SMSPEC"):
        (tmp_path / name).parent.mkdir()
        (tmp_path / name).touch()
    code = results.main(["--stack", "dev", "--case", "spe1", "--from", str(tmp_path)])
    err = capsys.readouterr().err
    assert code == 2
    assert "a/ONE.SMSPEC" in err and "b/TWO.SMSPEC" in err


def test_several_smspecs_pick_the_one_named_like_the_case(tmp_path: Path) -> None:
    for name in ("a/OTHER.SMSPEC", "b/Spe1.SMSPEC"):
        (tmp_path / name).parent.mkdir()
        (tmp_path / name).touch()
    assert summary.find_smspec(tmp_path, "spe1") == tmp_path / "b/Spe1.SMSPEC"


@pytest.fixture
def fake_render(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> dict[str, object]:
    """Stand-in tools.render with two cases, and no pulumi CLI on PATH."""
    outputs: dict[str, object] = {
        "cases": {
            "spe1": {"results": "s3://bucket/results/dev/spe1/"},
            "norne": {"results": "s3://bucket/results/dev/norne/"},
        }
    }
    module = types.ModuleType("tools.render")
    module.render_outputs = lambda stack: outputs  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "tools.render", module)
    monkeypatch.setenv("PATH", str(tmp_path / "empty-bin"))
    return outputs


def test_unknown_case_exits_2_listing_known_cases(
    fake_render: dict[str, object], capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["--stack", "dev", "--case", "nope", "--s3-endpoint", "aws"]
    code = results.main(argv)
    err = capsys.readouterr().err
    assert code == 2
    assert err.startswith("error: unknown case 'nope'")
    assert "norne" in err and "spe1" in err
    assert "Traceback" not in err


def test_results_uri_comes_from_render_outputs(fake_render: dict[str, object]) -> None:
    assert results.results_uri("dev", "norne") == "s3://bucket/results/dev/norne/"


def test_results_uri_prefers_the_pulumi_cli(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    pulumi = tmp_path / "pulumi"
    pulumi.write_text(
        "#!/bin/sh\n"
        'test "$*" = "stack output --json --stack qa" || exit 1\n'
        'echo \'{"cases": {"spe1": {"results": "s3://b/qa/spe1/"}}}\'\n'
    )
    pulumi.chmod(0o755)
    monkeypatch.setenv("PATH", str(tmp_path))
    assert results.results_uri("qa", "spe1") == "s3://b/qa/spe1/"


@pytest.mark.simulator
@pytest.mark.s3
def test_s3_download_then_summary(
    spe1_output: Path,
    s3_endpoint: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    client = boto3.client("s3", endpoint_url=s3_endpoint)
    client.create_bucket(Bucket="bucket")
    uploaded = sorted(p.name for p in spe1_output.iterdir())
    for name in uploaded:
        client.upload_file(
            str(spe1_output / name), "bucket", f"results/dev/spe1/output/{name}"
        )
    client.put_object(Bucket="bucket", Key="results/dev/spe10/decoy.txt", Body=b"x")
    uri = "s3://bucket/results/dev/spe1"
    argv = ["--stack", "dev", "--case", "spe1", "--s3-endpoint", s3_endpoint]
    code = results.main([*argv, "--results-uri", uri, "--out", str(tmp_path)])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert sorted(p.name for p in (tmp_path / "output").iterdir()) == uploaded
    assert not (tmp_path / "decoy.txt").exists()
    assert f"downloaded {len(uploaded)} files" in captured.err
    assert "FOPT" in captured.out
    assert (tmp_path / "summary.png").is_file()


@pytest.mark.s3
def test_empty_s3_prefix_exits_2(
    s3_endpoint: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    boto3.client("s3", endpoint_url=s3_endpoint).create_bucket(Bucket="bucket")
    argv = ["--stack", "dev", "--case", "spe1", "--s3-endpoint", s3_endpoint]
    uri = "s3://bucket/results/dev/spe1/"
    code = results.main([*argv, "--results-uri", uri, "--out", str(tmp_path)])
    assert code == 2
    assert capsys.readouterr().err.strip() == f"error: no objects under {uri}"


def _write_spec(path: Path, vectors: list[tuple[str, str, int, str]]) -> None:
    """Write a minimal SMSPEC for (keyword, wgname, num, unit) vectors."""

    def text(items: list[str]) -> np.ndarray:
        return np.array([s.ljust(8).encode() for s in items], dtype="|S8")

    resfo.write(
        path,
        [
            ("INTEHEAD", np.array([1, 100], dtype=np.int32)),
            ("DIMENS  ", np.array([len(vectors), 2, 3, 4, 0, 0], dtype=np.int32)),
            ("KEYWORDS", text([v[0] for v in vectors])),
            ("WGNAMES ", text([v[1] for v in vectors])),
            ("NUMS    ", np.array([v[2] for v in vectors], dtype=np.int32)),
            ("UNITS   ", text([v[3] for v in vectors])),
            ("STARTDAT", np.array([1, 1, 2020, 0, 0, 0], dtype=np.int32)),
        ],
    )


def _steps(rows: list[list[float]]) -> list[tuple[str, np.ndarray]]:
    contents: list[tuple[str, np.ndarray]] = []
    for number, row in enumerate(rows):
        contents.append(("MINISTEP", np.array([number], dtype=np.int32)))
        contents.append(("PARAMS  ", np.array(row, dtype=np.float32)))
    return contents


WELL_TOTALS = [
    ("TIME", ":+:+:+:+", 0, "DAYS"),
    ("WOPT", "P1", 0, "SM3"),
    ("WOPT", "P2", 0, "SM3"),
]


def test_field_total_missing_from_deck_is_summed_over_wells(tmp_path: Path) -> None:
    _write_spec(tmp_path / "CASE.SMSPEC", WELL_TOTALS)
    rows = [[1.0, 10.0, 5.0], [2.0, 30.0, 7.5]]
    seqhdr = [("SEQHDR  ", np.array([1], dtype=np.int32))]
    resfo.write(tmp_path / "CASE.UNSMRY", seqhdr + _steps(rows))
    read = summary.read_summary(tmp_path / "CASE.SMSPEC")
    (fopt,) = [r for r in summary.field_totals(read) if r.keyword == "FOPT"]
    assert fopt.value == pytest.approx(30.0 + 7.5)
    assert fopt.unit == "SM3"
    assert "sum of WOPT" in fopt.source


def test_field_total_not_summed_when_a_well_lacks_the_vector(tmp_path: Path) -> None:
    vectors = [*WELL_TOTALS[:2], ("WBHP", "P2", 0, "BARSA")]
    _write_spec(tmp_path / "CASE.SMSPEC", vectors)
    resfo.write(tmp_path / "CASE.UNSMRY", _steps([[1.0, 10.0, 200.0]]))
    read = summary.read_summary(tmp_path / "CASE.SMSPEC")
    assert summary.field_totals(read) == []
    assert "FOPT" in summary.missing_totals(read)


def test_non_unified_summary_files_are_read_in_order(tmp_path: Path) -> None:
    _write_spec(tmp_path / "CASE.SMSPEC", WELL_TOTALS)
    first = [[1.0, 1.0, 1.0], [2.0, 2.0, 2.0]]
    second = [[3.0, 3.0, 3.0]]
    resfo.write(tmp_path / "CASE.S0002", _steps(second))
    resfo.write(tmp_path / "CASE.S0001", _steps(first))
    read = summary.read_summary(tmp_path / "CASE.SMSPEC")
    assert read.days.tolist() == [1.0, 2.0, 3.0]


def test_column_names_are_qualified_by_kind() -> None:
    dims = [0, 2, 3, 4]
    names = [
        summary.column_name(keyword=k, wgname=w, num=n, dims=dims)
        for k, w, n in [
            ("FOPR", ":+:+:+:+", 0),
            ("WOPR", "PROD", 0),
            ("BPR", ":+:+:+:+", (2 - 1) * 2 * 3 + (3 - 1) * 2 + 2),
            ("CWIR", "INJ", 1),
            ("RPR", ":+:+:+:+", 5),
        ]
    ]
    # The BPR cell number is built from (i, j, k) = (2, 3, 2) in a 2x3 layer.
    assert names == ["FOPR", "WOPR:PROD", "BPR:2,3,2", "CWIR:INJ:1,1,1", "RPR:5"]


def test_repeated_column_names_get_a_counter() -> None:
    assert summary.unique_names(["A", "B", "A", "A"]) == ["A", "B", "A#2", "A#3"]
