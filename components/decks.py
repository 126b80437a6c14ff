"""Deck discovery: folders, cases, the files they include, and content hashes."""

from __future__ import annotations

import codecs
import hashlib
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from components.errors import InputError
from components.naming import case_name, configmap_key, dns_label

# Keywords whose first record names a file the simulator opens.
_FILE_KEYWORDS = ("INCLUDE", "IMPORT", "GDFILE", "RESTART")
_KEYWORD = re.compile(r"^([A-Z][A-Z0-9_+-]{0,7})\s*$")
_TOKEN = re.compile(r"'([^']*)'|\"([^\"]*)\"|(\S+)")
_CHUNK = 1 << 20


@dataclass(frozen=True)
class DeckFile:
    """One file of a deck folder, with where it lands in the pod."""

    path: Path
    relative_path: str
    key: str
    size: int
    is_text: bool

    def payload_bytes(self) -> int:
        """Bytes this file adds to a ConfigMap (binary data travels as base64)."""
        return self.size if self.is_text else (self.size + 2) // 3 * 4


@dataclass(frozen=True)
class Case:
    """A simulation case: a top-level DATA file that has a RUNSPEC section."""

    name: str
    deck: str
    data_file: str


@dataclass(frozen=True)
class Deck:
    """A deck folder: every file in it, its content hash and its cases."""

    name: str
    label: str
    root: Path
    files: tuple[DeckFile, ...]
    digest: str
    cases: tuple[Case, ...]

    @property
    def payload_bytes(self) -> int:
        """Bytes the deck would take in a ConfigMap."""
        return sum(file.payload_bytes() for file in self.files)


@dataclass(frozen=True)
class FileReference:
    """A file a deck names, with where it is named."""

    keyword: str
    target: str
    source: str
    line: int


def scan_decks(root: Path) -> tuple[Deck, ...]:
    """Read every deck folder below `root`, or raise InputError naming each problem."""
    if not root.is_dir():
        raise InputError(f"{root}: decks folder not found")
    decks = tuple(
        _scan_deck(folder, display=root / folder.name)
        for folder in sorted(root.iterdir())
        if folder.is_dir() and not folder.name.startswith(".")
    )
    if not decks:
        raise InputError(f"{root}: no deck folders (each deck is a folder of files)")
    problems = [problem for deck in decks for problem in check_references(deck)]
    problems += _name_clashes(decks)
    if problems:
        raise InputError("\n".join(problems))
    return decks


def _scan_deck(folder: Path, *, display: Path) -> Deck:
    files = tuple(_deck_files(folder))
    cases = tuple(
        Case(
            name=case_name(folder.name, PurePosixPath(file.relative_path).stem),
            deck=folder.name,
            data_file=file.relative_path,
        )
        for file in files
        if "/" not in file.relative_path
        and file.relative_path.upper().endswith(".DATA")
        and file.is_text
        and starts_simulation(file.path)
    )
    if not cases:
        raise InputError(
            f"{display}: no case: a deck folder needs a top-level *.DATA file "
            "with a RUNSPEC section"
        )
    return Deck(
        name=folder.name,
        label=dns_label(folder.name, max_length=30),
        root=folder,
        files=files,
        digest=_digest(files),
        cases=cases,
    )


def _deck_files(folder: Path) -> Iterator[DeckFile]:
    for path in sorted(folder.rglob("*")):
        relative = path.relative_to(folder)
        if any(part.startswith(".") for part in relative.parts) or not path.is_file():
            continue
        relative_path = relative.as_posix()
        yield DeckFile(
            path=path,
            relative_path=relative_path,
            key=configmap_key(relative_path),
            size=path.stat().st_size,
            is_text=_is_utf8(path),
        )


def _is_utf8(path: Path) -> bool:
    # An incremental decoder keeps a multi-byte character that straddles two
    # chunks from being mistaken for bad bytes.
    decoder = codecs.getincrementaldecoder("utf-8")()
    with path.open("rb") as stream:
        while chunk := stream.read(_CHUNK):
            if b"\x00" in chunk:
                return False
            try:
                decoder.decode(chunk)
            except UnicodeDecodeError:
                return False
    try:
        decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        return False
    return True


def _digest(files: tuple[DeckFile, ...]) -> str:
    digest = hashlib.sha256()
    for file in files:
        name = file.relative_path.encode()
        digest.update(len(name).to_bytes(8, "big") + name)
        digest.update(file.size.to_bytes(8, "big"))
        with file.path.open("rb") as stream:
            while chunk := stream.read(_CHUNK):
                digest.update(chunk)
    return digest.hexdigest()


