"""The deploy graph over loopback DDS: `states` rate and jitter, state-to-command latency, `reference` rate.

Usage: ``python bench/bench_deploy.py [--seconds 20] [--out bench/results/deploy.json]``;
``--ros2`` also runs the graph with every node on rclpy (ROS 2 Kilted, Fast DDS) and mixed (the
simulator node on rclpy, policy and reference on Cyclone), the measuring node staying on Cyclone;
ROS's discovery range is then LOCALHOST for every process (``--out bench/results/deploy_ros2.json``).

The graph of ``config/graphs/deploy.yaml`` (parameters exactly as ``deepmimic launch deploy``
gives them) runs as three processes started here with ``python -m`` over Cyclone DDS: the policy
node first (so that it answers the initial state), then the reference and simulator nodes. The DDS
domain is loopback-only (``dds_wire.loopback_config()``) with a ``ROS_DOMAIN_ID`` of the bench's own.
A measuring node in this process subscribes ``states``, ``commands`` and ``reference``; after
the first command has arrived and ``--warmup`` seconds more, it records for ``--seconds``:

- ``states``: rate from the publication stamps (``header.stamp``: ROS time, the system clock, for
  node processes of either transport, mapped to this process's monotonic clock by the offset
  measured here; the composed graph's bus clock is already monotonic) and intervals between stamps (jitter = |interval -
  1/30 s|); also the intervals between arrivals here.
- state-to-command latency. ``commands`` (std_msgs/Float64MultiArray) carry no stamp; the policy
  node publishes exactly one command per states stamp, on the arrival of that stamp's states and
  odom. So a command is matched to the newest states message that arrived here before it and has
  no command yet. Reported: (a) states ``header.stamp`` -> command arrival here (the simulator takes
  the stamp *before* its physics step, so (a) includes the step, 10 substeps), (b) the same stamp ->
  the command's DDS source timestamp (when the policy wrote it; CLOCK_REALTIME, mapped to the
  monotonic clock by the offset measured here), (c) states arrival here -> command arrival here.
- ``reference`` rate (arrivals and stamps).
- CPU: each node process's CPU time / wall time (1.0 = one core), this process's, and
  ``others_cpu_share``: busy CPU time of every *other* process on the machine / (wall x CPUs).

Then the same graph composed in one process (``inprocess`` transport, a subprocess of this
script): in real time (monotonic clock: step rate and stamp -> command delivery) and free-running
on a ManualClock (simulated steps per wall second: the headroom over 30 Hz).

Checkpoint: ``--checkpoint``, else ``policies/humanoid3d_walk.pt`` when it exists, else a tiny
untrained one (one PPO iteration on 4 environments, as tests/nodes/conftest.py makes it).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from machine import cpu_model  # bench/machine.py (the script folder is on sys.path)

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
PERIOD_S = 1.0 / 30.0
START_ORDER = ("policy", "reference_motion", "simulator")


# Machine and CPU accounting ----------------------------------------------------------------------
def _cpu_busy_s() -> float | None:
    """CPU-seconds all CPUs spent busy since boot (Linux /proc/stat), None elsewhere."""
    try:
        fields = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    except (OSError, ValueError, IndexError):
        return None
    return (sum(fields[:3]) + sum(fields[5:7])) / os.sysconf("SC_CLK_TCK")  # user nice system irq softirq


def _process_cpu_s(pid: int) -> float | None:
    """utime + stime of a process (seconds), None when it is gone or not Linux."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = text[text.rindex(")") + 2:].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def machine_info() -> dict:
    from importlib.metadata import version as _version

    import torch

    return {
        "cpu_count": os.cpu_count(), "cpu_model": cpu_model(), "platform": platform.platform(),
        "python": sys.version.split()[0], "numpy": np.__version__, "torch": torch.__version__,
        "cyclonedds": _version("cyclonedds"),
        "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS"),
        "nice": os.nice(0) if hasattr(os, "nice") else None,
        "loadavg_start": list(os.getloadavg()) if hasattr(os, "getloadavg") else None,
    }


