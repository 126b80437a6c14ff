"""Read an OPM Flow summary (SMSPEC plus UNSMRY or Snnnn) and tabulate, export, plot it.

Files are read with resfo; formatted (FSMSPEC/FUNSMRY/Annnn) twins work too.

CSV column naming (``summary.csv``): the first column is ``TIME`` (days since the
start date), the second ``DATE`` (ISO 8601 start date plus TIME), then one column
per remaining SMSPEC vector in SMSPEC order, named by the keyword and whichever
qualifiers identify it, joined with ``:``:

- field and miscellaneous vectors: ``KEYWORD`` (``FOPR``, ``YEARS``);
- well and group vectors: ``KEYWORD:WGNAME`` (``WOPR:PROD``, ``GGPR:G1``);
- block vectors: ``KEYWORD:I,J,K`` from the cell number (``BPR:10,10,3``);
- connection vectors: ``KEYWORD:WELL:I,J,K`` (``CWIR:INJ:1,1,1``);
- segment vectors: ``KEYWORD:WELL:NUM`` (``SOFR:PROD:4``);
- region and aquifer vectors: ``KEYWORD:NUM`` (``RPR:2``, ``AAQR:1``);
- anything else: ``KEYWORD`` plus ``WGNAME`` if set plus ``NUM`` if positive.

Should two vectors still share a name, the later ones get ``#2``, ``#3``... appended.
"""

from __future__ import annotations

import csv
import logging
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
import numpy.typing as npt
import resfo
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter

log = logging.getLogger(__name__)

# Eclipse marks "no well/group name" with this filler or with blanks.
_NO_NAME = {"", ":+:+:+:+"}

# Additive field quantities that equal the sum of the matching well quantity.
_ADDITIVE = {"OPR", "GPR", "WPR", "WIR", "GIR", "OPT", "GPT", "WPT", "WIT", "GIT"}

# Series.source of a vector read as such rather than summed over wells.
DIRECT = "SMSPEC"

TOTALS: tuple[tuple[str, str], ...] = (
    ("FOPT", "oil production total"),
    ("FGPT", "gas production total"),
    ("FWPT", "water production total"),
    ("FWIT", "water injection total"),
    ("FGIT", "gas injection total"),
    ("FPR", "field pressure"),
)

LIQUID_RATES: tuple[str, ...] = ("FOPR", "FWPR", "FWIR")
GAS_RATES: tuple[str, ...] = ("FGPR", "FGIR")


class SummaryError(Exception):
    """A problem with the user's summary files; the message is meant for the user."""


@dataclass(frozen=True)
class Vector:
    """One SMSPEC vector: its keyword, qualifiers, unit and CSV column name."""

    keyword: str
    wgname: str
    num: int
    unit: str
    name: str


@dataclass(frozen=True)
class Summary:
    """A whole summary: vectors and their values, one row per report/ministep."""

    case: str
    start: datetime
    vectors: tuple[Vector, ...]
    values: npt.NDArray[np.float32]

    def index(self, name: str) -> int | None:
        """Position of the vector with this column name, or None."""
        for position, vector in enumerate(self.vectors):
            if vector.name == name:
                return position
        return None

    @property
    def days(self) -> npt.NDArray[np.float32]:
        """TIME in days for every row."""
        position = self.index("TIME")
        if position is None:
            raise SummaryError(f"{self.case}: SMSPEC has no TIME vector")
        return self.values[:, position]


@dataclass(frozen=True)
class Series:
    """A quantity over time, read from the SMSPEC or summed over wells."""

    keyword: str
    unit: str
    values: npt.NDArray[np.float32]
    source: str


@dataclass(frozen=True)
class TotalRow:
    """One line of the end-of-run table."""

    keyword: str
    description: str
    value: float
    unit: str
    source: str


def find_smspec(root: Path, case: str) -> Path:
    """The SMSPEC for `case` in `root` or anywhere below it."""
    if not root.is_dir():
        raise SummaryError(f"no such folder: {root}")
    found = sorted(p for p in root.rglob("*") if _is_smspec(p))
    if not found:
        raise SummaryError(f"no *.SMSPEC file in or below {root}")
    if len(found) == 1:
        return found[0]
    matching = [p for p in found if p.stem.lower() == case.lower()]
    if len(matching) == 1:
        return matching[0]
    listing = ", ".join(str(p.relative_to(root)) for p in found)
    raise SummaryError(
        f"several SMSPEC files below {root}, not one named {case}: {listing}"
    )


