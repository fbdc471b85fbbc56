"""The report's own assets: its title page and metadata (assets/report.yaml) and the works it
cites (assets/references.yaml), each read and checked whole before anything is rendered.
"""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import urlsplit

from pipeline.errors import StudyError
from pipeline.project import ROOT
from report.yamlfile import load_yaml

REPORT_YAML = ROOT / "assets" / "report.yaml"  # title, authors, keywords
TEXT_FIELDS = ("title", "subtitle", "study", "subject")
LIST_FIELDS = ("authors", "keywords")
# The longest each field may be, in characters (and entries, for a list): room for what a title page,
# an HTML <head> and a PDF's metadata show; far beyond it the page breaks and the build only slows.
TEXT_LIMITS = {"title": 200, "subtitle": 300, "study": 200, "subject": 500}
LIST_LIMITS = {"authors": (50, 200), "keywords": (30, 80)}  # (entries, characters of each)
REFERENCES_YAML = REPORT_YAML.parent / "references.yaml"  # the works cited, with the list's entries
REFERENCE_FIELDS = ("cited", "authors", "year", "title", "venue", "url")
REFERENCE_LIMITS = {"cited": 100, "authors": 1000, "year": 20, "title": 300, "venue": 300, "url": 500}
# A reference links to the web or to a DOI, nothing else (a javascript: link would run in the page).
# The DOI pattern is Crossref's, which matched 74.4M of the 74.9M DOIs it had seen (A. Gilmartin,
# "DOIs and matching regular expressions", Crossref blog, 2015-08-11); a DOI is linked through the
# https://doi.org/ resolver, as Crossref's DOI display guidelines recommend.
WEB_LINK = re.compile(r"https?://[!-~]+", re.IGNORECASE)  # printable ASCII, no spaces
DOI = re.compile(r"(?:doi:)?(10\.\d{4,9}/[-._;()/:A-Z0-9]+)", re.IGNORECASE)
DOI_RESOLVER = "https://doi.org/"


class ReportMetaError(StudyError, ValueError):
    """assets/report.yaml cannot be used; the message names the field and the fix."""


def load_report_meta(path: Path = REPORT_YAML) -> dict:
    """assets/report.yaml: the title page's and the PDF's metadata, every field checked."""
    doc = load_yaml(path, ReportMetaError)
    if not isinstance(doc, dict):
        raise ReportMetaError(
            f"{path}: expected a mapping of {', '.join(TEXT_FIELDS + LIST_FIELDS)}: fix the file"
        )
    for key in TEXT_FIELDS:
        if not isinstance(doc.get(key), str) or not doc[key].strip():
            raise ReportMetaError(f"{path}: '{key}' must be a non-empty text: fix that field")
        _within(path, f"'{key}'", doc[key], TEXT_LIMITS[key])
    for key in LIST_FIELDS:
        if not isinstance(doc.get(key), list) or not all(isinstance(x, str) and x for x in doc[key]):
            raise ReportMetaError(f"{path}: '{key}' must be a list of texts: fix that field")
        most, longest = LIST_LIMITS[key]
        if len(doc[key]) > most:
            raise ReportMetaError(
                f"{path}: '{key}' has {len(doc[key])} entries, over the limit of {most}: shorten the list"
            )
        for text in doc[key]:
            _within(path, f"an entry of '{key}'", text, longest)
    unknown = sorted(set(doc) - set(TEXT_FIELDS + LIST_FIELDS), key=str)  # keys may be numbers too
    if unknown:
        raise ReportMetaError(
            f"{path}: unknown field {unknown[0]!r}: use only {', '.join(TEXT_FIELDS + LIST_FIELDS)}"
        )
    return doc


def load_references(path: Path = REFERENCES_YAML) -> dict[str, dict]:
    """assets/references.yaml: {key: entry}, each entry's fields checked, in the file's order."""
    doc = load_yaml(path, ReportMetaError)
    if not isinstance(doc, dict) or not doc:
        raise ReportMetaError(f"{path}: expected a mapping of citation keys to entries: fix the file")
    for key, entry in doc.items():
        if not isinstance(entry, dict) or set(entry) != set(REFERENCE_FIELDS):
            raise ReportMetaError(
                f"{path}: entry {key!r} needs exactly {', '.join(REFERENCE_FIELDS)}: fix that entry"
            )
        if not all(isinstance(v, str) and v for v in entry.values()):
            raise ReportMetaError(
                f"{path}: every field of entry {key!r} must be a non-empty text: fix that entry"
            )
        for field, limit in REFERENCE_LIMITS.items():
            _within(path, f"field '{field}' of entry {key!r}", entry[field], limit)
        link = reference_link(entry["url"])
        if link is None:
            raise ReportMetaError(
                f"{path}: entry {key!r} links to {entry['url']!r}, neither the web nor a DOI: give its "
                "http(s) URL or its DOI (10.NNNN/...)"
            )
        entry["url"] = link
    return doc


def reference_link(url: str) -> str | None:
    """The address a reference links to: an http(s) URL as it is, a DOI through its resolver;
    None for anything else."""
    if WEB_LINK.fullmatch(url) and _hostname(url):
        return url
    doi = DOI.fullmatch(url)
    return DOI_RESOLVER + doi.group(1) if doi else None


def _hostname(url: str) -> str | None:
    try:
        return urlsplit(url).hostname
    except ValueError:  # urlsplit refuses an unbalanced IPv6 bracket
        return None


def _within(path: Path, field: str, text: str, limit: int) -> None:
    if len(text) > limit:
        raise ReportMetaError(
            f"{path}: {field} is {len(text):,} characters, over the limit of {limit}: shorten it"
        )
