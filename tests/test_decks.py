"""Deck discovery: cases, include checks, file classes and content hashes."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from components.decks import scan_decks
from components.errors import InputError
from tests.conftest import REPO

RUNSPEC_DECK = "RUNSPEC\nDIMENS\n 1 1 1 /\nGRID\nINCLUDE\n  '{include}' /\nEND\n"


def _deck(root: Path, name: str, files: dict[str, str | bytes]) -> Path:
    folder = root / name
    for relative, content in files.items():
        path = folder / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content)
    return folder


def _error(root: Path) -> str:
    with pytest.raises(InputError) as caught:
        scan_decks(root)
    return str(caught.value)


def test_repository_decks_hold_the_expected_cases() -> None:
    decks = {deck.name: deck for deck in scan_decks(REPO / "decks")}
    assert {case.name for deck in decks.values() for case in deck.cases} == {
        "spe1case1",
        "layered",
    }
    assert decks["layered"].cases[0].data_file == "LAYERED.DATA"


def test_include_files_ending_in_data_are_not_cases(tmp_path: Path) -> None:
    _deck(
        tmp_path,
        "pair",
        {
            "MAIN.DATA": RUNSPEC_DECK.format(include="GRID.DATA"),
            "GRID.DATA": "DX\n 1*1 /\n",
        },
    )
    (deck,) = scan_decks(tmp_path)
    assert [case.data_file for case in deck.cases] == ["MAIN.DATA"]


def test_data_files_in_subfolders_are_not_cases(tmp_path: Path) -> None:
    _deck(
        tmp_path,
        "nested",
        {
            "RUN.DATA": RUNSPEC_DECK.format(include="sub/OTHER.DATA"),
            "sub/OTHER.DATA": RUNSPEC_DECK.format(include="RUN.DATA"),
        },
    )
    (deck,) = scan_decks(tmp_path)
    assert [case.data_file for case in deck.cases] == ["RUN.DATA"]


def test_missing_include_names_deck_file_line_and_path(tmp_path: Path) -> None:
    _deck(tmp_path, "broken", {"CASE.DATA": RUNSPEC_DECK.format(include="g/x.inc")})
    message = _error(tmp_path)
    assert message == (
        f"{tmp_path.name}/broken/CASE.DATA:6: INCLUDE 'g/x.inc' is not in deck "
        f"folder {tmp_path.name}/broken"
    )


def test_missing_file_inside_an_included_file_is_found(tmp_path: Path) -> None:
    _deck(
        tmp_path,
        "deep",
        {
            "CASE.DATA": RUNSPEC_DECK.format(include="INCLUDE/GRID/a.inc"),
            "INCLUDE/GRID/a.inc": "-- grid\nINCLUDE\n 'INCLUDE/GRID/b.inc' /\n",
        },
    )
    message = _error(tmp_path)
    assert "deep/INCLUDE/GRID/a.inc:3: INCLUDE 'INCLUDE/GRID/b.inc'" in message


def test_include_that_leaves_the_deck_folder_is_refused(tmp_path: Path) -> None:
    _deck(tmp_path, "shared", {"x.inc": "DX\n/\n", "SHARED.DATA": "RUNSPEC\n"})
    _deck(
        tmp_path,
        "escape",
        {"CASE.DATA": RUNSPEC_DECK.format(include="../shared/x.inc")},
    )
    assert "INCLUDE '../shared/x.inc' is not in deck folder" in _error(tmp_path)


@pytest.mark.parametrize(
    ("keyword", "record", "present"),
    [
        ("IMPORT", "'grid.bin' /", "grid.bin"),
        ("GDFILE", "'BASE' /", "BASE.EGRID"),
        ("RESTART", "'BASE' 10 /", "BASE.UNRST"),
    ],
)
def test_import_gdfile_and_restart_targets_are_checked(
    tmp_path: Path, keyword: str, record: str, present: str
) -> None:
    deck = f"RUNSPEC\nGRID\n{keyword}\n  {record}\nEND\n"
    _deck(tmp_path, "ok", {"CASE.DATA": deck, present: b"\x00\x01"})
    assert scan_decks(tmp_path)[0].cases[0].name == "ok-case"
    shutil.rmtree(tmp_path / "ok")
    _deck(tmp_path, "missing", {"CASE.DATA": deck})
    assert f"missing/CASE.DATA:4: {keyword}" in _error(tmp_path)


def test_paths_aliases_are_expanded(tmp_path: Path) -> None:
    deck = "RUNSPEC\nPATHS\n 'GR' 'INCLUDE/GRID' /\n/\nGRID\nINCLUDE\n '$GR/a.inc' /\n"
    _deck(tmp_path, "alias", {"CASE.DATA": deck, "INCLUDE/GRID/a.inc": "DX\n/\n"})
    assert scan_decks(tmp_path)[0].cases[0].data_file == "CASE.DATA"


def test_commented_out_include_is_ignored(tmp_path: Path) -> None:
    deck = "RUNSPEC\nGRID\n-- INCLUDE\n--  'gone.inc' /\nEND\n"
    _deck(tmp_path, "quiet", {"CASE.DATA": deck})
    assert scan_decks(tmp_path)[0].cases[0].name == "quiet-case"


def test_files_that_are_not_utf8_text_are_binary(tmp_path: Path) -> None:
    _deck(
        tmp_path,
        "mixed",
        {
            "CASE.DATA": "RUNSPEC\n-- café\n",
            "grid.bin": bytes(range(256)),
            "latin1.inc": "caf\xe9".encode("latin-1"),
        },
    )
    (deck,) = scan_decks(tmp_path)
    kinds = {file.relative_path: file.is_text for file in deck.files}
    assert kinds == {"CASE.DATA": True, "grid.bin": False, "latin1.inc": False}


def test_hidden_files_are_not_part_of_a_deck(tmp_path: Path) -> None:
    _deck(
        tmp_path, "tidy", {"CASE.DATA": "RUNSPEC\n", ".DS_Store": b"x", ".git/x": "y"}
    )
    (deck,) = scan_decks(tmp_path)
    assert [file.relative_path for file in deck.files] == ["CASE.DATA"]


def test_digest_is_stable_and_follows_content(tmp_path: Path) -> None:
    folder = _deck(tmp_path, "d", {"CASE.DATA": "RUNSPEC\n", "a/b.inc": "DX\n"})
    first = scan_decks(tmp_path)[0].digest
    assert scan_decks(tmp_path)[0].digest == first
    (folder / "a/b.inc").write_text("DY\n")
    assert scan_decks(tmp_path)[0].digest != first


def test_digest_follows_file_names_too(tmp_path: Path) -> None:
    folder = _deck(tmp_path, "d", {"CASE.DATA": "RUNSPEC\n", "a.inc": "DX\n"})
    first = scan_decks(tmp_path)[0].digest
    (folder / "a.inc").rename(folder / "b.inc")
    assert scan_decks(tmp_path)[0].digest != first


def test_folder_without_a_case_is_refused(tmp_path: Path) -> None:
    _deck(tmp_path, "empty", {"notes.txt": "nothing to run"})
    assert "empty: no case" in _error(tmp_path)


def test_two_files_deriving_the_same_case_name_are_refused(tmp_path: Path) -> None:
    _deck(tmp_path, "twin", {"CASE.DATA": "RUNSPEC\n", "case.DATA": "RUNSPEC\n"})
    assert "case name 'twin-case' is derived from both" in _error(tmp_path)


def test_missing_decks_folder_is_refused(tmp_path: Path) -> None:
    assert "decks folder not found" in _error(tmp_path / "nowhere")
