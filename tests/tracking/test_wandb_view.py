"""The W&B comparison view (harness/report/wandb_view.py), built with wandb-workspaces.

- The slow test runs a real 2×2 sweep on ``tiny`` through the CLI with W&B offline, builds the
  workspace and the report from it, and checks every key a panel, the run filter or the
  grouping names against the keys those runs really hold in their offline ``.wandb`` files
  (read with tests/tracking/wandb_records.py, W&B's own protobuf records).
- STAND-IN: the idempotent save (find by name, update, never a twin) needs W&B's server. The
  tests of that path replace ``wandb.Api`` with :class:`StandInApi`, an in-memory stand-in of
  W&B's GraphQL views API (``upsertView``, ``allViews``); every other step, the library's own
  models, serialisation and upsert calls included, is the real one.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from harness.report.wandb_view import (
    REPORT_SPEC,
    WORKSPACE_SPEC,
    SweepView,
    build_report,
    build_workspace,
    publish_specs,
    report_spec,
    save_report,
    save_workspace,
    workspace_spec,
)
from harness.tracking import wandb_tracker as wt
from tests.conftest import ROOT, cli_env, run_cli
from tests.tracking.wandb_records import offline_runs, run_view

ENTITY, PROJECT = "harness-test", "view-test"
GRID = ("mas=single,agentverse", "tokens=16,32")


# -- what a spec refers to ----------------------------------------------------------------------
def _accessor(text: str) -> tuple[str, str]:
    """A panel's key as (where W&B keeps it, name)."""
    for prefix in ("summary:", "summary_metrics.", "summary."):
        if text.startswith(prefix):
            return "summary", text[len(prefix) :]
    for prefix in ("config:", "config."):
        if text.startswith(prefix):
            return "config", text[len(prefix) :].replace(".value", "", 1)
    if text.endswith(".value"):  # a panel's group-by: a config key
        return "config", text[: -len(".value")]
    return "history", text


def _weave_table(config: dict) -> str:
    """The summary key a Weave table panel reads (``runs.summary[KEY]``)."""
    found = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if node.get("fromOp", {}).get("name") == "pick":
                found.append(node["fromOp"]["inputs"]["key"]["val"])
            for v in node.values():
                walk(v)
        elif isinstance(node, list):
            for v in node:
                walk(v)

    walk(config)
    assert len(found) == 1, config
    return found[0]


def panel_keys(panel: dict) -> set[tuple[str, str]]:
    kind, c = panel["viewType"], panel["config"]
    keys: set[tuple[str, str]] = set()
    if kind == "Run History Line Plot":
        keys |= {_accessor(m) for m in [c["xAxis"], *c["metrics"]]}
    elif kind == "Scatter Plot":
        keys |= {_accessor(c[a]) for a in ("xAxis", "yAxis", "zAxis") if c.get(a)}
    elif kind == "Bar Chart":
        keys |= {_accessor(m) for m in c["metrics"]}
    elif kind == "Parallel Coordinates Plot":
        keys |= {_accessor(col["accessor"]) for col in c["columns"]}
    elif kind == "Weave":
        keys.add(("table", _weave_table(c)))
    elif kind == "Run Comparer":
        pass  # compares whole configs: no key
    else:
        raise AssertionError(f"a panel this test does not read yet: {kind}")
    if c.get("groupBy"):
        keys.add(_accessor(c["groupBy"]))
    return keys


def runset_keys(runset: dict) -> set[tuple[str, str]]:
    keys = {(g["section"], g["name"].replace(".value", "", 1)) for g in runset["grouping"]}
    for col in runset["runFeed"].get("columnOrder", []):
        section, _, name = col.partition(":")
        if section in ("summary", "config"):
            keys.add((section, name.replace(".value", "", 1)))
    return keys


def runset_groups(runset: dict) -> set[str]:
    (leaf,) = runset["filters"]["filters"]
    assert leaf["key"] == {"section": "run", "name": "group"}
    return {leaf["value"]} if leaf["op"] == "=" else set(leaf["value"])


def workspace_panels(spec: dict) -> list[dict]:
    sections = spec["spec"]["section"]["panelBankConfig"]["sections"]
    return [p for s in sections for p in s["panels"]]


def report_grids(spec: dict) -> list[dict]:
    return [b for b in spec["spec"]["blocks"] if b.get("type") == "panel-grid"]


