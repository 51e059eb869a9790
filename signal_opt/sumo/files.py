"""SUMO's XML files and time values, read with sumolib (gzip and ``<include>`` included)."""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import sumolib


def sumo_time(value: str, what: str = "time") -> float:
    """Seconds of a time written as SUMO accepts it: ``"90.5"``, ``"14:13:00"``, ``"1:14:13:00"``.

    ``what`` names the value in the error raised for anything else.
    """
    try:
        seconds = sumolib.miscutils.parseTime(value)
    except (ValueError, TypeError):
        seconds = None
    if seconds is None:
        raise ValueError(f"{what} {value!r} is not a SUMO time (seconds, hh:mm:ss or d:hh:mm:ss)")
    return float(seconds)


def read_elements(path: str | os.PathLike[str], tags: Mapping[str, Sequence[str]]) -> Iterator[Any]:
    """The top-level elements of a SUMO XML file, gzipped or not, whose tag is a key of ``tags``.

    Elements are :func:`sumolib.xml.parse` objects, in file order, with their children; each
    has the attributes ``tags`` lists for its tag (a missing one is None; ``from`` is read as
    ``attr_from``), other attributes are not read. An ``<include href="..."/>`` is read in
    its place, relative to the including file, as SUMO does.
    """
    path = Path(path)
    attrs = {"include": ("href",), **tags}
    for el in sumolib.xml.parse(str(path), element_attrs=attrs, heterogeneous=False):
        if el.name == "include" and el.href:
            yield from read_elements(path.parent / el.href, tags)
        elif el.name in tags:
            yield el
