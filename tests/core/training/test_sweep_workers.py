"""Sweeps on SQLite and PostgreSQL: Optuna's tables beside our migrations, and a 4-trial sweep of the
tabular MLP on iris that two ``uclab worker`` processes with two host names share.

Each test runs once per database (tests/conftest.py BOTH_DATABASES).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import optuna
import pytest
from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory
from local import wait_until
from sqlalchemy import create_engine, inspect, text

from core.config import get_settings
from core.data import gallery
from core.errors import NotFoundError
from core.results import evaluation
from core.run_config import TrainConfig
from core.store import db, runs
from core.training import sweep

ROOT = Path(__file__).resolve().parents[3]
MIGRATIONS = ROOT / "core" / "store" / "migrations"


def _alembic() -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.set_main_option("sqlalchemy.url", get_settings().database_url.replace("%", "%%"))
    return cfg


def _revision() -> str:
    engine = create_engine(get_settings().database_url)
    try:
        with engine.connect() as conn:
            return conn.execute(text("SELECT version_num FROM alembic_version")).scalar_one()
    finally:
        engine.dispose()


def test_optuna_tables_live_beside_our_migrations_without_touching_them(home: Path) -> None:
    storage = sweep._storage()  # migrates the app's schema first, then Optuna adds its tables
    optuna.create_study(study_name="beside", storage=storage, direction="maximize").enqueue_trial({"x": 1})
    storage.engine.dispose()
    head = _revision()
    assert head == ScriptDirectory.from_config(_alembic()).get_current_head()  # Optuna did not stamp it
    engine = create_engine(get_settings().database_url)
    tables = set(inspect(engine).get_table_names())
    engine.dispose()
    assert {"studies", "trials", "version_info", "runs", "sweeps"} <= tables

    # Our migrations run clean with Optuna's tables present: down one step and up again, and the
    # autogenerate comparison (alembic check) sees no difference (Optuna's tables are not ours).
    db.reset_engines()
    command.downgrade(_alembic(), "0003")
    assert _revision() == "0003"
    command.upgrade(_alembic(), "head")
    command.check(_alembic())
    assert _revision() == head
    storage = sweep._storage()
    assert len(optuna.load_study(study_name="beside", storage=storage).trials) == 1
    storage.engine.dispose()


# One process handing out trials, as a worker advancing a sweep does (sweep._storage is the app's own).
ASKER = """
import json, sys
import optuna
from core.training import sweep
study = optuna.load_study(study_name=sys.argv[1], storage=sweep._storage())
x = optuna.distributions.FloatDistribution(0, 1)
print(json.dumps([study.ask({"x": x}).number for _ in range(int(sys.argv[2]))]))
"""


def test_two_processes_asking_at_once_never_take_the_same_trial(home: Path) -> None:
    # Each of two workers that finish a trial together asks for the next one; on SQLite both used to
    # read one enqueued trial as waiting and both take it (5 to 18 of 200 in a probe), and a sweep
    # with a trial counted twice never finished.
    storage = sweep._storage()
    study = optuna.create_study(study_name="race", storage=storage)
    for i in range(120):
        study.enqueue_trial({"x": i / 120})
    storage.engine.dispose()
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    procs = [subprocess.Popen([sys.executable, "-c", ASKER, "race", "60"], cwd=ROOT, env=env, text=True,
                              stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
             for _ in range(2)]
    outs = [proc.communicate(timeout=300) for proc in procs]
    assert [proc.returncode for proc in procs] == [0, 0], [err[-2000:] for _, err in outs]
    first, second = (json.loads(out) for out, _ in outs)
    assert len(first) == len(second) == 60
    assert sorted(set(first) & set(second)) == []  # no trial handed to both
    assert sorted(first + second) == list(range(120))


def _start_worker(home: Path, tmp_path: Path, host: str) -> subprocess.Popen[str]:
    mount = tmp_path / f"mnt-{host}"  # each machine mounts the shared folder where it likes
    mount.symlink_to(home, target_is_directory=True)
    env = {**os.environ, "UCLAB_HOME": str(mount), "UCLAB_HOST": host, "PYTHONPATH": str(ROOT)}
    # The worker's log goes to a file, not a pipe nobody reads until the end: a full pipe would stall it.
    with (tmp_path / f"worker-{host}.log").open("w") as log:
        return subprocess.Popen([sys.executable, "-m", "core", "worker", "--slots", "1"], cwd=ROOT, env=env,
                                stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, text=True)


def _sweep_state(sweep_id: int, tmp_path: Path) -> str:
    """What a timed-out sweep test shows: each trial, its run, and the end of each worker's log."""
    lines = [f"sweep: {sweep.get_sweep(sweep_id)}"]
    for t in sweep.sweep_trials(sweep_id):
        lines.append(f"trial {t.number} {t.state}: run {t.run_id} {t.run_status} {t.host} {t.status_reason}")
    for log in sorted(tmp_path.glob("worker-*.log")):
        lines.append(f"--- {log.name} (last 3000 characters)\n{log.read_text(errors='replace')[-3000:]}")
    return "\n".join(lines)


