"""The W&B comparison view of a sweep: a saved workspace view and a report, built with
``wandb-workspaces`` (W&B's own library for workspaces and reports).

``python -m harness.report SWEEP --wandb-workspace ENTITY/PROJECT [--wandb-report]``. The
runs are the ones the tracker logged for the sweep (one W&B run per point, grouped by sweep);
the view filters them by that group, groups them by the keys the sweep varies and shows:

- accuracy against tokens per problem, one line per system (log x), and the Pareto front;
- accuracy against each swept knob (agents, turns, critic rounds, tokens), one line per system;
- cost: tokens per correct answer, tokens and calls by role, calls, no-answer rate;
- the per-problem table, a run comparer of the points' configs, parallel coordinates.

Every panel names keys from the tracker's own lists (:mod:`harness.tracking.wandb_tracker`),
so a renamed metric fails a test rather than drawing an empty panel.

Saving is idempotent: the view's internal name is derived from the project and the sweep's
groups, looked up first and updated in place; the report is found by its title. Without
credentials (or with ``WANDB_MODE=offline``) nothing is sent: the specs, in the library's own
serialisation, are written next to the report (:data:`WORKSPACE_SPEC`, :data:`REPORT_SPEC`),
and ``python -m harness.report.wandb_view publish FILE…`` uploads them later.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import logging
import sys
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from harness.errors import HarnessError
from harness.report.points import Point
from harness.tracking.mode import resolve_mode
from harness.tracking.naming import sweep_group
from harness.tracking.wandb_tracker import (
    DERIVED,
    GROUP_KEYS,
    KNOBS,
    POINT,
    POINT_KEYS,
    ROLE_CALLS,
    ROLE_TOKENS,
    SCALING_KNOBS,
    SUMMARY_PLOTTED,
    TABLE_KEY,
    TRAJECTORY_PLOTTED,
)

log = logging.getLogger("harness")

WORKSPACE_SPEC = "wandb_workspace.json"
REPORT_SPEC = "wandb_report.json"
#: the app's limit on a view's name
NAME_MAX = 128

# What the view plots, by the tracker's names (a KeyError here is a renamed tracker key).
_SUMMARY = set(SUMMARY_PLOTTED) | set(DERIVED) | set(TRAJECTORY_PLOTTED)
_POINT = {k: POINT.format(key=k) for k in POINT_KEYS}


@dataclass
class SweepView:
    """What the view is built from: the sweep's W&B groups and what varies in it."""

    groups: list[str]
    title: str
    swept: list[str]  # config keys whose values differ between the points (runs table groups)
    knobs: list[str]  # the scaling knobs among them, in SCALING_KNOBS order
    roles: list[str]  # agent roles that ran in some point
    n_points: int


def describe(points: list[Point]) -> SweepView:
    """The view's inputs from the local points (run dirs): each point's W&B group is what its
    tracker used (``tracking.wandb.group`` from its config.yaml, else the sweep's overrides)."""
    local = [p for p in points if not p.source.startswith("wandb:")]
    groups = sorted({g for p in local if (g := _group(Path(p.source)))})
    if not groups:
        raise HarnessError(
            "no sweep among the given paths: the W&B view is per sweep (its runs share a W&B "
            "group, from Hydra's multirun.yaml or tracking.wandb.group)"
        )
    values: dict[str, set[str]] = {}
    for p in local:
        row = {"system": f"{p.model}/{p.mas}", "model": p.model, "mas": p.mas}
        row["benchmark"] = p.benchmark
        row.update({k: p.knobs.get(k) for k in KNOBS if k in p.knobs})
        for k, v in row.items():
            values.setdefault(k, set()).add(json.dumps(v, default=str))
    varying = {k for k, v in values.items() if len(v) > 1}
    if {"model", "mas"} & varying:
        varying = (varying - {"model", "mas"}) | {"system"}  # one key names both
    order = [*GROUP_KEYS, *KNOBS]
    swept = [k for k in order if k in varying]
    roles = sorted({r for p in local for r in (p.tokens_by_role or {})})
    title = _display("; ".join(groups))
    return SweepView(
        groups=groups,
        title=title if len(title) <= NAME_MAX else title[: NAME_MAX - 9] + "… " + _hash(title, 6),
        swept=swept,
        knobs=[k for k in SCALING_KNOBS if k in varying],
        roles=roles,
        n_points=len(local),
    )