def _is_smspec(path: Path) -> bool:
    return path.is_file() and path.suffix.upper() in {".SMSPEC", ".FSMSPEC"}


def read_summary(smspec: Path) -> Summary:
    """Read the SMSPEC and its unified or non-unified data files."""
    spec = _read_arrays(smspec)
    vectors = _vectors(spec)
    rows = [row for path in data_files(smspec) for row in _params(path)]
    if not rows:
        raise SummaryError(f"{smspec.stem}: summary data files hold no time steps")
    values = np.vstack([row[: len(vectors)] for row in rows]).astype(np.float32)
    summary = Summary(
        case=smspec.stem,
        start=_start_date(spec),
        vectors=vectors,
        values=values,
    )
    log.info("read %d vectors x %d steps from %s", len(vectors), len(rows), smspec)
    return summary


def data_files(smspec: Path) -> list[Path]:
    """The UNSMRY next to `smspec` if there is one, else its Snnnn files in order."""
    formatted = smspec.suffix.upper() == ".FSMSPEC"
    unified = smspec.with_suffix(".FUNSMRY" if formatted else ".UNSMRY")
    if unified.is_file():
        return [unified]
    letter = "A" if formatted else "S"
    pattern = f"{smspec.stem}.{letter}[0-9][0-9][0-9][0-9]"
    split = sorted(smspec.parent.glob(pattern))
    if not split:
        raise SummaryError(f"no UNSMRY or {letter}0001... next to {smspec}")
    return split


def _read_arrays(path: Path) -> dict[str, npt.NDArray[np.generic]]:
    try:
        return {
            entry.read_keyword().strip(): np.asarray(entry.read_array())
            for entry in resfo.lazy_read(path)
        }
    except resfo.ResfoParsingError as err:
        raise SummaryError(f"cannot read {path}: {err}") from err


def _params(path: Path) -> Iterator[npt.NDArray[np.float32]]:
    try:
        for entry in resfo.lazy_read(path):
            if entry.read_keyword() == "PARAMS  ":
                yield np.asarray(entry.read_array(), dtype=np.float32)
    except resfo.ResfoParsingError as err:
        raise SummaryError(f"cannot read {path}: {err}") from err


def _strings(spec: dict[str, npt.NDArray[np.generic]], key: str) -> list[str]:
    return [_text(item) for item in spec.get(key, ())]


def _text(item: object) -> str:
    if isinstance(item, bytes):
        return item.decode("ascii", errors="replace").strip()
    return str(item).strip()


def _vectors(spec: dict[str, npt.NDArray[np.generic]]) -> tuple[Vector, ...]:
    keywords = _strings(spec, "KEYWORDS")
    if not keywords:
        raise SummaryError("SMSPEC has no KEYWORDS")
    count = len(keywords)
    # Newer files may carry long names in NAMES instead of WGNAMES.
    wgnames = _strings(spec, "NAMES") or _strings(spec, "WGNAMES") or [""] * count
    nums = [int(n) for n in spec.get("NUMS", np.zeros(count, dtype=int))]
    units = _strings(spec, "UNITS") or [""] * count
    dims = [int(d) for d in spec.get("DIMENS", np.zeros(4, dtype=int))]
    names = unique_names(
        column_name(keyword=k, wgname=w, num=n, dims=dims)
        for k, w, n in zip(keywords, wgnames, nums, strict=False)
    )
    return tuple(
        Vector(keyword=k, wgname=w, num=n, unit=u, name=name)
        for k, w, n, u, name in zip(keywords, wgnames, nums, units, names, strict=False)
    )