GOOD = [{"learning_rate": 0.02, "hidden_size": 64}, {"learning_rate": 0.015, "hidden_size": 64},
        {"learning_rate": 0.025, "hidden_size": 64}]
# Built to be pruned: one hidden unit and the smallest rate the MLP accepts learn nothing in a few epochs.
HOPELESS = {"learning_rate": 1e-4, "hidden_size": 1}


@pytest.mark.slow
def test_a_four_trial_sweep_shared_by_two_workers_on_two_hosts(home: Path, tmp_path: Path) -> None:
    iris = gallery.import_gallery("iris")
    config = TrainConfig.from_preset("full", task="tabular", epochs=6, eval_every=8, batch_size=16,
                                     early_stopping=False, lr_scheduler="linear",
                                     debug={"step_sleep": 0.1})
    info = sweep.start_sweep(iris.id, "mlp", trials=4, parallel=2, config=config,
                             space="learning_rate=1e-4..3e-2:log, hidden_size=1|64",
                             first_trials=[*GOOD, HOPELESS], advance=False)
    assert (info.metric, info.direction, info.asked) == ("macro_f1", "maximize", 0)
    # Nobody drives the sweep but the two workers: each advances it as trials end.
    workers = [_start_worker(home, tmp_path, host) for host in ("machine-a", "machine-b")]
    try:
        try:
            wait_until(lambda: not sweep.get_sweep(info.id).is_live, 600, "the sweep to finish")
        except AssertionError as exc:
            raise AssertionError(f"{exc}\n{_sweep_state(info.id, tmp_path)}") from None
    finally:
        for proc in workers:
            proc.send_signal(signal.SIGTERM)
        for proc in workers:
            try:
                proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                proc.kill()
    trials = sweep.sweep_trials(info.id)
    assert len(trials) == 4 and sorted(t.number for t in trials) == [0, 1, 2, 3]
    assert len({t.run_id for t in trials}) == 4
    runs_of = {t.number: runs.get_run(t.run_id) for t in trials}
    assert {r.host for r in runs_of.values()} == {"machine-a", "machine-b"}  # both workers took trials

    pruned = [t for t in trials if t.state == "PRUNED"]
    assert [t.number for t in pruned] == [3], [(t.number, t.state, t.status_reason) for t in trials]
    assert runs_of[3].status == "cancelled" and runs_of[3].status_reason.startswith("Pruned by sweep")
    assert all(runs_of[n].status == "succeeded" for n in (0, 1, 2))

    storage = sweep._storage()
    study = optuna.load_study(study_name=info.study_name, storage=storage)
    storage.engine.dispose()
    best = next(t for t in trials if t.best)
    stored = evaluation.get_evaluation(best.run_id, "validation").metrics["macro_f1"]
    assert study.best_value == pytest.approx(stored) and study.best_trial.number == best.number
    assert study.best_value == max(runs_of[n].summary["validation"]["macro_f1"] for n in (0, 1, 2))
    done = sweep.get_sweep(info.id)
    assert done.summary["counts"] == {"complete": 3, "pruned": 1, "fail": 0} and done.asked == 4
    # The objective never looked at the test split: trials are scored on validation only.
    for number in (0, 1, 2):
        with pytest.raises(NotFoundError):
            evaluation.get_evaluation(runs_of[number].id, "test")
