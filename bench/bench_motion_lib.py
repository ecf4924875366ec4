"""Throughput of ``MotionLib.get_frames`` on the NumPy and torch backends.

Usage: ``python bench/bench_motion_lib.py [--out bench/results/motion_lib.json] [--repeats 200]``

Every call samples N environments spread over several humanoid clips at times from half a
second before the start to 2.5 cycles in (wrapping, clamping and drift all exercised). Each
configuration is warmed up, then timed call by call; the table shows the median. The JSON also
records the machine, library versions, torch's thread count and how busy the other processes kept
the CPUs while timing (``others_cpu_share``, from ``/proc/stat``): on a shared 2-core machine a
busy neighbour slows torch's two threads badly, so read timings together with it
(``--wait-idle 300 --retries 5`` waits for quiet and re-times configurations that were disturbed).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

from machine import cpu_model  # bench/machine.py (the script folder is on sys.path)

import numpy as np
import torch

from deepmimic_mocap import load_motion
from deepmimic_mocap.motion_lib import MotionLib

CLIPS = ["walk", "run", "jog", "backflip", "roll", "getup_faceup", "jump", "spinkick", "cartwheel", "crawl"]
# name: (device, dtype, torch threads; None keeps torch's default)
BACKENDS = {"numpy": (None, None, None), "numpy-f32": (None, np.float32, None), "torch-cpu": ("cpu", None, None),
            "torch-cpu-1thread": ("cpu", None, 1), "torch-cuda": ("cuda", None, None)}


def _cpu_busy_jiffies() -> int | None:
    """Busy jiffies of all CPUs together (Linux), to estimate how busy other processes were."""
    try:
        fields = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    except (OSError, ValueError, IndexError):
        return None
    return sum(fields[:3]) + sum(fields[5:7])  # user, nice, system, irq, softirq (guest is inside user)


def _wait_for_idle(limit_s: float, threshold: float = 0.15) -> float:
    """Wait (at most ``limit_s``) until the CPUs were less than ``threshold`` busy for a second."""
    start = time.perf_counter()
    ticks = os.sysconf("SC_CLK_TCK")
    while time.perf_counter() - start < limit_s:
        before = _cpu_busy_jiffies()
        time.sleep(1.0)
        after = _cpu_busy_jiffies()
        if before is None or after is None or (after - before) / ticks / (os.cpu_count() or 1) < threshold:
            break
    return time.perf_counter() - start


def _batches(lib: MotionLib, n: int, count: int, seed: int) -> list[tuple]:
    """``count`` pre-made (motion_ids, times) batches on the library's backend."""
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(count):
        ids = rng.integers(0, lib.num_motions, n)
        times = rng.uniform(-0.5, 2.5, n) * lib.durations[ids]
        if lib.device is None:
            out.append((ids, times.astype(lib.dtype)))
        else:
            out.append((torch.as_tensor(ids, device=lib.device), torch.as_tensor(times, dtype=lib.dtype,
                                                                                 device=lib.device)))
    return out


def _sync(lib: MotionLib) -> None:
    if lib.device is not None and torch.device(lib.device).type == "cuda":
        torch.cuda.synchronize()


def time_get_frames(lib: MotionLib, n: int, repeats: int, warmup: int, min_time: float) -> dict:
    """Per-call wall times of ``get_frames`` for ``n`` environments; summary in ms and samples/s.

    Runs ``repeats`` calls, more (up to 50 times as many) until ``min_time`` seconds have passed.
    """
    batches = _batches(lib, n, 8, seed=n)
    for i in range(warmup):
        lib.get_frames(*batches[i % len(batches)])
    _sync(lib)
    ticks = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
    busy0, cpu0, wall0 = _cpu_busy_jiffies(), time.process_time(), time.perf_counter()
    times: list[float] = []
    while len(times) < repeats or (time.perf_counter() - wall0 < min_time and len(times) < 50 * repeats):
        ids, t = batches[len(times) % len(batches)]
        start = time.perf_counter()
        lib.get_frames(ids, t)
        _sync(lib)
        times.append(time.perf_counter() - start)
    wall, cpu, busy1 = time.perf_counter() - wall0, time.process_time() - cpu0, _cpu_busy_jiffies()
    ms = np.array(times) * 1e3
    # Jiffies are 10 ms: the share means little for runs much shorter than a second.
    others = None if busy0 is None or busy1 is None or wall < 0.2 else \
        min(1.0, max(0.0, ((busy1 - busy0) / ticks - cpu) / (wall * (os.cpu_count() or 1))))
    return {"n": n, "median_ms": float(np.median(ms)), "min_ms": float(ms.min()),
            "p10_ms": float(np.percentile(ms, 10)), "p90_ms": float(np.percentile(ms, 90)),
            "samples_per_s": float(n / (np.median(ms) * 1e-3)), "calls": len(times),
            "others_cpu_share": None if others is None else round(others, 3)}


