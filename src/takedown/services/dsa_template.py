"""The quantitative transparency report in the harmonised templates of Implementing Regulation
(EU) 2024/2835 (Annex I): the template's CSV parts, with the rows and columns the Commission's
own CSV files have, filled with what takedown counted for the period.

What takedown fills, and from what:

- Part 1 (summary): the provider's name (``TAKEDOWN_PLATFORM_NAME``), the dates.
- Part 4 (notices, Article 16): notices by category (a report that is not a hash match on
  upload), those from trusted flaggers, their items (one a notice), the median time from the
  first notice to the decision, in hours, and the restricting actions taken on them.
- Parts 5 and 6 (measures at the provider's own initiative, for illegal content and for the
  terms and conditions): the restricting actions of cases opened by hash matches alone, by
  type, and those decided with no person (solely automated).
- Part 7 (complaints): appeals against removals and against "no violation" on a notice,
  upheld, reversed, and the median time to their decision, in hours; suspensions of accounts
  that spread manifestly illegal content.
- Part 8 (automated means): restricting measures with and without a person, and accuracy
  (the share of automatic decisions no later decision reversed).

A category takedown does not handle keeps its row with its cells empty, as does a figure
takedown does not know (Member States' orders, Part 3; out-of-court settlement; human
resources, Part 9; average monthly recipients, Part 10; the qualitative Part 11): the provider
completes those from its own records.
"""

from __future__ import annotations

import csv
import io
import zipfile
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from takedown.cases import Category
from takedown.cases.reasons import DSA_CATEGORIES
from takedown.identity import Permission, Principal, require
from takedown.services.transparency import Clock, TransparencyReport, report
from takedown.store.uow import UnitOfWork

