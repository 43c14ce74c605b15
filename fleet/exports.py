"""CSV exports: text cells a spreadsheet shows and never runs, and a download streamed line by line."""

import csv
from collections.abc import Iterable
from datetime import datetime, tzinfo
from typing import Any

from django.http import StreamingHttpResponse

# A cell starting with one of these is a formula to Excel, LibreOffice and Google Sheets (OWASP, "CSV Injection").
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def safe_cell(value: Any) -> str:
    """Text typed by people or sent by a car (a name "=cmd…"), quoted when it would start a formula; None is empty."""
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def moment_cell(moment: datetime | None, zone: tzinfo, timespec: str = "auto") -> str:
    """A moment in the fleet's zone, ISO 8601 with its offset; empty when unknown."""
    return moment.astimezone(zone).isoformat(timespec=timespec) if moment else ""


class _Echo:
    """A file whose write hands the line back, so that csv.writer feeds a streamed response (Django's how-to,
    "Streaming large CSV files")."""

    def write(self, value: str) -> str:
        return value


def csv_download(rows: Iterable[Iterable[Any]], filename: str) -> StreamingHttpResponse:
    """The rows (the header first) as a CSV attachment, written while it is sent."""
    writer = csv.writer(_Echo())
    response = StreamingHttpResponse((writer.writerow(row) for row in rows), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response
