"""Print a markdown licence table for every package pinned in requirements.lock.

Licences come from the installed metadata of the interpreter that runs this script, so run
it with the project's virtualenv:

    .venv/bin/python scripts/licence_inventory.py            # the table for docs/licences.md
    .venv/bin/python scripts/licence_inventory.py --flagged  # only copyleft / unknown / other

Order of sources: License-Expression, License (when it is a short one-line value),
"License ::" classifiers, then the first lines of a LICENSE/COPYING file in the dist-info.
"""

from __future__ import annotations

import argparse
import re
import sys
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

LOCK = Path(__file__).resolve().parent.parent / "requirements.lock"

COPYLEFT = re.compile(r"\b(A?GPL|LGPL|MPL)\b|General Public|Mozilla Public", re.IGNORECASE)
NON_STANDARD = re.compile(r"LicenseRef-|Proprietary|Other/", re.IGNORECASE)

# First-line headings of common licence files, for the last-resort fallback.
FILE_HEADINGS: tuple[tuple[str, str], ...] = (
    ("GNU AFFERO GENERAL PUBLIC LICENSE", "AGPL (from file)"),
    ("GNU LESSER GENERAL PUBLIC LICENSE", "LGPL (from file)"),
    ("GNU GENERAL PUBLIC LICENSE", "GPL (from file)"),
    ("Mozilla Public License", "MPL (from file)"),
    ("Apache License", "Apache (from file)"),
    ("MIT License", "MIT (from file)"),
    ("Permission is hereby granted, free of charge", "MIT (from file)"),
    ("Redistribution and use in source and binary forms", "BSD (from file)"),
)


@dataclass(frozen=True)
class Row:
    name: str
    pinned: str
    installed: str | None
    licence: str
    source: str

    @property
    def flag(self) -> str | None:
        if self.installed is None:
            return "not installed"
        if self.source == "none":
            return "unknown"
        if COPYLEFT.search(self.licence):
            return "copyleft"
        if NON_STANDARD.search(self.licence):
            return "other"
        return None


def read_lock(path: Path) -> list[tuple[str, str]]:
    pins: list[tuple[str, str]] = []
    for raw in path.read_text(encoding="utf-8").splitlines():
        line = raw.split("#", 1)[0].strip()
        if not line or line.startswith("-"):
            continue
        name, sep, version = line.partition("==")
        if not sep:
            raise SystemExit(f"{path}: not an exact pin: {raw!r}")
        pins.append((name.strip(), version.split(";", 1)[0].strip()))
    return pins


def _from_file(dist: metadata.Distribution) -> str | None:
    for file in dist.files or []:
        if not re.match(r"(LICEN[CS]E|COPYING)", file.name, re.IGNORECASE):
            continue
        if ".dist-info" not in str(file):
            continue
        try:
            head = Path(str(dist.locate_file(file))).read_text(encoding="utf-8", errors="replace")
        except OSError:
            continue
        head = head[:2000]
        for heading, licence in FILE_HEADINGS:
            if heading.lower() in head.lower():
                return licence
    return None


def _field(dist: metadata.Distribution, key: str) -> str:
    values = dist.metadata.get_all(key)
    return str(values[0]).strip() if values else ""


def licence_of(dist: metadata.Distribution) -> tuple[str, str]:
    expression = _field(dist, "License-Expression")
    if expression:
        return expression, "expression"
    field = _field(dist, "License")
    if field and "\n" not in field and len(field) <= 80 and field.upper() != "UNKNOWN":
        return field, "License"
    prefix = "License :: "
    classifiers = [c for c in dist.metadata.get_all("Classifier") or [] if c.startswith(prefix)]
    if classifiers:
        names = [c.removeprefix(prefix).removeprefix("OSI Approved :: ") for c in classifiers]
        return " / ".join(names), "classifier"
    from_file = _from_file(dist)
    if from_file:
        return from_file, "file"
    return "unknown", "none"


def inventory(lock: Path) -> list[Row]:
    rows: list[Row] = []
    for name, pinned in read_lock(lock):
        try:
            dist = metadata.distribution(name)
        except metadata.PackageNotFoundError:
            rows.append(Row(name, pinned, None, "unknown", "none"))
            continue
        licence, source = licence_of(dist)
        rows.append(Row(name, pinned, dist.version, licence, source))
    return rows


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def render_table(rows: list[Row]) -> str:
    lines = ["| package | version | licence | from |", "|---|---|---|---|"]
    for row in rows:
        version = row.pinned
        if row.installed != row.pinned:
            version += f" (installed: {row.installed or 'none'})"
        licence = row.licence if row.flag is None else f"**{row.licence}**"
        lines.append(f"| {_cell(row.name)} | {version} | {_cell(licence)} | {row.source} |")
    return "\n".join(lines)


def render_flagged(rows: list[Row]) -> str:
    return "\n".join(
        f"- {row.name} {row.pinned}: {row.licence} ({row.flag})" for row in rows if row.flag
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--lock", type=Path, default=LOCK, help="requirements lock file")
    parser.add_argument(
        "--flagged", action="store_true", help="list only copyleft, unknown or other licences"
    )
    args = parser.parse_args(argv)
    rows = inventory(args.lock)
    print(render_flagged(rows) if args.flagged else render_table(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
