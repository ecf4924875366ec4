"""Crash-safe `bag record`: SIGKILL loses at most the last second (`bag reindex` repairs); SIGTERM = Ctrl-C."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytest.importorskip("cyclonedds", reason="cyclonedds is not installed; DDS tools not tested")
pytest.importorskip("rosbags", reason="rosbags is not installed (requirements-dev.txt)")

from deepmimic.cli import main as cli
from mcap.reader import make_reader
from rosbags.highlevel import AnyReader
from rosbags.typesys import Stores, get_typestore

PUBLISHER = Path(__file__).resolve().parent / "joint_state_publisher.py"
RATE = 30.0


def _record(bag: Path, env: dict[str, str], seconds: float, sig: int) -> tuple[int, float]:
    """Record the 30 Hz publisher with the CLI for ``seconds`` after it started, then send ``sig``.

    Returns the recorder's exit status and the seconds it recorded (from its "recording" line).
    """
    publisher = subprocess.Popen([sys.executable, str(PUBLISHER), "--rate", str(RATE), "--seconds", "60"], env=env,
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert publisher.stdout.readline().strip() == "publishing"
        recorder = subprocess.Popen([sys.executable, "-m", "deepmimic.cli", "bag", "record", "/joint_states", "-o",
                                     str(bag)], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        line = recorder.stderr.readline()
        assert "recording /joint_states" in line, line + recorder.stderr.read()
        started = time.monotonic()
        time.sleep(seconds)
        recorder.send_signal(sig)
        recorded = time.monotonic() - started
        recorder.communicate(timeout=30)
        return recorder.returncode, recorded
    finally:
        publisher.kill()
        publisher.communicate()


def _read_both(bag: Path) -> int:
    """Messages read by rosbags and by mcap's seeking reader (which needs the summary): equal."""
    with AnyReader([bag], default_typestore=get_typestore(Stores.ROS2_JAZZY)) as reader:
        messages = [reader.deserialize(data, c.msgtype) for c, _, data in reader.messages()]
    with (bag / f"{bag.name}.mcap").open("rb") as stream:
        summary = make_reader(stream).get_summary()
    assert summary is not None and summary.statistics.message_count == len(messages)
    positions = [int(m.position[0]) for m in messages]
    assert positions == list(range(positions[0], positions[0] + len(positions)))  # in order, none missing
    return len(messages)


def test_sigkill_loses_at_most_the_last_second_and_reindex_repairs(tmp_path, loopback_dds, capsys):
    bag = tmp_path / "killed"
    code, seconds = _record(bag, loopback_dds, 3.5, signal.SIGKILL)
    assert code == -signal.SIGKILL
    assert not (bag / "metadata.yaml").exists() and (bag / "killed.mcap").stat().st_size > 0
    assert cli(["bag", "reindex", str(bag)]) == 0
    count = _read_both(bag)
    # At most the last second (plus discovery slack at the start) is missing.
    assert (seconds - 1.0 - 0.5) * RATE <= count <= (seconds + 0.2) * RATE, (count, seconds)
    assert f"/joint_states: {count} messages" in capsys.readouterr().out
    assert (bag / "killed.mcap.orig").exists()


def test_sigterm_closes_the_bag_like_ctrl_c(tmp_path, loopback_dds):
    bag = tmp_path / "terminated"
    code, seconds = _record(bag, loopback_dds, 1.5, signal.SIGTERM)
    assert code == 0
    assert (bag / "metadata.yaml").exists()
    assert (seconds - 0.5) * RATE <= _read_both(bag) <= (seconds + 0.2) * RATE


def test_reindex_of_a_missing_or_foreign_file_is_one_line(tmp_path, capsys):
    assert cli(["bag", "reindex", str(tmp_path / "nothing")]) == 2
    assert "no nothing.mcap" in capsys.readouterr().err
    (tmp_path / "junk").mkdir()
    (tmp_path / "junk" / "junk.mcap").write_bytes(b"not an mcap file at all")
    assert cli(["bag", "reindex", str(tmp_path / "junk")]) == 2
    err = capsys.readouterr().err.strip()
    assert "not a readable MCAP file" in err and len(err.splitlines()) == 1
    (tmp_path / "junk" / "junk.mcap").write_bytes(b"\x89MCAP0\r\n\x01\x00")  # killed within its first second
    assert cli(["bag", "reindex", str(tmp_path / "junk")]) == 2
    assert "no complete record to recover" in capsys.readouterr().err