def _ms_stats(values_s: list[float]) -> dict:
    if not values_s:
        return {"n": 0, "p50_ms": None, "p99_ms": None, "max_ms": None, "mean_ms": None}
    ms = np.asarray(values_s) * 1e3
    return {"n": int(ms.size), "p50_ms": round(float(np.percentile(ms, 50)), 3),
            "p99_ms": round(float(np.percentile(ms, 99)), 3), "max_ms": round(float(ms.max()), 3),
            "mean_ms": round(float(ms.mean()), 3)}


def _rate(times: list[float]) -> float | None:
    return None if len(times) < 2 or times[-1] <= times[0] else (len(times) - 1) / (times[-1] - times[0])


def _interval_stats(times: list[float]) -> dict:
    intervals = np.diff(np.asarray(times)) if len(times) > 1 else np.zeros(0)
    jitter = np.abs(intervals - PERIOD_S)
    out = {"interval": _ms_stats(intervals.tolist()), "jitter": _ms_stats(jitter.tolist())}
    out["late_over_1ms"] = int((jitter > 1e-3).sum())
    return out


# Checkpoint --------------------------------------------------------------------------------------
def pick_checkpoint(given: str | None, folder: Path) -> tuple[Path, str]:
    if given:
        return Path(given), "given"
    committed = ROOT / "policies/humanoid3d_walk.pt"
    if committed.is_file():
        return committed, "committed policies/humanoid3d_walk.pt"
    run_dir = folder / "tiny_run"
    command = [sys.executable, "-m", "deepmimic.cli", "train", "--config", str(ROOT / "config/humanoid3d_walk.yaml"),
               "--iterations", "1", "--num-envs", "4", "--run-dir", str(run_dir), "--no-eval"]
    subprocess.run(command, check=True, capture_output=True, timeout=600,
                   env={**os.environ, "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", "1")})
    return run_dir / "model_1.pt", "tiny (1 PPO iteration on 4 envs, untrained; policies/humanoid3d_walk.pt absent)"


def graph_specs(checkpoint: Path) -> list:
    from deepmimic.graph import find_graph, load_graph

    graph = load_graph(find_graph("deploy"), {"checkpoint": str(checkpoint)})
    specs = {spec.name: spec for spec in graph.nodes}
    return [specs[name] for name in START_ORDER] + [s for s in graph.nodes if s.name not in START_ORDER]


