"""Run a few processes together in a network namespace of their own, with loopback only.

ROS 2's defaults (and Cyclone's) discover peers by multicast on the machine's network interfaces.
To test with those defaults without sending a packet off this machine, the processes of a test run
in a fresh network namespace that has nothing but ``lo``, with multicast enabled on it: there,
"the network" is this namespace's loopback, and the processes see no other DDS participant
(ROS's default domain 0 is free in every namespace).

``python netns.py SPEC_JSON`` is started by :func:`run` under ``unshare --net`` (as root; with a
user namespace otherwise). SPEC is a list of processes ``{"name", "cmd", "env", "wait"}``: those
with ``wait`` true are waited for (each at most ``timeout`` seconds); the others run beside them
and get SIGINT, then SIGTERM, then SIGKILL when those are done. Prints one JSON object mapping each
name to ``{"returncode", "output"}``.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time

STOP_GRACE_S = 10.0
#: Variables of ours, of ROS and of the DDS vendors that no process of the ROS 2 tests inherits.
DDS_ENVIRONMENT = ("CYCLONEDDS_URI", "ROS_DOMAIN_ID", "ROS_AUTOMATIC_DISCOVERY_RANGE", "ROS_LOCALHOST_ONLY",
                   "ROS_STATIC_PEERS", "RMW_IMPLEMENTATION", "FASTDDS_DEFAULT_PROFILES_FILE",
                   "FASTRTPS_DEFAULT_PROFILES_FILE", "DEEPMIMIC_TRANSPORT")


def report(results: dict, name: str) -> dict:
    """The JSON line process ``name`` printed last (its output is in the assertion message otherwise)."""
    output = results[name]["output"]
    lines = [line for line in output.splitlines() if line.startswith("{")]
    assert results[name]["returncode"] == 0 and lines, f"{name} failed:\n{output[-4000:]}"
    return json.loads(lines[-1])


def unshare_prefix() -> list[str] | None:
    """The command prefix that makes a private network namespace, or None when unshare is missing."""
    if shutil.which("unshare") is None or shutil.which("ip") is None:
        return None
    return ["unshare", "--net"] if os.geteuid() == 0 else ["unshare", "--user", "--map-root-user", "--net"]


def run(spec: list[dict], timeout: float, cwd: str | os.PathLike | None = None) -> dict:
    """Run ``spec`` in a new network namespace; the per-process results (see the module docstring)."""
    prefix = unshare_prefix()
    if prefix is None:
        raise RuntimeError("unshare and ip (util-linux, iproute2) are needed to run ROS 2 tests on loopback only")
    result = subprocess.run([*prefix, sys.executable, __file__, json.dumps({"spec": spec, "timeout": timeout})],
                            capture_output=True, text=True, timeout=timeout + 4 * STOP_GRACE_S, cwd=cwd)
    if result.returncode != 0:
        raise RuntimeError(f"netns runner failed ({result.returncode}): {result.stderr[-3000:]}")
    return json.loads(result.stdout.strip().splitlines()[-1])


def _loopback_only() -> None:
    """Bring ``lo`` up with multicast and a multicast route: the only interface of this namespace."""
    for command in (["ip", "link", "set", "lo", "up"], ["ip", "link", "set", "lo", "multicast", "on"],
                    ["ip", "route", "add", "224.0.0.0/4", "dev", "lo"]):
        subprocess.run(command, check=True)
    links = subprocess.run(["ip", "-o", "link"], check=True, capture_output=True, text=True).stdout
    if any(": lo:" not in line for line in links.splitlines()):
        raise RuntimeError(f"the namespace has other interfaces: {links}")


def _stop(process: subprocess.Popen) -> None:
    for sig, wait in ((signal.SIGINT, STOP_GRACE_S), (signal.SIGTERM, STOP_GRACE_S), (signal.SIGKILL, None)):
        if process.poll() is not None:
            break
        process.send_signal(sig)
        try:
            process.wait(wait)
        except subprocess.TimeoutExpired:
            continue


def main(argument: str) -> None:
    request = json.loads(argument)
    _loopback_only()
    processes = {}
    for item in request["spec"]:
        env = {**os.environ, "PYTHONUNBUFFERED": "1", **item.get("env", {})}
        for key in item.get("unset", []):
            env.pop(key, None)
        log = tempfile.TemporaryFile("w+")  # noqa: SIM115 - closed below; not a pipe: a chatty process must never block
        processes[item["name"]] = (item, log, subprocess.Popen(item["cmd"], env=env, stdout=log,
                                                                stderr=subprocess.STDOUT, text=True))
    deadline = time.monotonic() + request["timeout"]
    for item, _, process in processes.values():
        if item.get("wait"):
            try:
                process.wait(timeout=max(1.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                _stop(process)
    for _, _, process in processes.values():
        _stop(process)
    results = {}
    for name, (_, log, process) in processes.items():
        log.seek(0)
        results[name] = {"returncode": process.returncode, "output": log.read()}
        log.close()
    print(json.dumps(results), flush=True)


if __name__ == "__main__":
    main(sys.argv[1])