def _display(text: str) -> str:
    """A name the app accepts: the library rejects symbol characters (``=`` included), so an
    override ``tokens=32,64`` reads ``tokens:32,64``."""
    out = []
    for char in text:
        if unicodedata.category(char).startswith(("So", "Sk", "Sm", "Sc", "Cs")):
            out.append(":" if char == "=" else " ")
        else:
            out.append(char)
    return "".join(out)


def _group(run_dir: Path) -> str | None:
    try:
        cfg = yaml.safe_load((run_dir / "config.yaml").read_text()) or {}
        configured = ((cfg.get("tracking") or {}).get("wandb") or {}).get("group")
    except (OSError, yaml.YAMLError, AttributeError):
        configured = None
    return configured or sweep_group(run_dir, {})


def _hash(text: str, n: int) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:n]


# -- panels ----------------------------------------------------------------------------------
def _summary(key: str) -> Any:
    import wandb_workspaces.reports.v2 as wr

    assert key in _SUMMARY or key.startswith(ROLE_TOKENS[:5]), key
    return wr.SummaryMetric(key)


def _line(title: str, x_key: str, log_x: bool = False) -> Any:
    """Accuracy against ``x_key`` (a :data:`POINT_KEYS` key), one line per system: each run
    has one point in history, and grouping by ``system`` joins a system's points."""
    import wandb_workspaces.reports.v2 as wr

    return wr.LinePlot(
        title=title,
        x=_POINT[x_key],
        y=[_POINT["accuracy"]],
        groupby=wr.Config("system"),
        groupby_aggfunc="mean",
        groupby_rangefunc="stderr",
        log_x=log_x or None,
        title_x=x_key.replace("_", " "),
        title_y="accuracy",
        plot_type="line",
    )


def _bars(title: str, keys: list[str]) -> Any:
    import wandb_workspaces.reports.v2 as wr

    return wr.BarPlot(title=title, metrics=[_summary(k) for k in keys], orientation="v")


def sections(view: SweepView) -> list[tuple[str, list[Any]]]:
    """The view's sections as (name, panels); the workspace and the report share them."""
    import wandb_workspaces.reports.v2 as wr

    tokens = [
        _line("Accuracy vs tokens per problem, one line per system", "tokens_per_problem", True),
        wr.ScatterPlot(
            title="Pareto front: best accuracy at or below each token cost (running max)",
            x=_summary("tokens_per_problem"),
            y=_summary("accuracy"),
            log_x=True,
            running_ymax=True,
        ),
    ]
    knobs = [
        _line(f"Accuracy vs {k}, one line per system (model/mas)", k, log_x=k == "tokens")
        for k in view.knobs
    ]
    cost = [
        _bars("Tokens per correct answer", ["tokens_per_correct", "completion_tokens_per_correct"]),
        _bars("Calls per problem", ["calls_per_problem"]),
        _bars("No-answer rate", ["no_answer_rate"]),
    ]
    if view.roles:
        cost.append(
            _bars("Tokens per problem by role", [ROLE_TOKENS.format(role=r) for r in view.roles])
        )
        cost.append(
            _bars("Calls per problem by role", [ROLE_CALLS.format(role=r) for r in view.roles])
        )
    columns = [wr.ParallelCoordinatesPlotColumn(metric=wr.Config(k)) for k in view.swept]
    columns += [
        wr.ParallelCoordinatesPlotColumn(metric=_summary(k))
        for k in ("tokens_per_problem", "accuracy")
    ]
    points = [
        wr.WeavePanelSummaryTable(table_name=TABLE_KEY, layout=wr.Layout(w=24, h=12)),
        wr.RunComparer(diff_only="split", layout=wr.Layout(w=24, h=12)),
        wr.ParallelCoordinatesPlot(title="Swept keys → tokens, accuracy", columns=columns),
    ]
    out = [("Accuracy against tokens", tokens)]
    if knobs:
        out.append(("Accuracy against the swept knobs", knobs))
    # What the discussion did (README "Answer trajectories"): the single agent inside the
    # system against the final answer, and the flips between them.
    discussion = [
        _bars("First proposal vs final answer", ["first_proposal_accuracy", "final_accuracy"]),
        _bars("Flips: right→wrong, wrong→right", ["flips_right_to_wrong", "flips_wrong_to_right"]),
    ]
    out += [("Cost", cost), ("What the discussion did", discussion)]
    out += [("Per problem and configs", points)]
    for name, panels in out:
        for i, panel in enumerate(panels):
            # The library draws panel ids at random; fixed ids keep a rerun's spec identical.
            panel._id = _hash(f"{name}/{i}/{type(panel).__name__}", 12)
    return out