# The template's categories of illegal content and their keywords, in its order; each
# category closes with KEYWORD_OTHER.
ILLEGAL = (
    ("STATEMENT_CATEGORY_ANIMAL_WELFARE", ("KEYWORD_ANIMAL_HARM", "KEYWORD_UNLAWFUL_SALE_ANIMALS")),
    ("STATEMENT_CATEGORY_CONSUMER_INFORMATION", (
        "KEYWORD_HIDDEN_ADVERTISEMENT", "KEYWORD_INSUFFICIENT_INFORMATION_ON_TRADERS",
        "KEYWORD_MISLEADING_INFO_GOODS_SERVICES", "KEYWORD_MISLEADING_INFO_CONSUMER_RIGHTS",
        "KEYWORD_NONCOMPLIANCE_PRICING")),
    ("STATEMENT_CATEGORY_CYBER_VIOLENCE", (
        "KEYWORD_CYBER_BULLYING_INTIMIDATION", "KEYWORD_CYBER_HARASSMENT",
        "KEYWORD_CYBER_INCITEMENT", "KEYWORD_CYBER_STALKING",
        "KEYWORD_NON_CONSENSUAL_IMAGE_SHARING", "KEYWORD_NON_CONSENSUAL_MATERIAL_DEEPFAKE")),
    ("STATEMENT_CATEGORY_CYBER_VIOLENCE_AGAINST_WOMEN", (
        "KEYWORD_BULLYING_AGAINST_GIRLS", "KEYWORD_CYBER_HARASSMENT_AGAINST_WOMEN",
        "KEYWORD_CYBER_STALKING_AGAINST_WOMEN", "KEYWORD_FEMALE_GENDERED_DISINFORMATION",
        "KEYWORD_INCITEMENT_AGAINST_WOMEN", "KEYWORD_NON_CONSENSUAL_IMAGE_SHARING_AGAINST_WOMEN",
        "KEYWORD_NON_CONSENSUAL_MATERIAL_DEEPFAKE_AGAINST_WOMEN")),
    ("STATEMENT_CATEGORY_DATA_PROTECTION_AND_PRIVACY_VIOLATIONS", (
        "KEYWORD_BIOMETRIC_DATA_BREACH", "KEYWORD_DATA_FALSIFICATION",
        "KEYWORD_MISSING_PROCESSING_GROUND", "KEYWORD_RIGHT_TO_BE_FORGOTTEN")),
    ("STATEMENT_CATEGORY_ILLEGAL_OR_HARMFUL_SPEECH", (
        "KEYWORD_DEFAMATION", "KEYWORD_DISCRIMINATION", "KEYWORD_HATE_SPEECH")),
    ("STATEMENT_CATEGORY_INTELLECTUAL_PROPERTY_INFRINGEMENTS", (
        "KEYWORD_COPYRIGHT_INFRINGEMENT", "KEYWORD_DESIGN_INFRINGEMENT",
        "KEYWORD_GEOGRAPHIC_INDICATIONS_INFRINGEMENT", "KEYWORD_PATENT_INFRINGEMENT",
        "KEYWORD_TRADE_SECRET_INFRINGEMENT", "KEYWORD_TRADEMARK_INFRINGEMENT")),
    ("STATEMENT_CATEGORY_NEGATIVE_EFFECTS_ON_CIVIC_DISCOURSE_OR_ELECTIONS", (
        "KEYWORD_MISINFORMATION_DISINFORMATION", "KEYWORD_VIOLATION_EU_LAW",
        "KEYWORD_VIOLATION_NATIONAL_LAW")),
    ("STATEMENT_CATEGORY_PROTECTION_OF_MINORS", (
        "KEYWORD_AGE_SPECIFIC_RESTRICTIONS_MINORS", "KEYWORD_CHILD_SEXUAL_ABUSE_MATERIAL",
        "KEYWORD_CHILD_SEXUAL_ABUSE_MATERIAL_DEEPFAKE",
        "KEYWORD_GROOMING_SEXUAL_ENTICEMENT_MINORS", "KEYWORD_UNSAFE_CHALLENGES")),
    ("STATEMENT_CATEGORY_RISK_FOR_PUBLIC_SECURITY", (
        "KEYWORD_ILLEGAL_ORGANIZATIONS", "KEYWORD_RISK_ENVIRONMENTAL_DAMAGE",
        "KEYWORD_RISK_PUBLIC_HEALTH", "KEYWORD_TERRORIST_CONTENT")),
    ("STATEMENT_CATEGORY_SCAMS_AND_FRAUD", (
        "KEYWORD_IMPERSONATION_ACCOUNT_HIJACKING", "KEYWORD_INAUTHENTIC_ACCOUNTS",
        "KEYWORD_INAUTHENTIC_LISTINGS", "KEYWORD_INAUTHENTIC_USER_REVIEWS", "KEYWORD_PHISHING",
        "KEYWORD_PYRAMID_SCHEMES")),
    ("STATEMENT_CATEGORY_SELF_HARM", (
        "KEYWORD_CONTENT_PROMOTING_EATING_DISORDERS", "KEYWORD_SELF_MUTILATION",
        "KEYWORD_SUICIDE")),
    ("STATEMENT_CATEGORY_UNSAFE_AND_PROHIBITED_PRODUCTS", (
        "KEYWORD_PROHIBITED_PRODUCTS", "KEYWORD_UNSAFE_PRODUCTS")),
    ("STATEMENT_CATEGORY_VIOLENCE", (
        "KEYWORD_COORDINATED_HARM", "KEYWORD_INCITEMENT_VIOLENCE_HATRED",
        "KEYWORD_HUMAN_EXPLOITATION", "KEYWORD_HUMAN_TRAFFICKING",
        "KEYWORD_TRAFFICKING_WOMEN_GIRLS")),
)  # fmt: skip
# Part 4 closes with the notices that named no category; Part 6 with the terms' own.
NOT_SPECIFIED = ("STATEMENT_CATEGORY_NOT_SPECIFIED_NOTICE", ())
TERMS = ("STATEMENT_CATEGORY_OTHER_VIOLATION_TC", (
    "KEYWORD_ADULT_SEXUAL_MATERIAL", "KEYWORD_AGE_SPECIFIC_RESTRICTIONS",
    "KEYWORD_GEOGRAPHICAL_REQUIREMENTS", "KEYWORD_GOODS_SERVICES_NOT_PERMITTED",
    "KEYWORD_LANGUAGE_REQUIREMENTS", "KEYWORD_NUDITY"))  # fmt: skip