# The measuring node ------------------------------------------------------------------------------
class Recorder:
    """Arrival times (monotonic) and stamps of states, commands and reference, and the matching."""

    def __init__(self, realtime_offset_s: float) -> None:
        self.offset = realtime_offset_s  # realtime - monotonic
        self.recording = False
        self.states: list[tuple[float, float]] = []      # (stamp, arrival)
        self.commands: list[tuple[float, float | None]] = []  # (arrival, source time as monotonic)
        self.reference: list[tuple[float, float]] = []
        self.matched: list[tuple[float, float, float, float | None]] = []  # stamp, states arr, cmd arr, cmd src
        self.unmatched_commands = 0
        self.seen_commands = 0
        self._pending: tuple[float, float] | None = None

    def start(self) -> None:
        """Record from now on; a command answering a states message from before is counted unmatched."""
        self._pending = None
        self.recording = True

    def _source(self, msg) -> float | None:
        info = getattr(msg, "sample_info", None)
        stamp = getattr(info, "source_timestamp", None)
        return None if stamp is None else stamp * 1e-9 - self.offset

    def _stamp(self, msg) -> float:
        """A header stamp on this process's monotonic clock. Node processes stamp with ROS time (the
        system clock, epoch seconds); the composed in-process graph with the monotonic bus clock."""
        stamp = msg.header.stamp.to_seconds()
        return stamp - self.offset if stamp > 1e9 else stamp

    def on_states(self, msg) -> None:
        now = time.monotonic()
        item = (self._stamp(msg), now)
        self._pending = item
        if self.recording:
            self.states.append(item)

    def on_commands(self, msg) -> None:
        now = time.monotonic()
        self.seen_commands += 1
        source = self._source(msg)
        if not self.recording:
            self._pending = None
            return
        self.commands.append((now, source))
        if self._pending is None:
            self.unmatched_commands += 1
            return
        stamp, arrival = self._pending
        self._pending = None
        self.matched.append((stamp, arrival, now, source))

    def on_reference(self, msg) -> None:
        if self.recording:
            self.reference.append((self._stamp(msg), time.monotonic()))

    def summary(self) -> dict:
        stamps = [s for s, _ in self.states]
        arrivals = [a for _, a in self.states]
        m = self.matched
        return {
            "states": {"count": len(stamps), "rate_hz": _rate(stamps), "rate_hz_arrivals": _rate(arrivals),
                       "stamps": _interval_stats(stamps), "arrivals": _interval_stats(arrivals),
                       "transit": _ms_stats([a - s for s, a in self.states])},
            "latency": {
                "stamp_to_command_arrival": _ms_stats([c - s for s, _, c, _ in m]),
                "stamp_to_command_written": _ms_stats([src - s for s, _, _, src in m if src is not None]),
                "states_arrival_to_command_arrival": _ms_stats([c - a for _, a, c, _ in m]),
                "matched": len(m), "unmatched_commands": self.unmatched_commands,
                "states_without_command": len(self.states) - len(m),
            },
            "commands": {"count": len(self.commands), "rate_hz": _rate([c for c, _ in self.commands])},
            "reference": {"count": len(self.reference), "rate_hz": _rate([s for s, _ in self.reference]),
                          "rate_hz_arrivals": _rate([a for _, a in self.reference])},
        }


def _realtime_offset() -> float:
    return (time.time_ns() - time.monotonic_ns()) * 1e-9


#: Transport of each node process per ``--ros2`` mode (the measuring node is always on Cyclone).
MODES = {"dds": {}, "rclpy": {"policy": "rclpy", "reference_motion": "rclpy", "simulator": "rclpy"},
         "mixed": {"simulator": "rclpy"}}