def column_name(*, keyword: str, wgname: str, num: int, dims: Sequence[int]) -> str:
    """The CSV column name of one vector (see the module docstring)."""
    named = wgname not in _NO_NAME
    kind = keyword[:1]
    parts = [keyword]
    if kind in "WG" and named:
        parts.append(wgname)
    elif kind == "F":
        pass
    elif kind in "BC" and num > 0:
        parts += [wgname] if kind == "C" and named else []
        parts.append(_ijk(num, dims))
    elif kind in "SAR" and num > 0:
        parts += [wgname] if kind == "S" and named else []
        parts.append(str(num))
    else:
        parts += [wgname] if named else []
        parts += [str(num)] if num > 0 else []
    return ":".join(parts)


def _ijk(num: int, dims: Sequence[int]) -> str:
    # DIMENS is (count, NX, NY, NZ, ...); NUMS counts cells from 1, I fastest.
    nx, ny = (dims[1], dims[2]) if len(dims) > 2 and dims[1] and dims[2] else (0, 0)
    if not nx:
        return str(num)
    cell = num - 1
    return f"{cell % nx + 1},{cell // nx % ny + 1},{cell // (nx * ny) + 1}"


def unique_names(names: Iterable[str]) -> list[str]:
    """The names with ``#2``, ``#3``... appended to repeats."""
    seen: dict[str, int] = {}
    result = []
    for name in names:
        seen[name] = seen.get(name, 0) + 1
        result.append(name if seen[name] == 1 else f"{name}#{seen[name]}")
    return result


def _start_date(spec: dict[str, npt.NDArray[np.generic]]) -> datetime:
    raw = [int(x) for x in spec.get("STARTDAT", ())]
    if len(raw) < 3:
        raise SummaryError("SMSPEC has no STARTDAT")
    day, month, year = raw[:3]
    hour, minute, micro = [*raw[3:6], 0, 0, 0][:3]
    # The sixth item holds seconds and microseconds together, in microseconds.
    return datetime(year, month, day, hour, minute) + timedelta(microseconds=micro)


def field_series(summary: Summary, keyword: str) -> Series | None:
    """A field vector, or the sum of its well twin over all wells, or None."""
    position = summary.index(keyword)
    if position is not None:
        vector = summary.vectors[position]
        return Series(keyword, vector.unit, summary.values[:, position], DIRECT)
    if not keyword.startswith("F") or keyword[1:] not in _ADDITIVE:
        return None
    return _sum_over_wells(summary, keyword)


def _sum_over_wells(summary: Summary, keyword: str) -> Series | None:
    well_keyword = "W" + keyword[1:]
    wells = {v.wgname for v in summary.vectors if v.keyword.startswith("W")}
    columns = [i for i, v in enumerate(summary.vectors) if v.keyword == well_keyword]
    covered = {summary.vectors[i].wgname for i in columns}
    # A sum over only some wells would pass for a field total, so refuse it.
    if not columns or covered != wells:
        return None
    unit = summary.vectors[columns[0]].unit
    values = summary.values[:, columns].sum(axis=1, dtype=np.float32)
    source = f"sum of {well_keyword} over {len(columns)} wells"
    return Series(keyword, unit, values, source)


def field_totals(summary: Summary) -> list[TotalRow]:
    """End-of-run field totals and pressure that the summary holds or implies."""
    rows = []
    for keyword, description in TOTALS:
        series = field_series(summary, keyword)
        if series is None:
            continue
        rows.append(
            TotalRow(
                keyword=keyword,
                description=description,
                value=float(series.values[-1]),
                unit=series.unit,
                source=series.source,
            )
        )
    return rows


def missing_totals(summary: Summary) -> list[str]:
    """Keywords of the end-of-run table that the summary cannot provide."""
    return [k for k, _ in TOTALS if field_series(summary, k) is None]


def format_table(summary: Summary, rows: Sequence[TotalRow]) -> str:
    """The end-of-run table as aligned plain text, with a heading line."""
    day = float(summary.days[-1])
    date = _date(summary.start, day)
    heading = f"{summary.case}: field totals at day {day:g} ({date:%Y-%m-%d})"
    cells = [("vector", "description", "value", "unit", "source")]
    cells += [
        (r.keyword, r.description, f"{r.value:,.1f}", r.unit, r.source) for r in rows
    ]
    widths = [max(len(row[i]) for row in cells) for i in range(5)]
    lines = [heading] + [_table_line(row, widths) for row in cells]
    return "\n".join(lines)