HOSTING = "Only for providers of hosting services, including online platforms"
PLATFORMS = "Only for providers of online platforms"
_LEAD = ("Applicability", "Service", "Reporting period")
_OTHER = 'Description of the sub-category "Other"'
NOTICE_FIGURES = (
    "Number of notices received ",
    "Number of notices received from Trusted flaggers",
    "Number of specific items of information included in the total number of notices",
    "Number of specific items of information included in the total number of notices by "
    "Trusted Flaggers (Trusted Flagger notices)",
    "Median time to take action",
    "Median time to take action (Trusted Flagger notices)",
    "Number of actions taken on the basis of the law",
    "Number of actions taken on the basis of the law (Trusted Flagger notices)",
    "Number of actions taken on the basis of the terms and conditions of the service",
    "Number of actions taken on the basis of the terms and conditions of the service "
    "(Trusted Flagger notices)",
)
MEASURE_FIGURES = (
    "Number of measures taken at the provider's own initiative ",
    "Number of measures taken after detection with solely automated means ",
    "Visibility restriction Removal", "Visibility restriction Disable",
    "Visibility restriction Demoted", "Visibility restriction Age restricted",
    "Visibility restriction Interaction restricted", "Visibility restriction Labelled ",
    "Visibility restriction Other", "Monetary restriction Suspension",
    "Monetary restriction Termination", "Monetary restriction Other",
    "Provision of the service Suspension", "Provision of the service Termination",
    "Account restriction Suspension", "Account restriction Termination",
)  # fmt: skip
# Where each restricting action counts among the measures (``cases.reasons.RESTRICTIONS``).
_MEASURE_OF = {
    "remove": "Visibility restriction Removal",
    "restrict": "Visibility restriction Disable",
    "suspend_account": "Account restriction Suspension",
}
INDICATOR_COLUMNS = (*_LEAD, "Section", "Indicator", "Scope", "Value", "Contextual Information")
_COMPLAINTS = "Internal complaints mechanism"
_AUTOMATED = "Use of automated means for content moderation"
HOURS = "In hours, to two decimals."


def _hours(seconds: float | None) -> str:
    return "" if seconds is None else f"{seconds / 3600:.2f}"


def _rows(tree: Iterable[tuple[str, tuple[str, ...]]]) -> list[str]:
    """The category or keyword of each row after TOTAL, in the template's order."""
    out: list[str] = []
    for category, keywords in tree:
        out += [category, *keywords, *(("KEYWORD_OTHER",) if keywords else ())]
    return out


@dataclass(frozen=True)
class Template:
    """The template's parts as CSV text, by file name."""

    parts: dict[str, str]

    def zip_bytes(self) -> bytes:
        out = io.BytesIO()
        with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
            for name, text in self.parts.items():
                z.writestr(name, text)
        return out.getvalue()