def run_dds(checkpoint: Path, seconds: float, warmup: float, startup_timeout: float, folder: Path,
            domain: int | None = None, node_transports: dict[str, str] | None = None) -> dict:
    """Start the three node processes, measure, stop them; the figures.

    ``node_transports``: node name -> transport (default dds) of that node's process.
    """
    node_transports = node_transports or {}
    import yaml
    from deepmimic_transport.dds_wire import loopback_config
    from deepmimic_transport.messages import deepmimic_interfaces, sensor_msgs, std_msgs

    import deepmimic_transport as transport

    domain = domain if domain is not None else 1 + (os.getpid() * 53 + 11) % 232
    if os.environ.get("BENCH_DDS_DEFAULTS") != "1":  # set by --ros-range default (a loopback-only namespace)
        os.environ["CYCLONEDDS_URI"] = loopback_config()
    os.environ["ROS_DOMAIN_ID"] = str(domain)
    os.environ.pop("DEEPMIMIC_TRANSPORT", None)
    env = dict(os.environ, PYTHONUNBUFFERED="1", DEEPMIMIC_TRANSPORT="dds",
               OMP_NUM_THREADS=os.environ.get("OMP_NUM_THREADS", "1"))
    recorder = Recorder(_realtime_offset())
    node = transport.create_node("deploy_bench", backend="dds")
    node.create_subscription(sensor_msgs.JointState, "/states", recorder.on_states, "sensor_data")
    node.create_subscription(std_msgs.Float64MultiArray, "/commands", recorder.on_commands, "sensor_data")
    node.create_subscription(deepmimic_interfaces.ReferenceFrame, "/reference", recorder.on_reference, "reliable")
    processes: dict[str, subprocess.Popen] = {}
    logs: dict[str, Path] = {}
    try:
        for spec in graph_specs(checkpoint):
            params = folder / f"{spec.name}.yaml"
            params.write_text(yaml.safe_dump(spec.parameter_file_data(), sort_keys=False), encoding="utf-8")
            logs[spec.name] = folder / f"{spec.name}.log"
            with open(logs[spec.name], "w") as log:
                chosen = node_transports.get(spec.name, "dds")
                processes[spec.name] = subprocess.Popen(
                    [sys.executable, "-m", spec.module, *spec.argv(chosen, params)],
                    env={**env, "DEEPMIMIC_TRANSPORT": chosen}, stdout=log,
                    stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True)
        start = time.monotonic()
        while recorder.seen_commands < 3:
            if time.monotonic() - start > startup_timeout or any(p.poll() is not None for p in processes.values()):
                tails = {n: logs[n].read_text()[-1500:] for n in logs}
                raise RuntimeError(f"no commands after {time.monotonic() - start:.1f} s; exit codes "
                                   f"{ {n: p.poll() for n, p in processes.items()} }; logs: {tails}")
            node.spin_once(0.05)
        startup_s = time.monotonic() - start
        end = time.monotonic() + warmup
        while time.monotonic() < end:
            node.spin_once(0.05)
        offset0 = _realtime_offset()
        cpu0 = {n: _process_cpu_s(p.pid) for n, p in processes.items()}
        busy0, own0, wall0 = _cpu_busy_s(), time.process_time(), time.monotonic()
        recorder.start()
        while time.monotonic() - wall0 < seconds:
            node.spin_once(0.05)
        recorder.recording = False
        wall, own = time.monotonic() - wall0, time.process_time() - own0
        busy1 = _cpu_busy_s()
        cpu1 = {n: _process_cpu_s(p.pid) for n, p in processes.items()}
        offset1 = _realtime_offset()
    finally:
        node.shutdown()
        for process in processes.values():
            if process.poll() is None:
                process.send_signal(2)  # SIGINT: the nodes shut down cleanly
        deadline = time.monotonic() + 10
        for process in processes.values():
            try:
                process.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
    node_cpu = {n: None if cpu0[n] is None or cpu1[n] is None else round((cpu1[n] - cpu0[n]) / wall, 3)
                for n in processes}
    ours = own + sum((cpu1[n] or 0) - (cpu0[n] or 0) for n in processes)
    others = None if busy0 is None or busy1 is None else \
        round(min(1.0, max(0.0, (busy1 - busy0 - ours) / (wall * (os.cpu_count() or 1)))), 3)
    tracebacks = [n for n, path in logs.items() if "Traceback" in path.read_text()]
    result = recorder.summary()
    result.update({
        "seconds": round(wall, 3), "warmup_s": warmup, "startup_s": round(startup_s, 2), "ros_domain_id": domain,
        "cpu": {"nodes_cores": node_cpu, "bench_process_cores": round(own / wall, 3), "others_cpu_share": others},
        "realtime_offset_drift_ms": round((offset1 - offset0) * 1e3, 3),
        "node_tracebacks": tracebacks,
    })
    return result


