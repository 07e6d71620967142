"""A killed run's temp bundle folder is removed by the next writer; a live writer's never is."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import numpy as np

from recsys.bundle import BundleWriter, ModelRegistry
from recsys.bundle.staging import remove_stale_temps

_WRITER = textwrap.dedent(
    """
    import sys, time
    import numpy as np
    from recsys.bundle import BundleWriter

    with BundleWriter(sys.argv[1], "v1") as writer:
        writer.write_array("a", np.arange(10))
        print("writing", flush=True)
        time.sleep(300)
    """
)


def _start_writer(models_dir) -> subprocess.Popen[str]:
    proc = subprocess.Popen(
        [sys.executable, "-c", _WRITER, str(models_dir)], stdout=subprocess.PIPE, text=True
    )
    assert proc.stdout is not None and proc.stdout.readline().strip() == "writing"
    return proc


def _commit(models_dir, version: str) -> None:
    with BundleWriter(models_dir, version) as writer:
        writer.write_array("a", np.arange(3))
        writer.commit()


def test_a_killed_writers_temp_folder_goes_with_the_next_run(models_dir) -> None:
    proc = _start_writer(models_dir)
    try:
        temp = models_dir / ".tmp-v1"
        claim = models_dir / ".tmp-v1.writer"
        assert temp.is_dir() and f'"pid": {proc.pid}' in claim.read_text()
        _commit(models_dir, "v2")  # a run while the writer lives leaves its folder alone
        assert temp.is_dir() and (temp / "a.npy").is_file()
        assert remove_stale_temps(models_dir) == []
    finally:
        proc.kill()  # SIGKILL: no cleanup code of the writer runs
        proc.wait()
    assert temp.is_dir()  # what a killed run leaves behind
    assert [m.version for m in ModelRegistry(models_dir).versions()] == ["v2"]
    _commit(models_dir, "v3")
    assert not temp.exists() and not claim.exists()
    assert sorted(p.name for p in models_dir.iterdir()) == ["v2", "v3"]


def test_folders_without_a_claim_and_orphan_claims_are_stale(models_dir) -> None:
    (models_dir / ".tmp-old" / "items").mkdir(parents=True)  # from before claims existed
    (models_dir / ".tmp-gone.writer").write_text("{}")  # writer killed before its mkdir
    with BundleWriter(models_dir, "v1") as writer:  # entering removed both
        live = models_dir / ".tmp-v1"
        assert sorted(p.name for p in models_dir.iterdir()) == [".tmp-v1", ".tmp-v1.writer"]
        assert remove_stale_temps(models_dir) == []
        assert live.is_dir() and (models_dir / ".tmp-v1.writer").is_file()
        writer.commit()
    assert sorted(p.name for p in models_dir.iterdir()) == ["v1"]
