"""``deepmimic launch GRAPH [name:=value ...] [--composed]``: start a node graph (config/graphs/GRAPH.yaml).

- Separate processes (default): each node runs as ``python -m MODULE --transport dds --params FILE
  --ros-args -r __node:=NAME ...`` (FILE: the node's parameters, written to a temporary ROS 2
  parameter file), in its own session so that the launcher alone decides how it is stopped. Every
  line a node prints appears as ``[NAME] line``. Each child asks the kernel for SIGTERM when the
  launcher dies (``prctl(PR_SET_PDEATHSIG)``, Linux), so even a ``kill -9`` of the launcher leaves
  no node running. A node with ``respawn: true`` in the graph is started again ``respawn_delay`` s
  after it exits, whatever its status, instead of stopping the graph (as launch_ros's ``respawn``).
- Composed (``--composed``, or ``composed: true`` in the graph): every node's ``main`` runs in a thread
  of this process over the ``inprocess`` transport (one bus, zero copy); output lines carry the name
  of the node whose thread wrote them. Callbacks run in whichever thread spins the shared bus, so a
  line printed in a callback may carry another node's name (logging records name their node).

Ctrl-C (SIGINT) or SIGTERM stops the graph: children get SIGINT, then SIGTERM after
``--grace`` seconds, then SIGKILL; composed nodes are shut down. A node that exits with a non-zero
status (or raises, composed) and does not respawn stops the others and the launch exits with status 1; a ``required``
node that ends stops the launch too; otherwise the launch ends when every node has.
"""

from __future__ import annotations

import argparse
import contextlib
import ctypes
import io
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any, TextIO

_PR_SET_PDEATHSIG = 1  # linux/prctl.h


def _add_options(parser: argparse.ArgumentParser, defaults: bool = True) -> None:
    """The launch options (registered twice: before GRAPH, and among the name:=value arguments)."""
    keep = {} if defaults else {"default": argparse.SUPPRESS}
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--composed", action="store_true", default=None if defaults else argparse.SUPPRESS,
                      help="all nodes in this process over the inprocess transport")
    mode.add_argument("--separate", dest="composed", action="store_false",
                      default=None if defaults else argparse.SUPPRESS,
                      help="one process per node over DDS (overrides the graph's default)")
    parser.add_argument("--transport", help="transport of separate processes: dds (default, or "
                        "$DEEPMIMIC_TRANSPORT) or rclpy; also transport:=NAME",
                        **({"default": None} if defaults else keep))
    parser.add_argument("--grace", type=float, help="seconds between SIGINT and SIGTERM (default 5)",
                        **({"default": 5.0} if defaults else keep))
    parser.add_argument("--show-args", action="store_true", help="print the arguments and nodes, start nothing",
                        **({} if defaults else keep))


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    """Register ``launch``."""
    launch = subparsers.add_parser("launch", help="start a node graph (config/graphs/GRAPH.yaml)")
    _add_options(launch)
    launch.add_argument("graph", help="graph name (deploy, train) or a graph YAML file")
    launch.add_argument("arguments", nargs=argparse.REMAINDER, metavar="name:=value ...",
                        help="launch arguments (options may come among them)")
    launch.set_defaults(handler=run_launch)


def _options_among_arguments(args: argparse.Namespace) -> argparse.Namespace:
    """Options given after GRAPH (argparse leaves them in the remainder) applied to ``args``."""
    parser = argparse.ArgumentParser(prog="deepmimic launch GRAPH")
    _add_options(parser, defaults=False)
    parser.add_argument("assignments", nargs="*")
    late = parser.parse_intermixed_args(args.arguments)
    for key, value in vars(late).items():
        setattr(args, key, value)
    args.arguments = [a for a in late.assignments if not a.startswith("transport:=")]
    chosen = [a.split(":=", 1)[1] for a in late.assignments if a.startswith("transport:=")]
    if chosen:  # `transport:=rclpy`, as ROS 2 users write launch arguments
        args.transport = chosen[-1]
    args.transport = args.transport or os.environ.get("DEEPMIMIC_TRANSPORT") or "dds"
    return args


class _Printer:
    """Writes ``[name] line`` to a stream, one whole line at a time, from any thread."""

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream
        self.lock = threading.Lock()

    def line(self, name: str, text: str) -> None:
        with self.lock:
            self.stream.write(f"[{name}] {text.rstrip()}\n")
            self.stream.flush()