# Composed (a subprocess running this script with --composed-worker) -------------------------------
def composed_worker(checkpoint: Path, seconds: float, free_seconds: float, warmup: float) -> dict:
    import importlib

    from deepmimic_transport.inprocess import Bus, ManualClock
    from deepmimic_transport.messages import deepmimic_interfaces, sensor_msgs, std_msgs

    import deepmimic_transport as transport

    classes = {"reference_motion": ("deepmimic_sim.nodes.reference_motion_node", "ReferenceMotionNode"),
               "simulator": ("deepmimic_sim.nodes.simulator_node", "SimulatorNode"),
               "policy": ("deepmimic_policy.nodes.policy_node", "PolicyNode")}

    def build(bus: Bus) -> tuple[list, Recorder, transport.Node]:
        wrappers = []
        for spec in graph_specs(checkpoint):
            module, name = classes[spec.name]
            cls = getattr(importlib.import_module(module), name)
            wrappers.append(cls(transport.create_node(spec.name, backend="inprocess", bus=bus,
                                                      parameters=spec.parameters)))
        recorder = Recorder(0.0)
        listener = transport.create_node("deploy_bench", backend="inprocess", bus=bus)
        listener.create_subscription(sensor_msgs.JointState, "/states", recorder.on_states, "sensor_data")
        listener.create_subscription(std_msgs.Float64MultiArray, "/commands", recorder.on_commands, "sensor_data")
        listener.create_subscription(deepmimic_interfaces.ReferenceFrame, "/reference", recorder.on_reference,
                                     "reliable")
        return wrappers, recorder, listener

    def close(wrappers: list, listener) -> None:
        for wrapper in wrappers:
            wrapper.node.shutdown()
            if hasattr(wrapper, "backend"):
                wrapper.backend.close()
        listener.shutdown()

    # Real time: the monotonic clock, one executor (this thread) for the whole bus.
    bus = Bus()
    wrappers, recorder, listener = build(bus)
    end = time.monotonic() + warmup
    while time.monotonic() < end:
        bus.spin_once(0.05)
    recorder.start()
    busy0, own0, wall0 = _cpu_busy_s(), time.process_time(), time.monotonic()
    while time.monotonic() - wall0 < seconds:
        bus.spin_once(0.05)
    recorder.recording = False
    wall, own = time.monotonic() - wall0, time.process_time() - own0
    busy1 = _cpu_busy_s()
    close(wrappers, listener)
    realtime = recorder.summary()
    realtime["seconds"] = round(wall, 3)
    realtime["cpu"] = {"process_cores": round(own / wall, 3), "others_cpu_share": None if busy0 is None else
                       round(min(1.0, max(0.0, (busy1 - busy0 - own) / (wall * (os.cpu_count() or 1)))), 3)}

    # Free-running: a manual clock, as fast as the process computes.
    bus = Bus(clock=ManualClock())
    wrappers, recorder, listener = build(bus)
    simulator = next(w for w in wrappers if hasattr(w, "backend"))
    bus.run_for(0.5)
    steps0, wall0 = simulator.steps, time.perf_counter()
    while time.perf_counter() - wall0 < free_seconds:
        bus.run_for(1.0)
    wall = time.perf_counter() - wall0
    free = {"steps": simulator.steps - steps0, "wall_s": round(wall, 3),
            "steps_per_s": round((simulator.steps - steps0) / wall, 1),
            "realtime_factor": round((simulator.steps - steps0) * PERIOD_S / wall, 2)}
    close(wrappers, listener)
    return {"realtime": realtime, "free_running": free}