def _filters(view: SweepView) -> list[Any]:
    import wandb_workspaces.workspaces as ws

    if len(view.groups) == 1:
        return [ws.Metric("Group") == view.groups[0]]
    return [ws.Metric("Group").isin(list(view.groups))]


def _pin_filters(obj: Any, view: SweepView) -> None:
    """Give a workspace or report run set its filters in the app's own (v2) form, built from
    the filter expressions directly. The library otherwise round-trips them through its string
    form, which rewrites every ``=`` inside a value (a group ``tokens=32,64`` would become
    ``tokens==32,64`` and match no run); it uses a stashed v2 form while the string is
    unchanged, as it does for a view loaded from the server."""
    from wandb_workspaces import expr

    v2 = expr.filters_tree_to_v2(expr._filter_items_to_filters_tree(_filters(view)))
    settings = getattr(obj, "runset_settings", obj)
    obj._stashed_filters_v2 = v2
    obj._stashed_filter_string = settings.filters


# -- the workspace -----------------------------------------------------------------------------
def view_name(entity: str, project: str, view: SweepView) -> str:
    """The view's internal name (``nw-…-v``, the library's form), the same on every rerun for
    these groups in this project: how a rerun finds the view to update."""
    return f"nw-{_hash(json.dumps([entity, project, view.groups]), 11)}-v"


def build_workspace(view: SweepView, entity: str, project: str) -> Any:
    import wandb_workspaces.workspaces as ws

    sweep_sections = [
        ws.Section(
            name=name,
            panels=panels,
            is_open=True,
            layout_settings=ws.SectionLayoutSettings(columns=2, rows=2),
        )
        for name, panels in sections(view)
    ]
    workspace = ws.Workspace(
        entity=entity,
        project=project,
        name=f"harness: {view.title}"[:NAME_MAX],
        sections=sweep_sections,
        settings=ws.WorkspaceSettings(max_runs=max(10, view.n_points)),
        runset_settings=ws.RunsetSettings(
            filters=_filters(view),
            groupby=[ws.Config(k) for k in view.swept],
            pinned_columns=[
                "config:system.value",
                "summary:accuracy",
                "summary:tokens_per_problem",
                "summary:no_answer_rate",
            ],
        ),
    )
    workspace._internal_name = view_name(entity, project, view)
    _pin_filters(workspace, view)
    return workspace


def workspace_model(workspace: Any) -> Any:
    """The library's model of the view (``View``, what ``upsertView`` receives), with the
    panels' own grouping in force: the runs table groups by the swept keys, while the line
    plots join each system's points (the app's default would regroup them by the table)."""
    model = workspace._to_model()
    section = model.spec.section
    section.settings.use_runs_table_grouping_in_panels = False
    section.panel_bank_section_config.local_panel_settings.use_runs_table_grouping_in_panels = False
    for item in section.panel_bank_config.sections:
        item.local_panel_settings.use_runs_table_grouping_in_panels = False
    return model


def workspace_spec(workspace: Any) -> str:
    """The library's own serialisation of the view."""
    return workspace_model(workspace).model_dump_json(by_alias=True, exclude_none=True, indent=1)