def run_launch(args: argparse.Namespace) -> int:
    """Load the graph and run it."""
    from deepmimic.cli import CommandError
    from deepmimic.graph import GraphError, find_graph, load_graph, parse_assignments

    args = _options_among_arguments(args)
    try:
        graph = load_graph(find_graph(args.graph), parse_assignments(args.arguments))
    except GraphError as error:
        raise CommandError(str(error)) from error
    if not graph.nodes:
        raise CommandError(f"{graph.path}: the graph has no nodes")
    from deepmimic.launch_checks import check_arguments

    check_arguments({n: a.check for n, a in graph.arguments.items() if a.check}, graph.values)
    composed = graph.composed if args.composed is None else args.composed
    if args.show_args:
        for name, value in graph.values.items():
            print(f"{name}:={value}  ({graph.arguments[name].description})")
        for spec in graph.nodes:
            print(f"{spec.name}: python -m {spec.module} {' '.join(spec.argv(args.transport, '<params>'))}")
        return 0
    printer = _Printer(sys.stdout)
    if composed:
        return run_composed(graph.nodes, printer)
    return run_processes(graph.nodes, printer, transport=args.transport, grace_s=args.grace)


# Separate processes ------------------------------------------------------------------------------
def _pump(process: subprocess.Popen, name: str, printer: _Printer) -> None:
    for line in process.stdout:
        printer.line(name, line)


def _die_with_parent(parent_pid: int) -> Callable[[], None]:
    """A ``preexec_fn``: the child gets SIGTERM when the launcher dies (Linux prctl), even by SIGKILL.

    libc is loaded here, in the launcher: the forked child only makes the call (no dlopen after fork).
    """
    prctl = ctypes.CDLL(None, use_errno=True).prctl if sys.platform.startswith("linux") else None

    def preexec() -> None:
        if prctl is not None:
            prctl(_PR_SET_PDEATHSIG, int(signal.SIGTERM), 0, 0, 0)
        if os.getppid() != parent_pid:  # the launcher died before prctl took effect
            os._exit(1)

    return preexec


def _start(spec: Any, command: list[str], env: dict[str, str], printer: _Printer) -> tuple[subprocess.Popen, Any]:
    """Start one node process and the thread that prefixes its output lines."""
    process = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                               stdin=subprocess.DEVNULL, text=True, bufsize=1, start_new_session=True,
                               preexec_fn=_die_with_parent(os.getpid()))
    printer.line("launch", f"started {spec.name} (pid {process.pid}): python -m {spec.module}")
    pump = threading.Thread(target=_pump, args=(process, spec.name, printer), daemon=True)
    pump.start()
    return process, pump


def run_processes(specs: list[Any], printer: _Printer, *, transport: str = "dds", grace_s: float = 5.0) -> int:
    """Start one process per node, wait, respawn or stop them all on a signal or a failure; the exit status."""
    import yaml

    stopping = threading.Event()

    def on_signal(signum: int, _frame: Any) -> None:
        if not stopping.is_set():
            printer.line("launch", f"{signal.Signals(signum).name}: stopping the graph")
        stopping.set()

    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
    processes: dict[str, subprocess.Popen] = {}
    pumps = []
    failed = False
    with tempfile.TemporaryDirectory(prefix="deepmimic_launch_") as folder:
        try:
            env = dict(os.environ, PYTHONUNBUFFERED="1", DEEPMIMIC_TRANSPORT=transport)
            commands, by_name = {}, {spec.name: spec for spec in specs}
            for spec in specs:
                params = Path(folder) / f"{spec.name}.yaml"
                params.write_text(yaml.safe_dump(spec.parameter_file_data(), sort_keys=False), encoding="utf-8")
                commands[spec.name] = [sys.executable, "-m", spec.module, *spec.argv(transport, params)]
                processes[spec.name], pump = _start(spec, commands[spec.name], env, printer)
                pumps.append(pump)
            done: set[str] = set()
            respawn_at: dict[str, float] = {}
            while not stopping.is_set() and len(done) < len(processes):
                for name, process in processes.items():
                    code = process.poll()
                    if code is None or name in done:
                        continue
                    spec = by_name[name]
                    if spec.respawn:
                        if name not in respawn_at:
                            printer.line("launch", f"{name} exited (status {code}): respawning in "
                                                   f"{spec.respawn_delay:g} s")
                            respawn_at[name] = time.monotonic() + spec.respawn_delay
                        elif time.monotonic() >= respawn_at[name]:
                            del respawn_at[name]
                            processes[name], pump = _start(spec, commands[name], env, printer)
                            pumps.append(pump)
                        continue
                    done.add(name)
                    if code != 0:
                        printer.line("launch", f"{name} died (exit status {code}): stopping the graph")
                        failed = True
                        stopping.set()
                    elif spec.required:
                        printer.line("launch", f"{name} (required) finished: stopping the graph")
                        stopping.set()
                    else:
                        printer.line("launch", f"{name} finished")
                time.sleep(0.05)
        finally:
            _stop_processes(processes, printer, grace_s)
            for pump in pumps:
                pump.join(timeout=2.0)
            for sig, handler in previous.items():
                signal.signal(sig, handler)
    return 1 if failed else 0


