"""The end-to-end goals in each of several runs of the flows (loopback HTTP, the speed-up
off and on), with their margins: one run can land on either side of a goal by chance, so
the goals are checked in every run. :mod:`benchmarks.report` puts this in the document."""

from __future__ import annotations

from dataclasses import dataclass

from ._common import median, table
from .flows import FlowResults
from .report_work import ENROL_GOAL, RECOVERY_GOAL

LIBRARY = "st-twofactor"
REUSE = "+reuse"
"""The suffix of a variant's key with the speed-up on (``Setup.suffix``)."""


@dataclass(frozen=True)
class EndToEnd:
    """One run against one other alternative: sums of median flow times (ms) over the
    flows all four variants ran."""

    flows: int
    ours_off: float
    theirs_off: float
    ours_on: float
    theirs_on: float

    @property
    def met(self) -> bool:
        return self.ours_off < self.theirs_off and self.ours_on < self.theirs_on


@dataclass(frozen=True)
class RunMargins:
    """The goals of one run: end to end against each other alternative, and the two
    ratios against a TOTP code (speed-up on)."""

    end_to_end: dict[str, EndToEnd]
    enrol_ratio: float | None
    recovery_ratio: float | None

    @property
    def met(self) -> bool:
        return (
            all(e.met for e in self.end_to_end.values())
            and (self.enrol_ratio is None or self.enrol_ratio <= ENROL_GOAL)
            and (self.recovery_ratio is None or self.recovery_ratio <= RECOVERY_GOAL)
        )


def _median_ms(run: FlowResults, key: str, flow: str) -> float | None:
    samples = run.measured(key, flow) if key in run.samples else None
    return None if samples is None else 1e3 * median(samples.seconds)


def margins(run: FlowResults, others: list[str]) -> RunMargins:
    """The goals as measured in ``run`` (its plain-HTTP variants)."""
    ends = {}
    for other in others:
        keys = [LIBRARY, other, LIBRARY + REUSE, other + REUSE]
        shared = [
            flow
            for flow in run.samples[LIBRARY]
            if all(k in run.samples and run.measured(k, flow) for k in keys)
        ]
        if not shared:
            continue
        sums = [sum(_median_ms(run, k, f) or 0.0 for f in shared) for k in keys]
        ends[other] = EndToEnd(len(shared), sums[0], sums[1], sums[2], sums[3])
    code = _median_ms(run, LIBRARY + REUSE, "totp-verify")
    enrol = _median_ms(run, LIBRARY + REUSE, "totp-enrol")
    recovery = _median_ms(run, LIBRARY + REUSE, "recovery-code")
    return RunMargins(
        ends,
        enrol / code if enrol and code else None,
        recovery / code if recovery and code else None,
    )


def repeats_goal(runs: list[FlowResults], others: list[str]) -> list[list[str]]:
    """One goal row: every end-to-end goal and ratio met in each of the runs."""
    if len(runs) < 2:
        return []
    measured = [margins(run, others) for run in runs]
    met = sum(m.met for m in measured)
    return [
        [
            f"The end-to-end goals and the two ratios above, met in each of {len(runs)} runs "
            "of the flows (loopback HTTP, the speed-up off and on)",
            f"met in {met} of {len(runs)} runs (margins in section 2, *Runs*)",
            "**met**" if met == len(runs) else "**not met**",
        ]
    ]


def repeats_section(
    runs: list[FlowResults], others: list[str], titles: dict[str, str]
) -> list[str]:
    """Per run: the sums and the margin against each alternative, and the two ratios."""
    if len(runs) < 2:
        return []
    header = ["run"]
    for other in others:
        name = titles.get(other, other)
        header += [f"vs {name}, off: ms (margin)", f"vs {name}, on: ms (margin)"]
    header += ["TOTP enrolment / TOTP code", "recovery code / TOTP code", "all met"]
    body = []
    for number, run in enumerate(runs, 1):
        m = margins(run, others)
        row = [str(number)]
        for other in others:
            e = m.end_to_end.get(other)
            if e is None:
                row += ["", ""]
                continue
            row += [
                f"{e.ours_off:.0f} vs {e.theirs_off:.0f} ({e.theirs_off / e.ours_off:.2f}x)",
                f"{e.ours_on:.0f} vs {e.theirs_on:.0f} ({e.theirs_on / e.ours_on:.2f}x)",
            ]
        row += [
            "" if m.enrol_ratio is None else f"{m.enrol_ratio:.2f}x",
            "" if m.recovery_ratio is None else f"{m.recovery_ratio:.2f}x",
            "yes" if m.met else "no",
        ]
        body.append(row)
    return [
        "### Runs",
        "",
        f"The flows over loopback HTTP, the speed-up off and on, measured {len(runs)} times in "
        "this run of the benchmark (the first is the one above): for each alternative, "
        "st-twofactor's sum of median flow times against theirs over the flows both offer, "
        "and the margin (theirs / ours: above 1, st-twofactor is faster); and st-twofactor's "
        f"ratios with the speed-up on (goals: at most {ENROL_GOAL:g}x and "
        f"{RECOVERY_GOAL:g}x).",
        "",
        *table(header, body),
        "",
    ]
