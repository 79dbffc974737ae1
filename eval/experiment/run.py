"""Run an experiment plan: one index per configuration (through the stage cache), one eval per
configuration, every step in a child process, every finished step recorded so a killed run
continues where it stopped.

Layout of the experiment folder::

    gold.jsonl              the questions (converted from the sheet, or copied)
    cache/                  the content-hash stage cache (indexing.stage_cache)
    baseline-cache/         the eval baseline's raw segments, shared by every configuration
    indexes/NAME/           one index per configuration (or per shared index side)
    evals/NAME/             each configuration's own eval report (report.md, results.json)
    steps/ID.json           a finished step's figures (present = done; never redone)
    logs/ID.log             what the step's process printed
    report.md, results.json, report.html   the side-by-side report (eval.experiment.report)
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from eval.experiment.plan import Configuration, Plan
from indexing.types import content_id

Say = Callable[[str], None]


@dataclass
class ConfigOutcome:
    """What happened to one configuration: its index step's and eval step's figures, or why it
    did not run (``problem``)."""

    config: Configuration
    index_name: str = ""
    index: dict[str, Any] = field(default_factory=dict)
    eval: dict[str, Any] = field(default_factory=dict)
    probe: dict[str, Any] = field(default_factory=dict)
    problem: str | None = None
    shared_with: str | None = None  # the configuration whose index this one uses


@dataclass
class Experiment:
    """A finished (or partly finished) experiment: the plan, the questions' source and row
    errors, and one outcome per configuration in plan order."""

    plan: Plan
    out: Path
    gold: Path
    sheet_errors: list[str]
    outcomes: list[ConfigOutcome]
    resumed_steps: list[str] = field(default_factory=list)


def run_experiment(plan: Plan, out: str | Path, say: Say | None = None,
                   env: dict[str, str] | None = None) -> Experiment:
    """Run every step of ``plan`` not yet done in ``out``; return what is known.

    ``env`` is the environment the steps run under (default: this process's). A configuration
    whose model is unavailable, or whose step fails, is recorded with the reason and the others
    still run. Raises ``ValueError`` when the questions cannot be used at all.
    """
    from eval.experiment.available import problem_of

    say = say or (lambda _line: None)
    out = Path(out).resolve()
    for sub in ("steps", "logs", "indexes", "evals"):
        (out / sub).mkdir(parents=True, exist_ok=True)
    base_env = dict(os.environ if env is None else env)
    gold, sheet_errors = _gold(plan, out)
    exp = Experiment(plan, out, gold, sheet_errors, [])
    for config in plan.configurations:
        problem = config.problem or problem_of(config, base_env)
        exp.outcomes.append(ConfigOutcome(config, problem=problem))
        if problem:
            say(f"{config.name}: not run: {problem}")
    gold_id = content_id(gold.read_text(encoding="utf-8"))
    first_of_side: dict[tuple[str, str, bool], ConfigOutcome] = {}
    for o in exp.outcomes:
        if o.problem:
            continue
        c = o.config
        owner = first_of_side.get(c.index_side) if plan.share_indexes else None
        if owner is not None:
            o.index_name, o.shared_with = owner.index_name, owner.config.name
            o.index, o.problem = owner.index, owner.problem
            if not o.problem and c.mode != "naive" and not (o.index.get("graph") or {}):
                o.index = _run_index(exp, o, base_env, say, graph=True)
        else:
            first_of_side.setdefault(c.index_side, o)
            o.index_name = c.slug
            o.index = _run_index(exp, o, base_env, say, graph=c.mode != "naive")
        if o.problem:
            continue
        o.eval = _run_eval(exp, o, gold, gold_id, base_env, say)
        if not o.problem and plan.probe:
            o.probe = _run_probe(exp, o, gold, base_env, say)
    return exp


def _gold(plan: Plan, out: Path) -> tuple[Path, list[str]]:
    """The experiment's gold file: the sheet converted (row errors kept) or the gold copied."""
    from eval.gold import load_gold
    from eval.sheet import collection_files, read_sheet, write_gold

    target = out / "gold.jsonl"
    if plan.questions.suffix.lower() != ".csv":
        load_gold(plan.questions)  # a bad gold line stops the run before any model loads
        shutil.copyfile(plan.questions, target)
        return target, []
    sheet = read_sheet(plan.questions, collection_files(plan.collection))
    errors = [f"{plan.questions.name} {e}" for e in sheet.errors]
    if not sheet.questions:
        raise ValueError(f"{plan.questions}: no valid question"
                         + (f" ({'; '.join(errors)})" if errors else ""))
    write_gold(sheet.questions, target, str(plan.questions))
    return target, errors


def _run_index(exp: Experiment, o: ConfigOutcome, env: dict[str, str], say: Say, *,
               graph: bool) -> dict[str, Any]:
    c = o.config
    db = exp.out / "indexes" / o.index_name
    spec = {"kind": "index", "db": str(db),
            "collection": [str(p) for p in exp.plan.collection], "asr": c.asr,
            "embedder": c.embedder, "visual": c.visual, "cache": str(exp.out / "cache"),
            "graph": graph}
    step_id = f"index-{o.index_name}-" + content_id(json.dumps(spec, sort_keys=True))[:8]
    result = _step(exp, step_id, spec, env, say, f"{c.name}: indexing")
    if not result.get("ok"):
        o.problem = f"indexing failed: {result.get('error', 'unknown error')}"
        return result
    result["size_bytes"] = dir_size(db)
    return result


def _run_eval(exp: Experiment, o: ConfigOutcome, gold: Path, gold_id: str,
              env: dict[str, str], say: Say) -> dict[str, Any]:
    c = o.config
    spec = {"kind": "eval", "db": str(exp.out / "indexes" / o.index_name), "gold": str(gold),
            "llm": c.llm, "mode": c.mode, "k": exp.plan.k, "asr": c.asr,
            "embedder": c.embedder, "rerank": c.rerank,
            "baseline_cache": str(exp.out / "baseline-cache"),
            "out": str(exp.out / "evals" / c.slug)}
    step_id = f"eval-{c.slug}-" + content_id(json.dumps(spec, sort_keys=True), gold_id)[:8]
    step_env = dict(env, DEERIN_RERANK="default" if c.rerank else "off")
    step_env.pop("DEERIN_LLM", None)  # the plan names the LLM
    result = _step(exp, step_id, spec, step_env, say, f"{c.name}: eval")
    if not result.get("ok"):
        o.problem = f"eval failed: {result.get('error', 'unknown error')}"
    return result


def _run_probe(exp: Experiment, o: ConfigOutcome, gold: Path, env: dict[str, str],
               say: Say) -> dict[str, Any]:
    """The answer-latency probe: the first ``plan.probe`` answerable questions, asked once
    each after a warm-up. A failed probe only leaves the latency to the eval's timings."""
    from eval.gold import load_gold

    c = o.config
    questions = [g.question for g in load_gold(gold) if g.answerable][: exp.plan.probe]
    spec = {"kind": "probe", "db": str(exp.out / "indexes" / o.index_name), "llm": c.llm,
            "mode": c.mode, "embedder": c.embedder, "rerank": c.rerank,
            "questions": questions}
    step_id = f"probe-{c.slug}-" + content_id(json.dumps(spec, sort_keys=True))[:8]
    step_env = dict(env, DEERIN_RERANK="default" if c.rerank else "off")
    step_env.pop("DEERIN_LLM", None)
    return _step(exp, step_id, spec, step_env, say, f"{c.name}: latency probe")


def _step(exp: Experiment, step_id: str, spec: dict[str, Any], env: dict[str, str], say: Say,
          label: str) -> dict[str, Any]:
    """The recorded result of ``step_id``, or run it now in a child process and record it.

    Only a successful step is recorded: a failed one is tried again by the next run (the
    model may have been installed meanwhile)."""
    done = exp.out / "steps" / f"{step_id}.json"
    if done.exists():
        try:
            result: dict[str, Any] = json.loads(done.read_text(encoding="utf-8"))
            say(f"{label}: done in an earlier run")
            exp.resumed_steps.append(step_id)
            return result
        except json.JSONDecodeError:
            done.unlink()
    say(f"{label}…")
    spec_path = exp.out / "steps" / f"{step_id}.spec"
    spec_path.write_text(json.dumps(spec, indent=2), encoding="utf-8")
    pending = exp.out / "steps" / f"{step_id}.result"
    pending.unlink(missing_ok=True)
    root = _package_root()
    child_env = dict(env, PYTHONPATH=os.pathsep.join(
        [str(root), *filter(None, [env.get("PYTHONPATH")])]))
    child_env.setdefault("HF_HUB_OFFLINE", "1")
    with (exp.out / "logs" / f"{step_id}.log").open("w", encoding="utf-8") as log:
        proc = subprocess.run([sys.executable, "-m", "eval.experiment.step", str(spec_path),
                               str(pending)], cwd=root, env=child_env, stdout=log, stderr=log,
                              check=False)
    try:
        result = json.loads(pending.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        result = {"ok": False, "error": f"the step's process ended with code {proc.returncode} "
                                        f"(see logs/{step_id}.log)"}
    if result.get("ok"):
        os.replace(pending, done)  # recorded: a later run skips it
        say(f"{label}: done in {result.get('wall_s', 0):.1f} s")
    else:
        pending.unlink(missing_ok=True)
        say(f"{label}: failed: {result.get('error')}")
    return result


def _package_root() -> Path:
    """The folder holding the ``eval`` package this process runs (the child imports the same
    code, whatever the installed copy)."""
    import eval as package

    return Path(package.__file__ or ".").resolve().parent.parent


def dir_size(path: Path) -> int:
    """Bytes of every file under ``path``."""
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file())