def _stop_processes(processes: dict[str, subprocess.Popen], printer: _Printer, grace_s: float) -> None:
    """SIGINT to every live child, SIGTERM after ``grace_s``, SIGKILL after as long again."""
    for sig, wait_s in ((signal.SIGINT, grace_s), (signal.SIGTERM, grace_s), (signal.SIGKILL, 5.0)):
        alive = {name: p for name, p in processes.items() if p.poll() is None}
        if not alive:
            return
        for name, process in alive.items():
            if sig is not signal.SIGINT:
                printer.line("launch", f"{name} still running: sending {sig.name}")
            with contextlib.suppress(ProcessLookupError):
                process.send_signal(sig)
        deadline = time.monotonic() + wait_s
        while time.monotonic() < deadline and any(p.poll() is None for p in alive.values()):
            time.sleep(0.05)


# Composed ----------------------------------------------------------------------------------------
class _ThreadPrefixed(io.TextIOBase):
    """A stream that prefixes each line with the name of the node thread that wrote it."""

    def __init__(self, printer: _Printer, names: dict[int, str]) -> None:
        self.printer, self.names = printer, names
        self.partial: dict[int, str] = {}

    def writable(self) -> bool:
        return True

    def write(self, text: str) -> int:
        ident = threading.get_ident()
        buffer = self.partial.get(ident, "") + text
        *lines, rest = buffer.split("\n")
        name = self.names.get(ident, "launch")
        for line in lines:
            self.printer.line(name, line)
        self.partial[ident] = rest
        return len(text)

    def flush(self) -> None:
        pass


def run_composed(specs: list[Any], printer: _Printer) -> int:
    """Run every node's ``main`` in a thread of this process over the inprocess transport; the exit status."""
    import importlib

    import yaml
    from deepmimic_transport.inprocess import default_bus

    os.environ["DEEPMIMIC_TRANSPORT"] = "inprocess"
    errors: dict[str, str] = {}
    finished: list[str] = []
    thread_names: dict[int, str] = {}
    stopping = threading.Event()
    stream = _ThreadPrefixed(printer, thread_names)
    saved = sys.stdout, sys.stderr
    mains = {spec.name: importlib.import_module(spec.module).main for spec in specs}

    def run(spec: Any, argv: list[str]) -> None:
        thread_names[threading.get_ident()] = spec.name
        try:
            mains[spec.name](argv)
        except SystemExit as exit_:
            if exit_.code not in (None, 0):
                errors[spec.name] = f"exit status {exit_.code}"
        except BaseException:
            errors[spec.name] = traceback.format_exc()
        finally:
            finished.append(spec.name)
            if spec.name in errors or spec.required:
                stopping.set()

    previous = signal.signal(signal.SIGTERM, lambda *_: stopping.set())
    with tempfile.TemporaryDirectory(prefix="deepmimic_launch_") as folder:
        threads = []
        printer.stream = saved[0]
        sys.stdout = sys.stderr = stream
        try:
            for spec in specs:
                params = Path(folder) / f"{spec.name}.yaml"
                params.write_text(yaml.safe_dump(spec.parameter_file_data(), sort_keys=False), encoding="utf-8")
                thread = threading.Thread(target=run, args=(spec, spec.argv("inprocess", params)),
                                          name=spec.name, daemon=True)
                thread.start()
                threads.append(thread)
                printer.line("launch", f"started {spec.name} (composed): {spec.module}")
            try:
                while not stopping.is_set() and any(t.is_alive() for t in threads):
                    time.sleep(0.05)
            except KeyboardInterrupt:
                printer.line("launch", "SIGINT: stopping the graph")
            for node in list(default_bus()._nodes):
                node.shutdown()
            for thread in threads:
                thread.join(timeout=10.0)
        finally:
            sys.stdout, sys.stderr = saved
            signal.signal(signal.SIGTERM, previous)
    for name, error in errors.items():
        for line in error.splitlines():
            printer.line("launch", f"{name} failed: {line}")
    return 1 if errors else 0
