"""``deepmimic train``: PPO on a clip from a YAML experiment file, with progress, checkpoints and resume."""

from __future__ import annotations

import argparse
import os
import sys
from dataclasses import replace
from pathlib import Path

from deepmimic.arg_types import positive_float, positive_int


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    """Register ``train``."""
    train = subparsers.add_parser("train", help="train an imitation policy with PPO")
    train.add_argument("--config", required=True, help="experiment YAML (config/humanoid3d_walk.yaml)")
    train.add_argument("--run-dir", help="where checkpoints and logs go (default runs/<config name>)")
    train.add_argument("--iterations", type=int, help="train until this many iterations (default: the config's)")
    train.add_argument("--num-envs", type=int, help="override env.num_envs")
    train.add_argument("--seed", type=int, help="override train.seed")
    train.add_argument("--backend", help="override env.backend (mujoco, mujoco_warp)")
    train.add_argument("--device", help="torch/Warp device of the environment and the networks (cpu, cuda)")
    train.add_argument("--resume", action="store_true", help="continue from the run folder's newest checkpoint")
    train.add_argument("--init-from", metavar="CKPT",
                       help="start the actor from this checkpoint or exported policy (fine-tuning a related clip); "
                       "the critic, optimiser and exploration noise start fresh. Ignored when --resume finds a "
                       "checkpoint")
    train.add_argument("--no-eval", action="store_true", help="skip the evaluation at the end")
    train.add_argument("--eval-seconds", type=positive_float, default=20.0, help="length of the final evaluation")
    train.add_argument("--nproc", type=positive_int, help="train with this many processes on this host "
                       "(torch.distributed; env.num_envs is split among them); under torchrun, leave it out")
    train.add_argument("--threads-per-rank", type=positive_int,
                       help="torch and MuJoCo threads of each process (default: this host's cores / processes)")
    train.set_defaults(handler=run_train)
    global _PARSER
    _PARSER = train


_PARSER: argparse.ArgumentParser  # set by add_parser; the worker command line is rebuilt from it


def _postfix(record: dict) -> dict:
    shown = {"sps": f"{record['samples_per_s']:.0f}", "r/step": f"{record['reward_per_step']:.3f}"}
    if "episode_length_s" in record:
        shown["ep_s"] = f"{record['episode_length_s']:.1f}"
    if "joint_rotation_error_rad" in record:
        shown["rot_err"] = f"{record['joint_rotation_error_rad']:.3f}"
    return shown


def experiment_for(args: argparse.Namespace):
    """The experiment file with the command line's overrides, every value checked (ConfigError: one line)."""
    from deepmimic_policy.config import load_experiment, override

    overrides = {"env.num_envs": args.num_envs, "train.seed": args.seed, "train.max_iterations": args.iterations,
                 "env.backend": args.backend, "env.device": args.device}
    flags = {"env.num_envs": "--num-envs", "train.seed": "--seed", "train.max_iterations": "--iterations",
             "env.backend": "--backend", "env.device": "--device"}
    cfg = load_experiment(args.config)
    for key, value in overrides.items():
        if value is not None:
            cfg = override(cfg, {key: value}, where=flags[key])
    return cfg


def run_train(args: argparse.Namespace) -> int:
    """Train, checkpoint every ``save_interval`` iterations, then evaluate the final policy."""
    from deepmimic_policy.checkpoint import CheckpointError
    from deepmimic_policy.run_folder import open_run_folder
    from deepmimic_policy.trainer import Trainer
    from tqdm import tqdm

    from deepmimic.cli import CommandError
    from deepmimic_policy import distributed

    cfg = experiment_for(args)
    run_dir = Path(args.run_dir or Path("runs") / Path(args.config).stem)
    world = int(os.environ.get("WORLD_SIZE", "1")) if distributed.launched_by_torchrun() else (args.nproc or 1)
    if cfg.env.num_envs < world:
        raise CommandError(f"{cfg.env.num_envs} environments (env.num_envs, --num-envs) cannot be split among "
                           f"{world} processes: every process needs at least one")
    if int(os.environ.get("RANK", "0")) == 0:
        open_run_folder(run_dir, args.resume)  # refuse a mixed run before building (or launching) anything
    if world > 1 and not distributed.launched_by_torchrun():
        return distributed.launch(world, _argv_without(args, "nproc"))
    target = cfg.train.max_iterations
    try:
        rank = distributed.init(cfg.env.device, args.threads_per_rank)
    except ValueError as err:  # --device cuda without a GPU
        raise CommandError(str(err)) from None
    if rank.distributed:
        cfg = replace(cfg, env=replace(cfg.env, device=rank.device))
        if not rank.is_main:
            sys.stdout = open(os.devnull, "w")  # noqa: SIM115 - rank 0 alone reports
        trainer = distributed.DistributedTrainer(cfg, run_dir, rank, resume=args.resume)
        print(f"{rank.world_size} ranks ({rank.backend}), {rank.threads} thread(s) each, "
              f"{cfg.env.num_envs} environments in all")
    else:
        trainer = Trainer(cfg, run_dir, device=cfg.env.device, resume=args.resume)
    if args.resume and trainer.resume():
        print(f"resumed {run_dir} at iteration {trainer.iteration} ({trainer.samples} samples)")
    elif args.init_from:
        try:
            trainer.start_actor_from(args.init_from)
        except CheckpointError as err:
            trainer.close()
            raise CommandError(str(err)) from None
        print(f"actor from {args.init_from} (iteration {trainer.started_from['iteration']}, "
              f"{trainer.started_from['samples']} samples)")
    try:
        with tqdm(total=target, initial=trainer.iteration, unit="it", desc=run_dir.name, dynamic_ncols=True,
                  disable=not rank.is_main) as bar:
            def show(record: dict) -> None:
                bar.update(1)
                bar.set_postfix(_postfix(record))

            checkpoint = trainer.run(target, on_iteration=show)
    finally:
        trainer.close()
        distributed.shutdown()
    if not rank.is_main:
        return 0
    print(f"checkpoint {checkpoint}: {trainer.samples} samples in {trainer.wall_s / 60:.1f} min")
    if not args.no_eval:
        from deepmimic_policy.evaluate import evaluate_checkpoint

        result = evaluate_checkpoint(checkpoint, seconds=args.eval_seconds, out_dir=run_dir / "eval")
        print(f"evaluation: {result['metrics_path']} and {result.get('video_path', 'no video')}")
    return 0


def _argv_without(args: argparse.Namespace, skip: str) -> list[str]:
    """``train`` and its options as given (those left at their defaults omitted), less ``--<skip>``."""
    argv = ["train"]
    for action in _PARSER._actions:
        if not action.option_strings or action.dest in (skip, "help"):
            continue
        value = getattr(args, action.dest, None)
        if isinstance(action, argparse._StoreTrueAction):
            argv += [action.option_strings[0]] if value else []
        elif value is not None and value != action.default:
            argv += [action.option_strings[0], str(value)]
    return argv
