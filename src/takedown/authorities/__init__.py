"""Reports to the authorities, as values and documents (no I/O).

``cybertip`` holds NCMEC's CyberTipline report and writes its XML; ``schema`` checks a
document against the CyberTipline schema; ``filing`` is the state of one case's filing
(drafted, filing, filed, failed, needs attention) and its rules.

Another authority is another module here with the same three parts: its report as values,
its documents, and a ``Channel`` that says how a confirmed case becomes one. The UK's National
Crime Agency (Online Safety Act s.66) is the next; ``docs/filing.md`` says what it would take.
"""

from takedown.authorities.cybertip import (
    Contact,
    FileAnnotation,
    IncidentType,
    IndustryClassification,
    IpEvent,
    LawEnforcement,
    ReportAnnotation,
    ReportedUser,
    Tip,
    TipFile,
    Victim,
    file_details_xml,
    report_xml,
    timestamp,
)
from takedown.authorities.filing import (
    Channel,
    ChannelRefused,
    ChannelUnavailable,
    Filing,
    FilingRefused,
    FilingRequested,
    FilingState,
    FilingStep,
    ReportFiled,
    Uploaded,
)
from takedown.authorities.schema import Schema, SchemaInvalid, SchemaUnreadable, shipped

__all__ = [
    "Channel",
    "ChannelRefused",
    "ChannelUnavailable",
    "Contact",
    "FileAnnotation",
    "Filing",
    "FilingRefused",
    "FilingRequested",
    "FilingState",
    "FilingStep",
    "IncidentType",
    "IndustryClassification",
    "IpEvent",
    "LawEnforcement",
    "ReportAnnotation",
    "ReportFiled",
    "ReportedUser",
    "Schema",
    "SchemaInvalid",
    "SchemaUnreadable",
    "Tip",
    "TipFile",
    "Uploaded",
    "Victim",
    "file_details_xml",
    "report_xml",
    "shipped",
    "timestamp",
]