def machine_info() -> dict:
    return {
        "cpu_count": os.cpu_count(), "cpu_model": cpu_model(), "platform": platform.platform(),
        "python": sys.version.split()[0], "numpy": np.__version__, "torch": torch.__version__,
        "torch_num_threads": torch.get_num_threads(), "cuda": torch.cuda.is_available(),
        "loadavg_start": list(os.getloadavg()) if hasattr(os, "getloadavg") else None,
        "malloc_env": {k: v for k, v in os.environ.items() if k.startswith("MALLOC_")},
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("bench/results/motion_lib.json"), help="JSON results file")
    parser.add_argument("--repeats", type=int, default=200, help="timed calls per configuration")
    parser.add_argument("--warmup", type=int, default=20, help="untimed calls first")
    parser.add_argument("--min-time", type=float, default=1.0, help="time at least this many seconds per configuration")
    parser.add_argument("--sizes", type=lambda s: [int(v) for v in s.split(",")], default=[1, 256, 4096],
                        help="environment counts, comma separated")
    default_backends = "numpy,torch-cpu" + (",torch-cuda" if torch.cuda.is_available() else "")
    parser.add_argument("--backends", default=default_backends, help=f"comma separated, of {', '.join(BACKENDS)}")
    parser.add_argument("--wait-idle", type=float, default=0.0, metavar="S",
                        help="before each configuration wait up to S seconds for the other processes to go quiet")
    parser.add_argument("--retries", type=int, default=0,
                        help="time a configuration again (after --wait-idle) while others kept the CPUs >20%% busy")
    args = parser.parse_args(argv)

    motions = [load_motion(name) for name in CLIPS]
    info = machine_info()
    results = []
    print(f"{len(motions)} clips, {sum(m.num_frames for m in motions)} frames; {info['cpu_count']} CPUs "
          f"({info['cpu_model']}), torch {info['torch']} with {info['torch_num_threads']} threads")
    print(f"{'backend':<17} {'dtype':<8} {'N':>6} {'median ms':>10} {'p10 ms':>8} {'p90 ms':>8} "
          f"{'samples/s':>12} {'others busy':>11}")
    for backend in args.backends.split(","):
        device, dtype, threads = BACKENDS[backend]
        lib = MotionLib(motions, device=device, dtype=dtype)
        torch.set_num_threads(threads or info["torch_num_threads"])
        for n in args.sizes:
            for attempt in range(args.retries + 1):
                waited = _wait_for_idle(args.wait_idle) if args.wait_idle > 0 else 0.0
                row = {"backend": backend, "dtype": str(lib.dtype).replace("torch.", ""),
                       "torch_threads": torch.get_num_threads(),
                       **time_get_frames(lib, n, args.repeats, args.warmup, args.min_time),
                       "waited_s": round(waited, 1),
                       "attempt": attempt + 1}
                if (row["others_cpu_share"] or 0.0) <= 0.2:
                    break
            results.append(row)
            share = "-" if row["others_cpu_share"] is None else f"{100 * row['others_cpu_share']:.0f}%"
            print(f"{backend:<17} {row['dtype']:<8} {n:>6} {row['median_ms']:>10.3f} {row['p10_ms']:>8.3f} "
                  f"{row['p90_ms']:>8.3f} {row['samples_per_s']:>12.0f} {share:>11}")
    info["loadavg_end"] = list(os.getloadavg()) if hasattr(os, "getloadavg") else None
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"clips": CLIPS, "machine": info, "results": results}, indent=2) + "\n")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
