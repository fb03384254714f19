"""Transparency over HTTP, on SQLite and PostgreSQL: the report of a period as JSON and CSV
for whoever may read figures, and ``/metrics``' clocks (gauge histograms of time to a first
look, a decision, the last removal, the filing), overdue cases by priority and the oldest
pending work, read from the database at each scrape."""

from __future__ import annotations

import csv
import io
import re
import zipfile

from takedown.identity import Role, Scope
from tests.conftest import add_key, add_staff
from tests.review_support import bearer, file_report


def _value(text: str, name: str, **labels: str) -> float:
    wanted = ",".join(f'{k}="{v}"' for k, v in labels.items())
    found = re.search(rf"^{re.escape(name)}\{{{re.escape(wanted)}\}} (\S+)$", text, re.M)
    assert found, (name, labels)
    return float(found.group(1))


def test_the_report_and_the_clocks_over_http(live_server, container):
    _, platform = add_key(container, "platform", Scope.report)
    _, scraper = add_key(container, "prometheus", Scope.metrics)
    rev = add_staff(container, "rev", Role.reviewer)
    cleo = add_staff(container, "cleo", Role.compliance)
    with live_server.client() as client:
        case = file_report(client, platform, "post-clock", category="policy")
        waiting = file_report(client, platform, "post-waiting", category="policy")
        assert client.post(f"/v1/cases/{case['case_id']}/claim", headers=bearer(rev)).is_success
        decided = client.post(
            f"/v1/cases/{case['case_id']}/decisions",
            json={"outcome": "violation", "category": "policy", "reason": "spam"},
            headers=bearer(rev),
        )
        assert decided.status_code == 201, decided.text
        now = container.clock.now()
        period = {
            "from": f"{now.year - 1}-01-01T00:00:00Z",
            "to": f"{now.year + 1}-12-31T00:00:00Z",
        }
        refused = client.get("/v1/transparency", params=period, headers=bearer(rev))
        assert refused.status_code == 403
        report = client.get("/v1/transparency", params=period, headers=bearer(cleo))
        assert report.status_code == 200, report.text
        body = report.json()
        assert body["notices"]["policy"]["platform_button"] == 2
        assert body["decisions"] == {"human_violation": 1}
        assert body["to_decision"]["cases"] == 1 and body["to_first_look"]["cases"] == 1
        as_csv = client.get("/v1/transparency", params={**period, "format": "csv"},
                            headers=bearer(cleo))  # fmt: skip
        assert as_csv.headers["content-type"].startswith("text/csv")
        assert "notices,policy/platform_button,2" in as_csv.text.splitlines()
        backwards = client.get(
            "/v1/transparency", params={"from": period["to"], "to": period["from"]},
            headers=bearer(cleo),
        )  # fmt: skip
        assert backwards.status_code == 422
        # The harmonised template: a zip of its CSV parts, for the same readers only.
        path = "/v1/transparency/dsa-template"
        assert client.get(path, params=period, headers=bearer(rev)).status_code == 403
        template = client.get(path, params={**period, "published": "2027-02-01"},
                              headers=bearer(cleo))  # fmt: skip
        assert template.status_code == 200, template.text
        assert template.headers["content-type"] == "application/zip"
        with zipfile.ZipFile(io.BytesIO(template.content)) as z:
            summary = z.read("Part_1_summary.csv").decode()
            own = list(csv.DictReader(io.StringIO(z.read("Part_6_own_initiative_TC.csv").decode())))
        assert "Date of the publication of the report,2027-02-01" in summary
        # The policy violation came from a notice: no measure at the platform's own initiative.
        assert own[0]["Number of measures taken at the provider's own initiative "] == "0"

        fresh = client.get("/metrics", headers=bearer(scraper)).text
        assert _value(fresh, "takedown_clock_decision_seconds_gcount", priority="P2") == 1
        assert (
            _value(fresh, "takedown_clock_decision_seconds_bucket", le="+Inf", priority="P2") == 1
        )
        assert _value(fresh, "takedown_cases_overdue", priority="P2") == 0
        container.clock.advance(2 * 86_400)  # the waiting case is now overdue
        metrics = client.get("/metrics", headers=bearer(scraper))
        assert metrics.status_code == 200
        text = metrics.text
    # The decided case is two days old now: out of the last day's window.
    assert _value(text, "takedown_clock_decision_seconds_gcount", priority="P2") == 0
    assert _value(text, "takedown_cases_overdue", priority="P2") == 1
    assert _value(text, "takedown_oldest_pending_seconds", lane="delivery") >= 2 * 86_400
    assert waiting["case_number"] not in text  # figures only
    assert "# TYPE takedown_clock_first_look_seconds histogram" in text  # text format 0.0.4