def save_workspace(workspace: Any) -> str:
    """Create or update the view named ``workspace._internal_name``; returns its URL. The
    same steps as the library's ``Workspace.save`` (``upsert_view2``), on the model above, and
    with the view looked up by name first so a rerun updates it instead of adding a twin."""
    import wandb
    from wandb_workspaces.workspaces import internal

    try:
        existing = internal.View.from_name(
            workspace.entity, workspace.project, workspace._internal_name
        )
        workspace._internal_id = existing.id  # update in place, never a duplicate
    except ValueError:  # the library's "not found": this run creates it
        workspace._internal_id = ""
    response = internal.upsert_view2(workspace_model(workspace))
    saved = response["upsertView"]["view"]
    workspace._internal_name, workspace._internal_id = saved["name"], saved["id"]
    wandb.termlog(f"View saved: {workspace.url}")
    return workspace.url


# -- the report --------------------------------------------------------------------------------
def build_report(
    view: SweepView, entity: str, project: str, leaderboard: str, bind: bool = True
) -> Any:
    """``bind``: tie the report's run sets to ENTITY/PROJECT. The library looks the project's
    id up on the server for that, so an offline spec leaves them unbound (the report's own
    project) and :func:`publish_specs` binds them when it uploads."""
    import wandb_workspaces.reports.v2 as wr

    runset = wr.Runset(
        entity=entity if bind else "",
        project=project if bind else "",
        name="sweep",
        filters=_filters(view),
        groupby=[f"config.{k}" for k in view.swept],
    )
    runset._id = _hash("runset/" + view.title, 12)
    _pin_filters(runset, view)
    blocks: list[Any] = [
        wr.P(f"W&B groups: {', '.join(view.groups)}. Built by python -m harness.report."),
        wr.H2("Leaderboard"),
        wr.MarkdownBlock(text=leaderboard),
    ]
    for name, panels in sections(view):
        blocks += [wr.H2(name), wr.PanelGrid(runsets=[runset], panels=panels)]
    return wr.Report(
        entity=entity,
        project=project,
        title=f"harness: {view.title}"[:NAME_MAX],
        description=f"{view.n_points} sweep points",
        blocks=blocks,
        width="fluid",
    )


def report_model(report: Any) -> Any:
    """The library's model of the report, with the panels' own grouping in force (as in
    :func:`workspace_model`)."""
    model = report._to_model()
    for block in model.spec.blocks:
        meta = getattr(block, "metadata", None)
        if meta is None or not hasattr(meta, "panel_bank_section_config"):
            continue
        meta.panel_bank_section_config.local_panel_settings.use_runs_table_grouping_in_panels = (
            False
        )
        for item in meta.panel_bank_config.sections:
            item.local_panel_settings.use_runs_table_grouping_in_panels = False
    return model


def report_spec(report: Any) -> str:
    return report_model(report).model_dump_json(by_alias=True, exclude_none=True, indent=1)


def save_report(report: Any) -> str:
    """Create the report, or update the one of the same title in the project: the library's
    ``Report.save`` upsert, on the model above, after a lookup by title."""
    import wandb
    from wandb_workspaces._graphql import execute_graphql
    from wandb_workspaces.reports.v2 import gql
    from wandb_workspaces.reports.v2.interface import _get_api

    found = execute_graphql(
        _get_api(),
        _REPORTS_QUERY,
        {"entityName": report.entity, "projectName": report.project},
    )
    edges = (((found or {}).get("project") or {}).get("allViews") or {}).get("edges") or []
    same = [e["node"] for e in edges if e["node"].get("displayName") == report.title]
    report.id = same[0]["id"] if same else ""
    model = report_model(report)
    response = execute_graphql(
        _get_api(),
        gql.upsert_view,
        {
            "id": model.id or None,
            "name": same[0]["name"] if same else _hash(report.title + report.project, 12),
            "entityName": model.project.entity_name,
            "projectName": model.project.name,
            "description": model.description,
            "displayName": model.display_name,
            "type": "runs",
            "spec": model.spec.model_dump_json(by_alias=True, exclude_none=True),
        },
    )
    report.id = response["upsertView"]["view"]["id"]
    wandb.termlog(f"Saved report to: {report.url}")
    return report.url


