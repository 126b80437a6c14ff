"""Property-based checks of case-name and ConfigMap-key derivation."""

from __future__ import annotations

import re

from hypothesis import given
from hypothesis import strategies as st

from components.naming import CASE_NAME_MAX, case_name, configmap_key, dns_label

DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
CONFIGMAP_KEY = re.compile(r"^[-._a-zA-Z0-9]+$")

names = st.text(min_size=1, max_size=120)
path_parts = st.text(
    alphabet=st.characters(blacklist_characters="/\x00", blacklist_categories=["Cs"]),
    min_size=1,
    max_size=40,
).filter(lambda part: part not in {".", ".."})
paths = st.lists(path_parts, min_size=1, max_size=6).map("/".join)


@given(deck=names, stem=names)
def test_case_names_are_dns_labels_within_the_length_cap(deck: str, stem: str) -> None:
    name = case_name(deck, stem)
    assert DNS_LABEL.match(name)
    assert len(name) <= CASE_NAME_MAX


@given(deck=names, stem=names)
def test_case_names_are_stable(deck: str, stem: str) -> None:
    assert case_name(deck, stem) == case_name(deck, stem)


@given(first=names, second=names)
def test_distinct_texts_give_distinct_labels_unless_they_differ_only_in_case(
    first: str, second: str
) -> None:
    if first.lower() != second.lower():
        assert dns_label(first) != dns_label(second)


@given(path=paths)
def test_configmap_keys_are_valid_keys(path: str) -> None:
    key = configmap_key(path)
    assert CONFIGMAP_KEY.match(key)
    assert len(key) <= 253
    assert not key.startswith("..")
    assert key not in {".", ".."}


@given(first=paths, second=paths)
def test_configmap_keys_are_injective(first: str, second: str) -> None:
    if first != second:
        assert configmap_key(first) != configmap_key(second)


def test_nested_path_key_reads_like_its_path() -> None:
    assert configmap_key("INCLUDE/GRID/x.grdecl") == "INCLUDE_2fGRID_2fx.grdecl"