def spec_keys(workspace: dict, report: dict | None = None) -> set[tuple[str, str]]:
    keys = set()
    for panel in workspace_panels(workspace):
        keys |= panel_keys(panel)
    keys |= runset_keys(workspace["spec"]["section"]["runSets"][0])
    for grid in report_grids(report or {"spec": {"blocks": []}}):
        for panel in grid["metadata"]["panelBankSectionConfig"]["panels"]:
            keys |= panel_keys(panel)
        for runset in grid["metadata"]["runSets"]:
            keys |= runset_keys(runset)
    return keys


# -- what the runs hold -------------------------------------------------------------------------
def logged_keys(run_dirs: list[Path]) -> tuple[set[tuple[str, str]], set[str]]:
    """Every (where, key) some run logged, and the runs' groups, from the offline files."""
    keys: set[tuple[str, str]] = set()
    groups = set()
    for run_dir in run_dirs:
        (folder,) = offline_runs(run_dir)
        view = run_view(folder)
        assert view["exit_code"] == 0
        groups.add(view["group"])
        keys |= {("config", k) for k in view["config"]}
        keys |= {("summary", k) for k in view["summary"]}
        for row in view["history"]:
            keys |= {("history", k) for k in row}
        tables = {k.split("/")[0] for k, v in view["summary"].items() if v == "table-file"}
        keys |= {("table", k) for k in tables}
    return keys, groups


# -- the real sweep -----------------------------------------------------------------------------
@pytest.fixture(scope="module")
def sweep(tmp_path_factory):
    """A 2×2 sweep (system × tokens) of one problem each, W&B offline, run through the CLI;
    ``tracking.wandb.workspace`` builds the view at the end of the sweep."""
    sweep_dir = tmp_path_factory.mktemp("view") / "sweep"
    proc = run_cli(
        "-m",
        "model=tiny",
        *GRID,
        "agents=2",
        "turns=1",
        "critic_rounds=1",
        "limit=1",
        "hydra.launcher.concurrency=4",  # one engine load for the four points
        "tracking.wandb.mode=offline",
        "tracking.wandb.workspace=true",
        f"tracking.wandb.entity={ENTITY}",
        f"tracking.wandb.project={PROJECT}",
        f"hydra.sweep.dir={sweep_dir}",
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    run_dirs = sorted(p.parent for p in sweep_dir.rglob("summary.json"))
    assert len(run_dirs) == 4
    return sweep_dir, run_dirs, proc.stdout


def _report_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "harness.report", *args],
        cwd=ROOT,
        env=cli_env(),
        capture_output=True,
        text=True,
        timeout=300,
    )


