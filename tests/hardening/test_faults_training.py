"""``kill -9`` during ``imr train``, and two trainings at once, against a temporary tracking store.

The real command (``cli.py train``, what ``make train`` runs) trains the smoke experiment on a small synthetic
table in a subprocess. A training killed before it writes to the registry leaves the registry exactly as it was;
one killed in the middle of registering leaves a consistent registry (the champion is the old version or a complete
new one); the next training always runs clean. Two trainings at once take turns on the registry lock: the second
one says it waits, and neither interleaves its register-and-promote with the other's.
"""

from __future__ import annotations

import fcntl
import os
import select
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from tests.synthetic_items import write_items

pytestmark = [pytest.mark.model, pytest.mark.slow]

REPO = Path(__file__).resolve().parents[2]
SMOKE = REPO / "experiments" / "smoke.yaml"
TIMEOUT_S = 300


@pytest.fixture
def store(tmp_path: Path, _empty_tracking_db: Path) -> str:
    shutil.copy(_empty_tracking_db, tmp_path / "mlflow.db")
    return f"sqlite:///{tmp_path / 'mlflow.db'}"


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    write_items(tmp_path / "data" / "items.parquet", cases=60, dmhc_rows=20)
    return tmp_path / "data"


def train(store: str, data_dir: Path) -> subprocess.Popen[str]:
    tmp = data_dir.parent / "tmp"  # a killed training cannot remove its temporary folder: keep it in the test's
    tmp.mkdir(exist_ok=True)
    env = {**os.environ, "IMR_DATA_DIR": str(data_dir), "PYTHONUNBUFFERED": "1", "TMPDIR": str(tmp)}
    return subprocess.Popen(
        [sys.executable, "cli.py", "train", "--config", str(SMOKE), "--tracking-uri", store],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )


def finish(proc: subprocess.Popen[str]) -> str:
    out, _ = proc.communicate(timeout=TIMEOUT_S)
    assert proc.returncode == 0, out[-3000:]
    return out


def registry_state(store: str) -> dict[str, Any]:
    """Every version of every registered model (tags, run, status) and every alias."""
    from mlflow import MlflowClient

    client = MlflowClient(store, store)
    state: dict[str, Any] = {}
    for model in client.search_registered_models():
        versions = client.search_model_versions(f"name='{model.name}'")
        state[model.name] = {
            "aliases": {str(k): str(v) for k, v in sorted((model.aliases or {}).items())},
            "versions": {
                str(v.version): {"run_id": v.run_id, "status": v.status, "tags": dict(sorted(v.tags.items()))}
                for v in versions
            },
        }
    return state


def running_runs(store: str) -> int:
    """Runs still marked RUNNING (a killed training cannot close its MLflow runs)."""
    from mlflow import MlflowClient

    client = MlflowClient(store, store)
    experiments = [e.experiment_id for e in client.search_experiments()]
    return len(client.search_runs(experiments, "attributes.status = 'RUNNING'"))


def assert_consistent(store: str) -> None:
    """Every version is READY with the full set of training tags; the champion is one of them and loads."""
    import mlflow

    state = registry_state(store)
    for name, model in state.items():
        for version, info in model["versions"].items():
            assert info["status"] == "READY", (name, version, info)
            assert {"data_digest", "git_commit", "candidate", "gates"} <= set(info["tags"]), (name, version, info)
        champion = model["aliases"].get("champion")
        if champion is not None:
            assert champion in model["versions"]
            assert model["versions"][champion]["tags"]["gates"] == "passed"
            mlflow.set_tracking_uri(store)
            mlflow.set_registry_uri(store)
            loaded = mlflow.pyfunc.load_model(f"models:/{name}@champion")
            assert loaded is not None


def kill_at(proc: subprocess.Popen[str], marker: str | None, after_s: float) -> str:
    """SIGKILL the training when its output shows ``marker`` (or after ``after_s`` seconds); returns its output."""
    assert proc.stdout is not None
    start = time.monotonic()
    seen = ""
    while True:
        ready, _, _ = select.select([proc.stdout], [], [], 0.05)
        if ready:
            line = proc.stdout.readline()
            if not line:
                raise AssertionError(f"training ended before the kill point: {seen[-3000:]}")
            seen += line
            if marker is not None and marker in line:
                break
        if marker is None and time.monotonic() - start >= after_s:
            break
        assert time.monotonic() - start < TIMEOUT_S, seen[-3000:]
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL
    return seen


