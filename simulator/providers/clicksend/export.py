"""ClickSend's history export (SDK ``SmsApi.export_sms_history``, legacy ``sms_history_export_get``).

``GET /v3/sms/history/export?filename=x.csv`` takes the history's own filters (``date_from``,
``date_to``, ``q``, ``order_by``; ``page``/``limit`` only when given, else every row) and answers
``data.url``, a download link like ClickSend's ``https://rest.clicksend.com/files/{ID}?filename=...``.
The simulator serves that file itself at ``/files/{ID}`` on the host the export was asked on: a CSV
of the history rows at export time, one column per history field. The newest ``KEPT`` files are kept.
"""

from __future__ import annotations

import csv
import io
from typing import TYPE_CHECKING, Any, Final
from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import Response

from lynsms.simulator.providers.clicksend import render as cw
from lynsms.simulator.state import JournalEntry

if TYPE_CHECKING:
    from lynsms.simulator.providers.clicksend.handlers import ClickSend

FILES: Final = "/files"
KEPT: Final = 20
_EXPORTS: Final = "clicksend:exports"  # state extras: file id -> (filename, CSV bytes), oldest first


async def export(clicksend: ClickSend, request: Request, entry: JournalEntry) -> Response:
    account = clicksend.authenticated(request, entry)
    filename = request.query_params.get("filename", "").strip()
    if not filename:
        return clicksend.error(400, "The filename field is required.")
    if not filename.lower().endswith(".csv") or len(filename) > 255 or any(c in filename for c in '/\\"'):
        return clicksend.error(400, "The filename must be a .csv file name.")
    found = clicksend.history_messages(request, account)
    if {"page", "limit"} & request.query_params.keys():
        page, limit = clicksend.paging(request)
        found = cw.paginate(found, request.url, page, limit)["data"]
    rows = [cw.history_row(m) for m in found]
    files: dict[str, tuple[str, bytes]] = clicksend.state.extra(_EXPORTS)
    file_id = clicksend.new_message_id()
    files[file_id] = (filename, _csv(rows))
    for old in list(files)[:-KEPT]:
        del files[old]
    url = f"{str(request.base_url).rstrip('/')}{FILES}/{file_id}?{urlencode({'filename': filename})}"
    return cw.envelope(200, "SUCCESS", "Download your file here.", {"url": url})


async def download(clicksend: ClickSend, request: Request, entry: JournalEntry) -> Response:
    """The link is the credential, as a signed download link is: no Basic auth asked."""
    found = clicksend.state.extra(_EXPORTS).get(request.path_params["file_id"].upper())
    if found is None:
        return clicksend.error(404, "File not found.")
    filename, content = found
    disposition = f'attachment; filename="{filename}"'
    return Response(content, media_type="text/csv; charset=utf-8", headers={"Content-Disposition": disposition})


def _csv(rows: list[dict[str, Any]]) -> bytes:
    out = io.StringIO()
    if rows:
        writer = csv.DictWriter(out, fieldnames=list(rows[0]), lineterminator="\r\n")
        writer.writeheader()
        writer.writerows({k: "" if v is None else v for k, v in row.items()} for row in rows)
    return out.getvalue().encode("utf-8")