_REPORTS_QUERY = """
query HarnessReports($entityName: String, $projectName: String) {
  project(name: $projectName, entityName: $entityName) {
    allViews(viewType: "runs") { edges { node { id name displayName } } }
  }
}
"""


# -- the command -------------------------------------------------------------------------------
def build(
    points: list[Point],
    target: str,
    out_dir: Path,
    report: bool = False,
    mode: str | None = None,
) -> list[str]:
    """Write the spec(s) into ``out_dir``; online, also save them. Returns lines to print."""
    entity, _, project = target.rpartition("/")
    if not entity or not project:
        raise HarnessError(f"--wandb-workspace takes ENTITY/PROJECT, got {target!r}")
    view = describe(points)
    online = (mode or resolve_mode("auto")) == "online"
    out_dir.mkdir(parents=True, exist_ok=True)
    workspace = build_workspace(view, entity, project)
    files = [out_dir / WORKSPACE_SPEC]
    files[0].write_text(workspace_spec(workspace) + "\n")
    lines = [f"wrote {files[0]}"]
    wr_report = None
    if report:
        leaderboard = out_dir / "leaderboard.md"
        text = leaderboard.read_text() if leaderboard.is_file() else ""
        wr_report = build_report(view, entity, project, text, bind=online)
        files.append(out_dir / REPORT_SPEC)
        files[1].write_text(report_spec(build_report(view, entity, project, text, False)) + "\n")
        lines.append(f"wrote {files[1]}")
    if not online:
        lines.append(
            "W&B is offline (no credentials, or WANDB_MODE=offline): the view is not saved. "
            "Publish it later with WANDB_API_KEY set, once the runs are synced "
            "(`wandb sync RUN_DIR/wandb/offline-run-*`): `python -m harness.report.wandb_view "
            f"publish {' '.join(map(str, files))}` (or rerun this command)."
        )
        return lines
    try:
        lines.append(f"W&B workspace: {save_workspace(workspace)}")
        if wr_report is not None:
            lines.append(f"W&B report: {save_report(wr_report)}")
    except Exception as exc:  # noqa: BLE001 - the specs on disk are the result; W&B is extra
        log.warning("W&B: could not save the view (%s: %s)", type(exc).__name__, exc)
        lines.append(
            f"not saved to W&B; publish later: python -m harness.report.wandb_view "
            f"publish {' '.join(map(str, files))}"
        )
    return lines


def publish_specs(files: Iterable[str | Path]) -> list[str]:
    """Upload specs written offline: a workspace spec as its view (same internal name, so
    found and updated), a report spec as its report (found by title)."""
    import wandb_workspaces.reports.v2 as wr
    import wandb_workspaces.workspaces as ws
    from wandb_workspaces.reports.v2 import internal as rinternal
    from wandb_workspaces.workspaces import internal as winternal

    lines = []
    for path in map(Path, files):
        data = json.loads(path.read_text())
        if "spec" in data and "section" in (data.get("spec") or {}):
            view = winternal.View.model_validate(data)
            workspace = ws.Workspace._from_model(view)
            workspace._internal_name = view.name
            lines.append(f"W&B workspace: {save_workspace(workspace)}")
        else:
            model = rinternal.ReportViewspec.model_validate(data)
            report = wr.Report._from_model(model)
            for block in report.blocks:  # bind the run sets left unbound offline
                for runset in getattr(block, "runsets", None) or []:
                    runset.entity = runset.entity or report.entity
                    runset.project = runset.project or report.project
            lines.append(f"W&B report: {save_report(report)}")
    return lines


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(
        prog="python -m harness.report.wandb_view",
        description="Upload W&B view specs written offline by python -m harness.report.",
    )
    sub = ap.add_subparsers(dest="command", required=True)
    pub = sub.add_parser("publish", help=f"save {WORKSPACE_SPEC} / {REPORT_SPEC} files to W&B")
    pub.add_argument("files", nargs="+")
    args = ap.parse_args(argv)
    if resolve_mode("auto") != "online":
        print("error: W&B is offline here (set WANDB_API_KEY, unset WANDB_MODE)", file=sys.stderr)
        sys.exit(2)
    for line in publish_specs(args.files):
        print(line)


if __name__ == "__main__":
    main()
