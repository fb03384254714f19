"""The table of reactions is complete: every event type takedown defines has its reactions
declared (or is declared the outbox's record only), and the catalogue every process shares
is exactly what the table says."""

import dataclasses
import importlib
import pkgutil

import takedown
from takedown.flows import REACTIONS, SYSTEM_EVENTS


def _event_classes() -> set[type]:
    """Every class in the package with an ``event_type`` name of its own."""
    found: set[type] = set()
    for module in pkgutil.walk_packages(takedown.__path__, "takedown."):
        if ".migrations" in module.name or module.name.endswith("__main__"):
            continue
        loaded = importlib.import_module(module.name)
        for value in vars(loaded).values():
            if (
                isinstance(value, type)
                and dataclasses.is_dataclass(value)
                and isinstance(value.__dict__.get("event_type"), str)
            ):
                found.add(value)
    return found


def test_every_event_type_has_its_reactions_declared():
    events = _event_classes()
    assert len(events) > 20
    missing = sorted(cls.__name__ for cls in events - set(REACTIONS))
    assert missing == [], f"declare these in flows/reactions.py: {missing}"
    unknown = sorted(cls.__name__ for cls in set(REACTIONS) - events)
    assert unknown == []


def test_the_shared_catalogue_is_what_the_table_says():
    for cls, reactions in REACTIONS.items():
        name = cls.event_type
        if reactions.after_commit:
            assert name in SYSTEM_EVENTS.handled, name
        elif name not in SYSTEM_EVENTS.handled:
            assert name in SYSTEM_EVENTS.record_only, name
    assert not SYSTEM_EVENTS.handled & SYSTEM_EVENTS.record_only
    assert len(SYSTEM_EVENTS.handled | SYSTEM_EVENTS.record_only) == len(REACTIONS)


def test_every_reaction_says_what_it_does():
    for cls, reactions in REACTIONS.items():
        for reaction in reactions.after_commit:
            assert reaction.__doc__, (cls.__name__, reaction.__name__)
        for step in reactions.in_transaction:
            # "package.module.function: what it does": the function exists, so the table
            # cannot go on naming one that was renamed or removed.
            path = step.split(":")[0]
            module_name, _, function = path.rpartition(".")
            module = importlib.import_module(f"takedown.{module_name}")
            assert callable(getattr(module, function, None)), step


def test_a_commit_wakes_the_lanes_its_events_name_and_no_other():
    """The runtime's one rule: a commit wakes the lane the table names for each event it
    published; a type no table names wakes the default lane (which leaves it pending), and a
    type stored done when published wakes nothing."""
    import pytest

    from takedown.authorities import FilingRequested
    from takedown.cases import ReportReceived
    from takedown.cases.enforcement import ActionsPlanned, EvidenceWanted
    from takedown.flows import SYSTEM_EVENTS, lanes
    from takedown.jobs import Runtime
    from takedown.jobs.loop import BackgroundLoop

    class Listeners:
        done_at_publish = SYSTEM_EVENTS.record_only  # ActionsPlanned among them

        def __init__(self):
            self.listeners = []

        def on_commit(self, listener):
            self.listeners.append(listener)

        def commit(self, *types):
            for listener in self.listeners:
                listener(frozenset(types))

    class Lane(BackgroundLoop):
        woken = 0

        def wake(self):
            self.woken += 1

    db = Listeners()
    runtime = Runtime(db, lanes(), default="events")
    named = {name: Lane() for name in ("events", "evidence", "delivery", "filing")}
    for name, lane in named.items():
        runtime.add(name, lane)

    def woken():
        return {name: lane.woken for name, lane in named.items() if lane.woken}

    db.commit(ActionsPlanned.event_type)
    assert woken() == {"delivery": 1}
    db.commit(FilingRequested.event_type, ActionsPlanned.event_type, EvidenceWanted.event_type)
    assert woken() == {"delivery": 2, "filing": 1, "evidence": 1}
    db.commit(ReportReceived.event_type)
    db.commit()
    assert woken() == {"delivery": 2, "filing": 1, "evidence": 1}
    db.commit("from.a.newer.release")
    assert woken() == {"delivery": 2, "filing": 1, "evidence": 1, "events": 1}
    with pytest.raises(ValueError):
        runtime.add("delivery", Lane())