def starts_simulation(path: Path) -> bool:
    """Tell whether a DATA file starts a simulation (has a RUNSPEC keyword)."""
    with path.open(encoding="utf-8", errors="replace") as stream:
        return any(_strip_comment(line).strip() == "RUNSPEC" for line in stream)


def _strip_comment(line: str) -> str:
    quoted = False
    for index, char in enumerate(line):
        if char == "'":
            quoted = not quoted
        elif not quoted and line.startswith("--", index):
            return line[:index]
    return line


def file_references(path: Path, *, display: str) -> Iterator[FileReference]:
    """Yield the files one deck file names through INCLUDE, IMPORT, GDFILE, RESTART."""
    pending: str | None = None
    aliases: dict[str, str] = {}
    in_paths = False
    with path.open(encoding="utf-8", errors="replace") as stream:
        for number, raw in enumerate(stream, start=1):
            line = _strip_comment(raw).strip()
            if not line:
                continue
            keyword = _KEYWORD.match(line)
            if keyword is not None and pending is None and not in_paths:
                word = keyword.group(1)
                pending = word if word in _FILE_KEYWORDS else None
                in_paths = word == "PATHS"
                continue
            tokens = _tokens(line)
            if in_paths:
                if tokens and tokens[0] == "/":
                    in_paths = False
                elif len(tokens) >= 2:
                    aliases[tokens[0]] = tokens[1]
                continue
            if pending is not None and tokens and tokens[0] != "/":
                yield FileReference(
                    keyword=pending,
                    target=_expand(tokens[0], aliases),
                    source=display,
                    line=number,
                )
            pending = None


def _tokens(line: str) -> list[str]:
    tokens: list[str] = []
    for match in _TOKEN.finditer(line):
        single, double, bare = match.groups()
        quoted = single if single is not None else double
        # A bare token may run into the record's closing slash: file.inc/
        tokens.append(quoted if quoted is not None else bare.rstrip("/") or "/")
    return tokens


def _expand(target: str, aliases: dict[str, str]) -> str:
    for alias, value in aliases.items():
        target = target.replace(f"${alias}", value)
    return target


def check_references(deck: Deck) -> list[str]:
    """Return a message for every file a case names that is not in its deck."""
    known = {file.relative_path for file in deck.files}
    problems: list[str] = []
    for case in deck.cases:
        seen: set[str] = set()
        queue = [case.data_file]
        while queue:
            current = queue.pop()
            if current in seen:
                continue
            seen.add(current)
            display = f"{deck.root.parent.name}/{deck.name}/{current}"
            for reference in file_references(deck.root / current, display=display):
                resolved = _resolve(reference, known)
                if resolved is None:
                    problems.append(
                        f"{reference.source}:{reference.line}: {reference.keyword} "
                        f"'{reference.target}' is not in deck folder "
                        f"{deck.root.parent.name}/{deck.name}"
                    )
                elif reference.keyword == "INCLUDE":
                    queue.append(resolved)
    return sorted(set(problems))


def _resolve(reference: FileReference, known: set[str]) -> str | None:
    target = PurePosixPath(reference.target.replace("\\", "/"))
    if target.is_absolute() or ".." in target.parts:
        return None
    relative = target.as_posix()
    if reference.keyword in ("INCLUDE", "IMPORT"):
        return relative if relative in known else None
    # GDFILE and RESTART name a root that the simulator completes with one of
    # several extensions (EGRID, UNRST, X0001, ...).
    if relative in known:
        return relative
    stem = relative.upper()
    for candidate in known:
        head, dot, _ = candidate.rpartition(".")
        if dot and head.upper() == stem:
            return candidate
    return None


def _name_clashes(decks: tuple[Deck, ...]) -> list[str]:
    owners: dict[str, str] = {}
    problems: list[str] = []
    for deck in decks:
        for case in deck.cases:
            where = f"{deck.name}/{case.data_file}"
            if case.name in owners:
                problems.append(
                    f"case name '{case.name}' is derived from both {owners[case.name]} "
                    f"and {where}: rename one of the files"
                )
            owners.setdefault(case.name, where)
    labels: dict[str, str] = {}
    for deck in decks:
        if deck.label in labels:
            problems.append(
                f"deck folders '{labels[deck.label]}' and '{deck.name}' map to the "
                f"same name '{deck.label}': rename one"
            )
        labels.setdefault(deck.label, deck.name)
    return problems