@pytest.mark.slow
def test_view_of_a_real_offline_sweep_names_only_logged_keys(sweep, tmp_path):
    sweep_dir, run_dirs, sweep_out = sweep
    out = tmp_path / "report"
    args = (str(sweep_dir), "--out", str(out), "--wandb-workspace", f"{ENTITY}/{PROJECT}")
    proc = _report_cli(*args, "--wandb-report")
    assert proc.returncode == 0, proc.stderr
    assert "python -m harness.report.wandb_view publish" in proc.stdout  # how to publish later
    workspace = json.loads((out / WORKSPACE_SPEC).read_text())
    report = json.loads((out / REPORT_SPEC).read_text())

    logged, groups = logged_keys(run_dirs)
    assert len(groups) == 1  # one sweep, one W&B group
    named = spec_keys(workspace, report)
    missing = sorted(named - logged)
    assert not missing, f"panels name keys no run logged: {missing}"
    # and the check bites: a panel key renamed on one side only is caught
    renamed = json.loads(json.dumps(workspace).replace('"point/accuracy"', '"point/acc"'))
    assert spec_keys(renamed) - logged == {("history", "point/acc")}

    # the runs are the sweep's: filtered by its group, grouped by what it varies
    runset = workspace["spec"]["section"]["runSets"][0]
    assert runset_groups(runset) == groups
    assert [g["name"] for g in runset["grouping"]] == ["system.value", "tokens.value"]
    for grid in report_grids(report):
        assert runset_groups(grid["metadata"]["runSets"][0]) == groups
    assert (workspace["entity"], workspace["project"]) == (ENTITY, PROJECT)

    # the panels the issue asks for
    titles = {p["config"].get("chartTitle", p["viewType"]): p for p in workspace_panels(workspace)}
    line = titles["Accuracy vs tokens per problem, one line per system"]["config"]
    assert (line["xAxis"], line["metrics"], line["groupBy"]) == (
        "point/tokens_per_problem",
        ["point/accuracy"],
        "system.value",
    )
    assert line["xLogScale"] is True
    pareto = next(p for t, p in titles.items() if t.startswith("Pareto front"))["config"]
    assert pareto["showMaxYAxisLine"] is True
    assert "Accuracy vs tokens, one line per system (model/mas)" in titles  # the swept knob
    roles = titles["Tokens per problem by role"]["config"]["metrics"]
    assert {m.split("/")[-1] for m in roles} == {"solver", "recruiter", "critic", "evaluator"}
    assert {"Weave", "Run Comparer", "No-answer rate", "Calls per problem"} <= set(titles)
    leaderboard = (out / "leaderboard.md").read_text()
    assert any(
        b.get("type") == "markdown-block" and b["content"] == leaderboard
        for b in report["spec"]["blocks"]
    )
    assert report["displayName"].startswith("harness: model:tiny")

    # a rerun gives the same specs, byte for byte; the end-of-sweep view is the same one
    first = {name: (out / name).read_bytes() for name in (WORKSPACE_SPEC, REPORT_SPEC)}
    assert _report_cli(*args, "--wandb-report").returncode == 0
    assert {name: (out / name).read_bytes() for name in first} == first
    assert (sweep_dir / "report" / WORKSPACE_SPEC).read_bytes() == first[WORKSPACE_SPEC]
    assert "wandb_workspace.json" in sweep_out


def test_panels_use_only_the_trackers_key_lists():
    """Every key the view names comes from wandb_tracker's lists (the test above checks those
    against real runs): a key typed in the view alone would fail here."""
    view = _view()
    ws_spec = json.loads(workspace_spec(build_workspace(view, ENTITY, PROJECT)))
    rep_spec = json.loads(report_spec(build_report(view, ENTITY, PROJECT, "| x |", bind=False)))
    allowed = {("config", k) for k in (*wt.GROUP_KEYS, *wt.KNOBS)}
    allowed |= {("summary", k) for k in (*wt.SUMMARY_PLOTTED, *wt.DERIVED, *wt.TRAJECTORY_PLOTTED)}
    allowed |= {("summary", f.format(role="solver")) for f in (wt.ROLE_TOKENS, wt.ROLE_CALLS)}
    allowed |= {("history", wt.POINT.format(key=k)) for k in wt.POINT_KEYS}
    allowed.add(("table", wt.TABLE_KEY))
    assert spec_keys(ws_spec, rep_spec) <= allowed


def test_a_symbol_in_the_group_reaches_the_filter_unchanged():
    """wandb-workspaces turns a filter into a string and parses it back, rewriting `=` inside
    the value; the view's filter is the group exactly."""
    view = _view()
    ws_spec = json.loads(workspace_spec(build_workspace(view, ENTITY, PROJECT)))
    assert runset_groups(ws_spec["spec"]["section"]["runSets"][0]) == {view.groups[0]}
    assert "=" not in ws_spec["displayName"]  # the app refuses symbols in a view's name


# -- STAND-IN of W&B's GraphQL views API: only for the save path ---------------------------------
class StandInViews:
    """STAND-IN: W&B's server keeps views (workspaces, reports) per project; this keeps them
    in a dict and answers the two operations the library and the harness send."""

    app_url = "https://wandb.example"

    def __init__(self) -> None:
        self.views: dict[str, dict[str, Any]] = {}
        self.upserts: list[dict[str, Any]] = []

    def execute_graphql(self, query: str, variables: dict[str, Any]) -> dict[str, Any]:
        if "upsertView" in query:
            self.upserts.append(variables)
            vid = variables.get("id")
            inserted = not vid
            if inserted:
                vid = f"view{len(self.views) + 1}"
                self.views[vid] = {"id": vid}
            self.views[vid].update(
                {k: variables[k] for k in ("name", "displayName", "spec", "type")},
                project=(variables["entityName"], variables["projectName"]),
            )
            node = {k: self.views[vid][k] for k in ("id", "name", "displayName", "spec")}
            return {"upsertView": {"view": node, "inserted": inserted}}
        if "allViews" in query:
            project = (variables["entityName"], variables.get("projectName") or variables["name"])
            kind = variables.get("viewType") or ("runs" if 'viewType: "runs"' in query else None)
            hits = [
                v
                for v in self.views.values()
                if v["project"] == project
                and v["type"] == kind
                and variables.get("viewName") in (None, v["name"])
            ]
            edges = [
                {"node": {k: v[k] for k in ("id", "name", "displayName", "spec")}} for v in hits
            ]
            return {"project": {"allViews": {"edges": edges}}}
        if "ProjectInternalId" in query:  # a report's run set names its project by id
            return {"project": {"id": "UHJvamVjdDox", "internalId": "project-1"}}
        raise AssertionError(f"the stand-in does not answer {query[:80]!r}")