def run_composed(checkpoint: Path, seconds: float, free_seconds: float, warmup: float) -> dict:
    env = dict(os.environ, OMP_NUM_THREADS=os.environ.get("OMP_NUM_THREADS", "1"))
    env.pop("DEEPMIMIC_TRANSPORT", None)
    out = subprocess.run([sys.executable, __file__, "--composed-worker", "--checkpoint", str(checkpoint),
                          "--seconds", str(seconds), "--free-seconds", str(free_seconds), "--warmup", str(warmup)],
                         capture_output=True, text=True, env=env, timeout=seconds + free_seconds + 300)
    if out.returncode != 0:
        raise RuntimeError(f"composed worker failed ({out.returncode}): {out.stderr[-2000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


# Report ------------------------------------------------------------------------------------------
def _f(value, fmt: str = ".2f") -> str:
    return "-" if value is None else format(value, fmt)


def table(result: dict) -> str:
    d = result["dds"]
    rows = [("what", "DDS, 3 processes", "composed, inprocess")]
    c = (result.get("composed") or {}).get("realtime")
    st, lat = d["states"], d["latency"]
    rows.append(("states rate Hz (target 30 +-5%)", _f(st["rate_hz"], ".3f"), _f(c and c["states"]["rate_hz"], ".3f")))
    rows.append(("states interval jitter p50/p99 ms (stamps)",
                 f"{_f(st['stamps']['jitter']['p50_ms'])} / {_f(st['stamps']['jitter']['p99_ms'])}",
                 "-" if not c else f"{_f(c['states']['stamps']['jitter']['p50_ms'])} / "
                                   f"{_f(c['states']['stamps']['jitter']['p99_ms'])}"))
    rows.append(("states arrival jitter p50/p99 ms (here)",
                 f"{_f(st['arrivals']['jitter']['p50_ms'])} / {_f(st['arrivals']['jitter']['p99_ms'])}", "-"))
    for key, label in (("stamp_to_command_arrival", "stamp -> command arrival"),
                       ("stamp_to_command_written", "stamp -> command written (DDS src ts)"),
                       ("states_arrival_to_command_arrival", "states arrival -> command arrival")):
        s = lat[key]
        cs = c["latency"][key] if c else None
        rows.append((f"{label} p50/p99/max ms", f"{_f(s['p50_ms'])} / {_f(s['p99_ms'])} / {_f(s['max_ms'])}",
                     "-" if not cs or not cs["n"] else f"{_f(cs['p50_ms'])} / {_f(cs['p99_ms'])} / {_f(cs['max_ms'])}"))
    rows.append(("matched / states without command", f"{lat['matched']} / {lat['states_without_command']}",
                 "-" if not c else f"{c['latency']['matched']} / {c['latency']['states_without_command']}"))
    rows.append(("reference rate Hz", _f(d["reference"]["rate_hz"], ".3f"), _f(c and c["reference"]["rate_hz"], ".3f")))
    cores = d["cpu"]["nodes_cores"]
    rows.append(("CPU cores: policy / sim / reference",
                 " / ".join(_f(cores.get(n)) for n in ("policy", "simulator", "reference_motion")),
                 _f(c and c["cpu"]["process_cores"]) + " (all)"))
    rows.append(("others_cpu_share", _f(d["cpu"]["others_cpu_share"]), _f(c and c["cpu"]["others_cpu_share"])))
    free = (result.get("composed") or {}).get("free_running")
    if free:
        rows.append(("free-running steps/s (ManualClock)", "-", f"{free['steps_per_s']:.0f} "
                                                                f"({free['realtime_factor']:.1f}x real time)"))
    widths = [max(len(r[i]) for r in rows) for i in range(3)]
    lines = [" | ".join(r[i].ljust(widths[i]) for i in range(3)) for r in rows]
    lines.insert(1, "-+-".join("-" * w for w in widths))
    return "\n".join(lines)


def latency_table(result: dict) -> str:
    """State-to-command latency and states rate per transport mode (``--ros2``)."""
    lines = ["mode | states Hz | stamp -> command arrival p50/p99 ms | states arrival -> command p50/p99 ms"]
    composed = (result.get("composed") or {}).get("realtime")
    runs = [("in-process (composed)", composed), ("Cyclone (3 processes)", result["dds"]),
            ("rclpy, Fast DDS (3 processes)", result.get("rclpy")),
            ("mixed: simulator rclpy, rest Cyclone", result.get("mixed"))]
    for name, run in runs:
        if not run:
            continue
        a, b = run["latency"]["stamp_to_command_arrival"], run["latency"]["states_arrival_to_command_arrival"]
        stamped = True  # every node stamps with ROS time (system clock), mapped to the monotonic clock here
        lines.append(f"{name} | {_f(run['states']['rate_hz'] if stamped else run['states']['rate_hz_arrivals'], '.2f')}"
                     f" | {_f(a['p50_ms']) if stamped else '-'} / {_f(a['p99_ms']) if stamped else '-'} | "
                     f"{_f(b['p50_ms'])} / {_f(b['p99_ms'])}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=20.0, help="measured seconds (DDS and composed real time)")
    parser.add_argument("--warmup", type=float, default=3.0, help="seconds after the first command, not measured")
    parser.add_argument("--free-seconds", type=float, default=5.0, help="wall seconds of the free-running composed run")
    parser.add_argument("--startup-timeout", type=float, default=120.0, help="seconds to wait for the first command")
    parser.add_argument("--checkpoint", default=None, help="policy checkpoint (default: committed, else a tiny one)")
    parser.add_argument("--domain", type=int, default=None, help="ROS_DOMAIN_ID (default: one from the pid, 1-232)")
    parser.add_argument("--no-composed", action="store_true", help="skip the composed comparison")
    parser.add_argument("--ros2", action="store_true", help="also all nodes on rclpy, and mixed (simulator on rclpy)")
    parser.add_argument("--ros-range", default="LOCALHOST",
                        help="ROS_AUTOMATIC_DISCOVERY_RANGE of the --ros2 runs ('default': leave unset, e.g. "
                             "inside a loopback-only network namespace as tests/ros2/netns.py makes)")
    parser.add_argument("--out", type=Path, default=ROOT / "bench/results/deploy.json", help="JSON results file")
    parser.add_argument("--composed-worker", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    if args.composed_worker:
        print(json.dumps(composed_worker(Path(args.checkpoint), args.seconds, args.free_seconds, args.warmup)))
        return 0
    with tempfile.TemporaryDirectory(prefix="bench_deploy_") as tmp:
        folder = Path(tmp)
        checkpoint, origin = pick_checkpoint(args.checkpoint, folder)
        result = {"bench": "deploy", "machine": machine_info(), "checkpoint": origin,
                  "settings": {"seconds": args.seconds, "warmup_s": args.warmup, "free_seconds": args.free_seconds,
                               "graph": "config/graphs/deploy.yaml", "transport": "dds (Cyclone, loopback only)",
                               "target_rate_hz": 30.0, "latency_goal_p99_ms": 2.0}}
        if args.ros2 and args.ros_range == "default":  # every DDS at its defaults (in a loopback-only netns)
            os.environ["BENCH_DDS_DEFAULTS"] = "1"
            os.environ.pop("CYCLONEDDS_URI", None)
        result["dds"] = run_dds(checkpoint, args.seconds, args.warmup, args.startup_timeout, folder, args.domain)
        if args.ros2:  # Fast DDS on this machine only (our Cyclone processes: loopback_config())
            if args.ros_range != "default":
                os.environ["ROS_AUTOMATIC_DISCOVERY_RANGE"] = args.ros_range
            for mode in ("rclpy", "mixed"):
                result[mode] = run_dds(checkpoint, args.seconds, args.warmup, args.startup_timeout, folder,
                                       args.domain, MODES[mode])
        result["composed"] = None if args.no_composed else \
            run_composed(checkpoint, args.seconds, args.free_seconds, args.warmup)
    rate = result["dds"]["states"]["rate_hz"]
    p99 = result["dds"]["latency"]["stamp_to_command_arrival"]["p99_ms"]
    result["verdict"] = {"states_rate_within_5pct": rate is not None and abs(rate - 30.0) <= 1.5,
                         "latency_p99_under_2ms": p99 is not None and p99 < 2.0}
    result["machine"]["loadavg_end"] = list(os.getloadavg()) if hasattr(os, "getloadavg") else None
    print(table(result))
    if args.ros2:
        print(latency_table(result))
    print(f"verdict: {result['verdict']}; checkpoint: {origin}")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