def _date(start: datetime, day: float) -> datetime:
    # TIME is float32, so 3.6 days reads as 3.5999999: round to whole seconds.
    return start + timedelta(seconds=round(float(day) * 86400))


def _table_line(row: Sequence[str], widths: Sequence[int]) -> str:
    # Values are right-aligned so that digits line up; text is left-aligned.
    padded = [
        cell.rjust(width) if i == 2 else cell.ljust(width)
        for i, (cell, width) in enumerate(zip(row, widths, strict=True))
    ]
    return "  ".join(padded).rstrip()


def write_csv(summary: Summary, path: Path) -> None:
    """Write every vector against TIME and DATE to `path` (naming: module docstring)."""
    days = summary.days
    others = [i for i, v in enumerate(summary.vectors) if v.name != "TIME"]
    with path.open("w", newline="") as stream:
        writer = csv.writer(stream)
        writer.writerow(["TIME", "DATE"] + [summary.vectors[i].name for i in others])
        for row, day in zip(summary.values, days, strict=True):
            date = _date(summary.start, day)
            cells = [str(day), date.isoformat(timespec="seconds")]
            writer.writerow(cells + [str(row[i]) for i in others])


def plot_summary(summary: Summary, path: Path, *, title: str) -> None:
    """Save field rates (liquid, gas) and pressure against time as a PNG."""
    panels = _panels(summary)
    figure = Figure(figsize=(10, 3.2 * max(len(panels), 1)), layout="constrained")
    figure.suptitle(title)
    if not panels:
        figure.text(0.5, 0.5, "no field rates or pressure in the summary", ha="center")
    axes_list = figure.subplots(len(panels), 1, sharex=True, squeeze=False)[:, 0]
    for axes, (heading, quantity, series) in zip(axes_list, panels, strict=True):
        _draw_panel(
            axes, heading=heading, quantity=quantity, days=summary.days, series=series
        )
    if panels:
        start = f"{summary.start:%Y-%m-%d}"
        axes_list[-1].set_xlabel(f"time (days since {start})")
    figure.savefig(path, dpi=110)
    log.info("wrote %s", path)


def _panels(summary: Summary) -> list[tuple[str, str, list[Series]]]:
    # Gas rates dwarf liquid rates, so each group gets its own y axis.
    pressure = _present(summary, ("FPR",))
    pressure_heading = "Field pressure"
    if not pressure:
        pressure = _well_pressures(summary)
        pressure_heading = "Well bottom-hole pressures (FPR not in the summary)"
    candidates = [
        ("Oil and water rates", "rate", _present(summary, LIQUID_RATES)),
        ("Gas rates", "rate", _present(summary, GAS_RATES)),
        (pressure_heading, "pressure", pressure),
    ]
    return [panel for panel in candidates if panel[2]]


def _present(summary: Summary, keywords: Sequence[str]) -> list[Series]:
    found = (field_series(summary, k) for k in keywords)
    return [s for s in found if s is not None]


def _well_pressures(summary: Summary) -> list[Series]:
    # Without FPR, bottom-hole pressures are the nearest thing the deck offers.
    return [
        Series(v.name, v.unit, summary.values[:, i], DIRECT)
        for i, v in enumerate(summary.vectors)
        if v.keyword == "WBHP"
    ]


def _draw_panel(
    axes: Axes,
    *,
    heading: str,
    quantity: str,
    days: npt.NDArray[np.float32],
    series: list[Series],
) -> None:
    for item in series:
        derived = item.source != DIRECT
        label = f"{item.keyword}*" if derived else item.keyword
        note = f" ({item.source})" if derived else ""
        axes.plot(days, item.values, label=f"{label} [{item.unit}]{note}")
    units = sorted({item.unit for item in series})
    axes.set_title(heading, loc="left")
    axes.set_ylabel(f"{quantity} ({' / '.join(units)})")
    axes.yaxis.set_major_formatter(FuncFormatter(lambda y, _: f"{y:,.0f}"))
    axes.grid(True, alpha=0.3)
    axes.legend(loc="best", fontsize="small")