class StandInApi:
    """STAND-IN for ``wandb.Api``: the library sends GraphQL through ``_service_api``."""

    service = StandInViews()
    default_entity = ENTITY

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self._service_api = StandInApi.service


@pytest.fixture
def stand_in(monkeypatch):
    import wandb

    StandInApi.service = StandInViews()
    monkeypatch.setattr(wandb, "Api", StandInApi)
    return StandInApi.service


def _view() -> SweepView:
    return SweepView(
        groups=["model=tiny mas=single,agentverse tokens=16,32"],
        title="model:tiny mas:single,agentverse tokens:16,32",
        swept=["system", "tokens"],
        knobs=["tokens"],
        roles=["solver"],
        n_points=4,
    )


def test_saving_again_updates_the_same_view_never_a_twin(stand_in):
    """STAND-IN of W&B's API (see the module docstring)."""
    first = save_workspace(build_workspace(_view(), ENTITY, PROJECT))
    again = save_workspace(build_workspace(_view(), ENTITY, PROJECT))
    assert len(stand_in.views) == 1 and first == again
    (stored,) = stand_in.views.values()
    assert stand_in.upserts[0].get("id") is None and stand_in.upserts[1]["id"] == stored["id"]
    # the server holds the spec this module writes offline
    offline = json.loads(workspace_spec(build_workspace(_view(), ENTITY, PROJECT)))
    assert json.loads(stored["spec"]) == offline["spec"]
    assert stored["displayName"] == offline["displayName"]
    # another sweep is another view
    other = _view()
    other.groups = ["model=tiny tokens=64,128"]
    save_workspace(build_workspace(other, ENTITY, PROJECT))
    assert len(stand_in.views) == 2


def test_report_is_found_by_title_and_updated(stand_in):
    """STAND-IN of W&B's API (see the module docstring)."""
    for text in ("| old |", "| new |"):
        save_report(build_report(_view(), ENTITY, PROJECT, text, bind=False))
    reports = [v for v in stand_in.views.values() if v["type"] == "runs"]
    assert len(reports) == 1
    assert "| new |" in reports[0]["spec"]


def test_specs_written_offline_publish_into_the_same_view(stand_in, tmp_path):
    """STAND-IN of W&B's API (see the module docstring): the offline files, uploaded later,
    land in the view a direct save makes, and a second upload updates it."""
    view = _view()
    (tmp_path / WORKSPACE_SPEC).write_text(workspace_spec(build_workspace(view, ENTITY, PROJECT)))
    (tmp_path / REPORT_SPEC).write_text(
        report_spec(build_report(view, ENTITY, PROJECT, "| x |", bind=False))
    )
    save_workspace(build_workspace(view, ENTITY, PROJECT))
    for _ in range(2):
        lines = publish_specs([tmp_path / WORKSPACE_SPEC, tmp_path / REPORT_SPEC])
    assert len([v for v in stand_in.views.values() if v["type"] == "project-view"]) == 1
    (report,) = [v for v in stand_in.views.values() if v["type"] == "runs"]
    # run sets left unbound offline are bound to the project when uploaded
    grids = [b for b in json.loads(report["spec"])["blocks"] if b.get("type") == "panel-grid"]
    projects = [rs["project"] for g in grids for rs in g["metadata"]["runSets"]]
    assert projects and all(
        p == {"entityName": ENTITY, "name": PROJECT, "id": "project-1"} for p in projects
    )
    assert lines[0].startswith("W&B workspace: https://wandb.example/harness-test/view-test?nw=")