def _csv(header: Iterable[str], rows: Iterable[Iterable[Any]]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(list(header))
    writer.writerows(["" if v is None else v for v in row] for row in rows)
    return out.getvalue()


def _keys(category: str) -> tuple[str, ...]:
    """The template rows a takedown category's figures count in: its statement category and
    keyword, and TOTAL."""
    dsa_category, keyword = DSA_CATEGORIES[Category(category)]
    return ("TOTAL", dsa_category, *((keyword,) if keyword else ()))


def _add(table: dict[str, dict[str, float]], category: str, column: str, n: float) -> None:
    for key in _keys(category):
        row = table.setdefault(key, {})
        row[column] = row.get(column, 0) + n


def build(
    *,
    uow: UnitOfWork,
    actor: Principal,
    start: datetime,
    end: datetime,
    provider: str,
    published: date,
    previous: date | None = None,
) -> Template:
    """The template for ``[start, end)`` (``transparency:read``)."""
    require(actor, Permission.transparency_read)
    found = report(uow=uow.spawn(readonly=True), actor=actor, start=start, end=end)
    with uow:
        t = uow.transparency
        measures = t.measures(start, end)
        clocks = t.decision_by_category(start, end)
    period = f"{start.date().isoformat()}/{end.date().isoformat()}"
    return Template(
        {
            "Part_1_summary.csv": _summary(found, provider, published, previous),
            "Part_4_notices.csv": _notices(period, found.notices, measures, clocks),
            "Part_5_own_initiative_illegal.csv": _measures(period, measures, illegal=True),
            "Part_6_own_initiative_TC.csv": _measures(period, measures, illegal=False),
            "Part_7_appeals_and_recidivism.csv": _appeals(period, found, measures),
            "Part_8_automated_means.csv": _automated(period, found, measures),
        }
    )


def _summary(r: TransparencyReport, provider: str, published: date, previous: date | None) -> str:
    last = r.end.date().toordinal() - 1
    rows = [
        ("All", "", "Name of the service provider", provider),
        ("All", "", "Date of the publication of the report", published.isoformat()),
        ("All", "", "Date of the publication of the latest previous report",
         previous.isoformat() if previous else ""),
        ("All", "", "Starting date of reporting period", r.start.date().isoformat()),
        ("All", "", "Ending date of reporting period", date.fromordinal(last).isoformat()),
    ]  # fmt: skip
    return _csv(("Applicability", "Service", "Indicator", "Value"), rows)


def _notices(
    period: str,
    notices: dict[str, dict[str, int]],
    measures: list[tuple[str, str, bool, bool, int]],
    clocks: list[tuple[str, int, int]],
) -> str:
    """``notices``: the report's, category → source → count (hash matches apart already)."""
    table: dict[str, dict[str, float]] = {"TOTAL": {}}
    for category, sources in notices.items():
        if category == Category.policy:
            continue  # reports under the terms alone
        flagged = sources.get("trusted_flagger", 0)
        for column, n in zip(NOTICE_FIGURES[:4], (sum(sources.values()), flagged) * 2, strict=True):
            _add(table, category, column, n)
    for _type, category, own, _auto, n in measures:
        if not own and category != Category.policy:
            _add(table, category, NOTICE_FIGURES[6], n)  # on the basis of the law
    by_key: dict[str, list[tuple[float, int]]] = {}
    for category, seconds, n in clocks:
        if category != Category.policy:
            for key in _keys(category):
                by_key.setdefault(key, []).append((seconds, n))
    for key, counts in by_key.items():
        if key in table:
            table[key][NOTICE_FIGURES[4]] = Clock.of_counts(counts).median_s or 0.0
    context = {
        NOTICE_FIGURES[2]: "Each notice names one item.",
        NOTICE_FIGURES[4]: "From the first notice about the content to the decision on it. "
        + HOURS,
        NOTICE_FIGURES[5]: "Not kept apart for trusted flaggers' notices.",
        NOTICE_FIGURES[7]: "Not kept apart for trusted flaggers' notices.",
    }
    header = (*_LEAD, "Category of illegal content", _OTHER, *NOTICE_FIGURES,
              *(f"Contextual information on {f}" for f in NOTICE_FIGURES))  # fmt: skip
    rows = []
    for key in ["TOTAL", *_rows((*ILLEGAL, NOT_SPECIFIED))]:
        values = table.get(key) if key != "KEYWORD_OTHER" else None
        figures = [_figure(values, f) for f in NOTICE_FIGURES]
        notes = [context.get(f, "") if key == "TOTAL" else "" for f in NOTICE_FIGURES]
        rows.append((HOSTING, "", period, key, "", *figures, *notes))
    return _csv(header, rows)


def _figure(values: dict[str, float] | None, column: str) -> Any:
    """A cell: empty where takedown counted nothing of the row or does not keep the figure
    (trusted flaggers' times and actions apart); else the figure (a median in hours)."""
    if values is None or column in _UNKEPT:
        return ""
    value = values.get(column)
    if column.startswith("Median time"):
        return _hours(value)
    return int(value or 0)


_UNKEPT = {NOTICE_FIGURES[5], NOTICE_FIGURES[7], NOTICE_FIGURES[9]}


def _measures(
    period: str, measures: list[tuple[str, str, bool, bool, int]], *, illegal: bool
) -> str:
    table: dict[str, dict[str, float]] = {"TOTAL": {}}
    for type_, category, own, auto, n in measures:
        if not own or (category == Category.policy) == illegal:
            continue
        _add(table, category, MEASURE_FIGURES[0], n)
        _add(table, category, MEASURE_FIGURES[1], n if auto else 0)
        _add(table, category, _MEASURE_OF[type_], n)
    tree = ILLEGAL if illegal else (*ILLEGAL, TERMS)
    context = {MEASURE_FIGURES[0]: "Restrictions on cases opened by hash matches on upload, "
               "with no notice.",
               MEASURE_FIGURES[1]: "Decided with no person: an upload matching a hash list "
               "that blocks and reports."}  # fmt: skip
    label = (
        "Category of illegal content"
        if illegal
        else ("Category of incompatibility with the provider's terms and conditions")
    )
    header = (*_LEAD, label, _OTHER, *MEASURE_FIGURES,
              *(f"Contextual Information on {f}" for f in MEASURE_FIGURES))  # fmt: skip
    rows = []
    for key in ["TOTAL", *_rows(tree)]:
        values = table.get(key) if key != "KEYWORD_OTHER" else None
        figures = ["" if values is None else int(values.get(f, 0)) for f in MEASURE_FIGURES]
        notes = [context.get(f, "") if key == "TOTAL" else "" for f in MEASURE_FIGURES]
        rows.append(("All", "", period, key, "", *figures, *notes))
    return _csv(header, rows)


def _appeals(
    period: str, r: TransparencyReport, measures: list[tuple[str, str, bool, bool, int]]
) -> str:
    rows: list[tuple[Any, ...]] = []

    def add(applicability: str, indicator: str, scope: str, value: Any, note: str = "") -> None:
        rows.append((applicability, "", period, _COMPLAINTS, indicator, scope, value, note))

    total = "Number of complaints submitted to the internal-complaints mechanism"
    add("All", total, "Total number", r.appeals)
    add(PLATFORMS, total, "Decisions upheld", r.appeals_decided - r.reversals)
    add(PLATFORMS, total, "Decisions partially reversed", 0)
    add(PLATFORMS, total, "Decisions reversed", r.reversals)
    add(PLATFORMS, total, "Median time", _hours(r.appeal_to_decision.median_s), HOURS)
    add(PLATFORMS, total, "Decision omitted", r.appeals - r.appeals_decided,
        "Appeals not yet decided at the end of the period.")  # fmt: skip
    newly = sum(c.reversed for k, c in r.appeals_by_decision.items() if k == "no_violation")
    add(PLATFORMS, "Number of restrictions newly imposed as a result of an internal complaint",
        "Total number", newly, "Decisions that found a violation on appeal.")  # fmt: skip
    kinds = (
        ("violation", "Complaint regarding a decision to remove or disable access to or "
         "restrict visibility of information"),
        ("no_violation", "Complaint regarding a decision not to take action on a notice "
         "submitted in accordance with Article 16"),
    )  # fmt: skip
    for kind, indicator in kinds:
        c = r.appeals_by_decision.get(kind)
        n, decided, back = (c.appeals, c.decided, c.reversed) if c else (0, 0, 0)
        add(PLATFORMS, indicator, "Total number", n)
        add(PLATFORMS, indicator, "Decisions upheld", decided - back)
        add(PLATFORMS, indicator, "Decisions partially reversed", 0)
        add(PLATFORMS, indicator, "Decisions reversed", back)
        add(PLATFORMS, indicator, "Median time",
            _hours(c.to_decision.median_s) if c else "", HOURS)  # fmt: skip
    suspensions = sum(n for t, _c, _o, _a, n in measures if t == "suspend_account")
    rows.append((PLATFORMS, "", period, "Suspensions imposed on repeated offenders",
                 "Number of suspensions enacted for the provision of manifestly illegal "
                 "content ", "Total number", suspensions,
                 "Accounts suspended for what they uploaded."))  # fmt: skip
    return _csv(INDICATOR_COLUMNS, rows)


def _automated(
    period: str, r: TransparencyReport, measures: list[tuple[str, str, bool, bool, int]]
) -> str:
    auto = sum(n for _t, _c, _o, a, n in measures if a)
    person = sum(n for _t, _c, _o, a, n in measures if not a)
    own_auto = sum(n for _t, _c, o, a, n in measures if o and a)
    own_person = sum(n for _t, _c, o, a, n in measures if o and not a)
    error = r.automated_error_rate
    accuracy = "" if error is None else f"{1 - error:.4f}"
    note = ("The share of automatic decisions that no later decision reversed; hash matching "
            "has no recall takedown can count.")  # fmt: skip
    rows: list[tuple[Any, ...]] = []
    for scope, yes, no in (("Total number", auto, person), ("Own-initiative ", own_auto,
                                                               own_person)):  # fmt: skip
        for indicator, value, why in (
            ("Number of measures solely taken by automated means ", yes, ""),
            ("Number of measures not taken by automated means", no, ""),
            ("Accuracy of the automated means - Accuracy", accuracy, note),
            ("Accuracy of the automated means - Precision", "", ""),
            ("Accuracy of the automated means - Recall", "", ""),
        ):
            rows.append(("All", "", period, _AUTOMATED, indicator, scope, value, why))
    return _csv(INDICATOR_COLUMNS, rows)
