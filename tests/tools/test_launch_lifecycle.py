"""``deepmimic launch`` process lifecycle: nodes die with a SIGKILLed launcher; ``respawn`` restarts a node."""

from __future__ import annotations

import os
import re
import signal
import time
from pathlib import Path

import pytest

pytest.importorskip("cyclonedds", reason="cyclonedds is not installed; DDS launch not tested")

from deepmimic.graph import GraphError, find_graph, load_graph
from test_launch import CHAT, TIMEOUT_S, finish, launch

RESPAWN = Path(__file__).resolve().parent / "graphs" / "chat_respawn.yaml"


def _read_until(process, predicate, lines: list[str]) -> None:
    """Read the launcher's output into ``lines`` until ``predicate(lines)`` holds (or fail after TIMEOUT_S)."""
    deadline = time.monotonic() + TIMEOUT_S
    while not predicate(lines):
        line = process.stdout.readline()
        if not line or time.monotonic() > deadline:
            raise AssertionError("".join(lines))
        lines.append(line)


def _alive(pid: int) -> bool:
    """Running (not gone, not a zombie waiting for its new parent to reap it)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return False
    return state != "Z"


def test_sigkill_of_the_launcher_leaves_no_node_alive(loopback_dds):
    process = launch(loopback_dds, str(CHAT), "expect:=0")
    lines: list[str] = []
    _read_until(process, lambda got: any("heard:" in line for line in got), lines)
    pids = [int(p) for p in re.findall(r"started \w+ \(pid (\d+)\)", "".join(lines))]
    assert len(pids) == 2 and all(_alive(pid) for pid in pids)
    process.kill()
    process.wait(timeout=10)
    deadline = time.monotonic() + 15
    while any(_alive(pid) for pid in pids) and time.monotonic() < deadline:
        time.sleep(0.1)
    alive = [pid for pid in pids if _alive(pid)]
    for pid in alive:  # do not leak them if the test fails
        os.kill(pid, signal.SIGKILL)
    assert not alive, f"nodes outlived their launcher: {alive}"


def _talker_pids(lines: list[str]) -> list[int]:
    return [int(p) for p in re.findall(r"started talker \(pid (\d+)\)", "".join(lines))]


def test_a_killed_or_failing_respawn_node_is_restarted_and_the_graph_keeps_running(loopback_dds):
    process = launch(loopback_dds, str(RESPAWN), "fail_after:=4.0")
    lines: list[str] = []
    try:
        # SIGKILL of the running talker: the launcher starts it again, and it publishes again.
        _read_until(process, lambda got: any("heard: again" in line for line in got), lines)
        os.kill(_talker_pids(lines)[-1], signal.SIGKILL)
        _read_until(process, lambda got: sum("[talker] talker /talker publishing" in line for line in got) >= 2, lines)
        # The respawned talker fails on its own (exit status 3) after 4 s: started a third time.
        _read_until(process, lambda got: sum("[talker] talker /talker publishing" in line for line in got) >= 3, lines)
        assert process.poll() is None  # the graph never stopped
    finally:
        process.send_signal(signal.SIGINT)
        code, out = finish(process)
    out = "".join(lines) + out
    assert code == 0, out
    assert "talker exited (status -9): respawning in 0.2 s" in out
    assert "talker exited (status 3): respawning in 0.2 s" in out
    assert len(set(_talker_pids(lines))) >= 3
    assert "SIGINT: stopping the graph" in out and "died" not in out


def test_the_deploy_graph_respawns_its_policy():
    policy = next(node for node in load_graph(find_graph("deploy")).nodes if node.name == "policy")
    assert policy.respawn and policy.respawn_delay == 1.0


def test_respawn_keys_are_checked(tmp_path):
    bad = tmp_path / "bad.yaml"
    text = RESPAWN.read_text().replace("respawn_delay: 0.2", "respawn_delay: -1")
    bad.write_text(text.replace("parameters_file: params.yaml", f"parameters_file: {RESPAWN.parent}/params.yaml"))
    with pytest.raises(GraphError, match="respawn_delay must be a number of seconds >= 0"):
        load_graph(bad)
    bad.write_text(bad.read_text().replace("respawn_delay: -1", "respawn_delay: 1").replace("respawn: true",
                                                                                           "respawn: yes please"))
    with pytest.raises(GraphError, match="respawn must be true or false"):
        load_graph(bad)
    assert [(n.name, n.respawn, n.respawn_delay) for n in load_graph(RESPAWN).nodes] == [("talker", True, 0.2),
                                                                                         ("listener", False, 1.0)]
