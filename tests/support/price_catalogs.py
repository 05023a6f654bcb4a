"""A loopback stand-in for the two price catalogs `gpu-fleet prices refresh` reads, serving recorded documents.

Shapes follow the APIs' documented formats:
- Cloud Billing Catalog `GET /v1/services/{service}/skus?key=...&pageToken=...`: `{"skus": [...], "nextPageToken":
  "..."}`, the last page without a token; each SKU with `name`, `skuId`, `description`, `category`
  (`serviceDisplayName`, `resourceFamily`, `resourceGroup`, `usageType`), `serviceRegions`, `pricingInfo[]`
  (`effectiveTime`, `pricingExpression` with `usageUnit` and `tieredRates[].unitPrice{currencyCode, units, nanos}`)
  and `serviceProviderName` (docs.cloud.google.com/billing/v1/how-tos/catalog-api; a real SKU as recorded in
  Cyclenerd/google-cloud-pricing-cost-calculator@dac3128:build/notes/api/v1/skus.json). A wrong key is HTTP 403.
- AWS Price List Bulk API `GET /offers/v1.0/aws/AmazonEC2/current/{region}/index.csv`: five metadata rows, the
  column names, then a row per SKU and term (docs.aws.amazon.com/awsaccountbilling/latest/aboutv2/
  reading-service-price-list-file-for-services.html); an unknown region is HTTP 404 (S3 serves the files).
"""

from __future__ import annotations

import csv
import io
import json
import threading
import urllib.parse
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

SERVICE = "6F81-5844-456A"
API_KEY = "test-key-not-a-secret"


def sku(sku_id: str, description: str, group: str, usage: str, regions: list[str], usd: float,
        unit: str = "h", family: str = "Compute") -> dict[str, Any]:
    """One Compute Engine SKU in the documented shape."""
    units, nanos = int(usd), round((usd - int(usd)) * 1e9)
    return {"name": f"services/{SERVICE}/skus/{sku_id}", "skuId": sku_id, "description": description,
            "category": {"serviceDisplayName": "Compute Engine", "resourceFamily": family, "resourceGroup": group,
                         "usageType": usage},
            "serviceRegions": regions,
            "pricingInfo": [{"summary": "", "effectiveTime": "2026-11-30T08:00:00.000Z",
                             "pricingExpression": {"usageUnit": unit, "usageUnitDescription": unit,
                                                   "baseUnit": "s", "baseUnitDescription": "second",
                                                   "baseUnitConversionFactor": 3600, "displayQuantity": 1,
                                                   "tieredRates": [{"startUsageAmount": 0, "unitPrice": {
                                                       "currencyCode": "USD", "units": str(units),
                                                       "nanos": nanos}}]},
                             "aggregationInfo": {"aggregationLevel": "ACCOUNT", "aggregationInterval": "DAILY",
                                                 "aggregationCount": 1},
                             "currencyConversionRate": 1}],
            "serviceProviderName": "Google"}


AWS_COLUMNS = ["SKU", "OfferTermCode", "RateCode", "TermType", "PriceDescription", "EffectiveDate", "StartingRange",
               "EndingRange", "Unit", "PricePerUnit", "Currency", "Product Family", "serviceCode", "Location",
               "Instance Type", "vCPU", "Tenancy", "Operating System", "License Model", "Pre Installed S/W",
               "CapacityStatus", "Region Code"]


def ec2_row(sku_id: str, instance: str, region: str, usd: float, **attrs: str) -> dict[str, str]:
    row = {"SKU": sku_id, "OfferTermCode": "JRTCKXETXF", "RateCode": f"{sku_id}.JRTCKXETXF.6YS6EN2CT7",
           "TermType": "OnDemand", "PriceDescription": f"${usd} per On Demand Linux {instance} Instance Hour",
           "EffectiveDate": "2026-11-01", "StartingRange": "0", "EndingRange": "Inf", "Unit": "Hrs",
           "PricePerUnit": f"{usd:.10f}", "Currency": "USD", "Product Family": "Compute Instance",
           "serviceCode": "AmazonEC2", "Location": region, "Instance Type": instance, "vCPU": "8",
           "Tenancy": "Shared", "Operating System": "Linux", "License Model": "No License required",
           "Pre Installed S/W": "NA", "CapacityStatus": "Used", "Region Code": region}
    row.update(attrs)
    return row


def offer_csv(rows: list[dict[str, str]], published: str = "2026-11-28T01:02:03Z") -> bytes:
    out = io.StringIO()
    w = csv.writer(out, quoting=csv.QUOTE_ALL)
    w.writerows([["FormatVersion", "v1.0"], ["Disclaimer", "This pricing list is for informational purposes only."],
                 ["Publication Date", published], ["Version", "20261128010203"], ["OfferCode", "AmazonEC2"],
                 AWS_COLUMNS])
    w.writerows([[r.get(c, "") for c in AWS_COLUMNS] for r in rows])
    return out.getvalue().encode()


@dataclass
class Catalogs:
    """What the stand-in serves, and the requests it saw."""

    pages: list[list[dict[str, Any]]] = field(default_factory=list)
    """The SKU list, page by page (page i's token is `page-i`)."""
    offers: dict[str, bytes] = field(default_factory=dict)
    """Region -> EC2 offer file (CSV)."""
    requests: list[str] = field(default_factory=list)
    base_url: str = ""


class _Handler(BaseHTTPRequestHandler):
    catalogs: Catalogs

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _send(self, code: int, body: bytes, kind: str) -> None:
        self.send_response(code)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:
        c = self.catalogs
        c.requests.append(self.path)
        url = urllib.parse.urlsplit(self.path)
        query = dict(urllib.parse.parse_qsl(url.query))
        if url.path == f"/v1/services/{SERVICE}/skus":
            if query.get("key") != API_KEY:
                error = {"error": {"code": 403, "message": "The request is missing a valid API key.",
                                   "status": "PERMISSION_DENIED"}}
                return self._send(403, json.dumps(error).encode(), "application/json")
            token = query.get("pageToken", "page-0")
            i = int(token.removeprefix("page-"))
            doc: dict[str, Any] = {"skus": c.pages[i] if i < len(c.pages) else []}
            if i + 1 < len(c.pages):
                doc["nextPageToken"] = f"page-{i + 1}"
            return self._send(200, json.dumps(doc).encode(), "application/json")
        parts = url.path.split("/")
        if url.path.startswith("/offers/v1.0/aws/AmazonEC2/current/") and parts[-1] == "index.csv":
            body = c.offers.get(parts[-2])
            if body is not None:
                return self._send(200, body, "text/csv")
        return self._send(404, b"<Error><Code>NoSuchKey</Code></Error>", "application/xml")


@contextmanager
def serve(catalogs: Catalogs) -> Iterator[Catalogs]:
    """Serve `catalogs` on 127.0.0.1 (a free port) for the duration of the block."""
    handler = type("Handler", (_Handler,), {"catalogs": catalogs})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    catalogs.base_url = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        yield catalogs
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