def test_kill_9_during_training_leaves_registry_and_champion_intact(store: str, data_dir: Path) -> None:
    finish(train(store, data_dir))  # v1 becomes the champion
    before = registry_state(store)
    assert before["imr-dwc"]["aliases"] == {"champion": "1"}

    # 1. killed while cross-validating: nothing was written to the registry
    seen = kill_at(train(store, data_dir), marker=None, after_s=3.5)
    assert "registered imr-dwc" not in seen
    assert registry_state(store) == before
    assert_consistent(store)

    # 2. killed right after registering a new version, before (or while) moving the alias
    seen = kill_at(train(store, data_dir), marker="registered imr-dwc v", after_s=0)
    after = registry_state(store)
    assert set(after["imr-dwc"]["versions"]) == {"1", "2"}
    assert after["imr-dwc"]["aliases"]["champion"] in {"1", "2"}
    assert after["imr-dwc"]["versions"]["1"] == before["imr-dwc"]["versions"]["1"]  # the old one untouched
    assert_consistent(store)

    # 3. the next training runs clean: a new version, gated against the champion it finds
    out = finish(train(store, data_dir))
    print(f"\nkilled after registering: champion was v{after['imr-dwc']['aliases']['champion']}; "
          f"runs left RUNNING by the killed trainings: {running_runs(store)}; temporary folders left: "
          f"{len(list((data_dir.parent / 'tmp').glob('imr-train-*')))}")  # fmt: skip
    assert "registered imr-dwc v3" in out
    final = registry_state(store)
    assert set(final["imr-dwc"]["versions"]) == {"1", "2", "3"}
    assert_consistent(store)


def test_two_trainings_at_once_take_turns_on_the_registry(store: str, data_dir: Path) -> None:
    from training.promote import lock_path

    # a training that holds the registry lock (as a long registration would): the next one says it waits
    lock = lock_path(store)
    lock.parent.mkdir(parents=True, exist_ok=True)
    with open(lock, "a+") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        waiting = train(store, data_dir)
        deadline = time.monotonic() + TIMEOUT_S
        assert waiting.stdout is not None
        seen = ""
        while "waiting up to" not in seen:
            assert waiting.poll() is None and time.monotonic() < deadline, seen[-3000:]
            seen += waiting.stdout.readline()
        time.sleep(1.0)
        assert registry_state(store) == {}  # nothing written while the lock is held elsewhere
        fcntl.flock(handle, fcntl.LOCK_UN)
    out = seen + finish(waiting)
    assert "Another training is writing to the registry" in out and "registered imr-dwc v1" in out

    # two real trainings started together: both finish, versions 2 and 3 are whole, the alias is one of them
    first, second = train(store, data_dir), train(store, data_dir)
    outputs = [finish(first), finish(second)]
    state = registry_state(store)
    assert set(state["imr-dwc"]["versions"]) == {"1", "2", "3"}
    runs = {v["run_id"] for v in state["imr-dwc"]["versions"].values()}
    assert len(runs) == 3  # each version from its own training's run
    assert sum("registered imr-dwc v" in out for out in outputs) == 2
    assert_consistent(store)


def test_registry_lock_refuses_clearly_after_its_timeout(store: str) -> None:
    from training.promote import RegistryBusyError, lock_path, registry_lock

    lock = lock_path(store)
    lock.parent.mkdir(parents=True, exist_ok=True)
    with open(lock, "a+") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        said: list[str] = []
        start = time.monotonic()
        with pytest.raises(RegistryBusyError, match="still held after"), registry_lock(store, 1.0, said.append):
            pass
        assert time.monotonic() - start < 10
        assert said and "waiting" in said[0]


def test_a_trained_champion_carries_its_artifact_hash_and_serving_checks_it(
    store: str, data_dir: Path, tmp_path: Path
) -> None:
    """Training tags the registered version with ``artifact_sha256``; serving loads it only while the files match."""
    import tempfile

    import mlflow
    from mlflow import MlflowClient

    from features.integrity import ARTIFACT_SHA256_TAG, tree_sha256
    from serving.champions import ChampionStore
    from tests.conftest import make_settings

    finish(train(store, data_dir))
    version = MlflowClient(store, store).get_model_version_by_alias("imr-dwc", "champion")
    tag = version.tags.get(ARTIFACT_SHA256_TAG)
    if tag is None:
        pytest.skip("training does not tag artifact_sha256 yet (see the contract in features/integrity.py)")
    mlflow.set_tracking_uri(store)  # models:/ URIs resolve against the global registry URI
    mlflow.set_registry_uri(store)
    with tempfile.TemporaryDirectory() as tmp:
        local = mlflow.artifacts.download_artifacts(
            artifact_uri=f"models:/imr-dwc/{version.version}", dst_path=str(Path(tmp) / "model"),
            tracking_uri=store, registry_uri=store,
        )  # fmt: skip
        assert tree_sha256(Path(local)) == tag
    settings = make_settings(store, tmp_path / "models", jurisdictions="dwc")
    served = ChampionStore(settings)
    served.load_all()
    champion = served.get("dwc")
    assert champion is not None and champion.info.tags[ARTIFACT_SHA256_TAG] == tag
    model_dir = tmp_path / "models" / "dwc" / str(version.version) / "model"
    (model_dir / "MLmodel").write_text((model_dir / "MLmodel").read_text() + "\n# altered\n")
    (tmp_path / "mlflow-gone").mkdir()
    offline = ChampionStore(make_settings(f"sqlite:///{tmp_path / 'mlflow-gone' / 'x.db'}", tmp_path / "models",
                                          jurisdictions="dwc"))  # fmt: skip
    offline.load_all()
    assert offline.get("dwc") is None and ARTIFACT_SHA256_TAG in (offline.status("dwc").last_error or "")
