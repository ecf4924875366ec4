"""deepmimic_interfaces: the project's own messages and services, mirrored from the package's files.

The source of truth is ``src/deepmimic_interfaces/msg/*.msg`` and ``srv/*.srv`` (what ``colcon``
builds for ROS 2); these classes repeat them field by field for the transports that run without
ROS 2, and ``tests/transport/test_messages.py`` fails when the two disagree. Units and shapes are
documented in the ``.msg``/``.srv`` files.
"""

from dataclasses import dataclass, field

from cyclonedds.idl import IdlStruct
from cyclonedds.idl import types as idl

from .base import ServiceType, dds_type_name
from .geometry_msgs import Pose
from .numpy_cdr import numpy_cdr
from .std_msgs import Header

PACKAGE = "deepmimic_interfaces"


@dataclass
class ReferenceFrame(IdlStruct, typename=dds_type_name(f"{PACKAGE}/msg/ReferenceFrame")):
    """One frame of the reference motion (reference node -> policy node)."""

    header: Header = field(default_factory=Header)
    clip_name: str = ""
    phase: idl.float64 = 0.0
    clip_time: idl.float64 = 0.0
    root_pose: Pose = field(default_factory=Pose)
    joint_names: idl.sequence[str] = field(default_factory=list)
    joint_positions: idl.sequence[idl.float64] = field(default_factory=list)
    joint_velocities: idl.sequence[idl.float64] = field(default_factory=list)


@numpy_cdr
@dataclass
class BatchedAction(IdlStruct, typename=dds_type_name(f"{PACKAGE}/msg/BatchedAction")):
    """Actions for every environment, or a reset request (trainer node -> simulator node, train mode).

    Large arrays: written with NumPy (``numpy_cdr``), so ``actions`` may be an ndarray.
    """

    header: Header = field(default_factory=Header)
    step: idl.uint64 = 0
    reset: bool = False
    num_envs: idl.uint32 = 0
    action_dim: idl.uint32 = 0
    actions: idl.sequence[idl.float32] = field(default_factory=list)


@numpy_cdr
@dataclass
class BatchedTransition(IdlStruct, typename=dds_type_name(f"{PACKAGE}/msg/BatchedTransition")):
    """One control step of all environments, answering one BatchedAction (simulator node -> trainer node).

    Large arrays: written with NumPy (``numpy_cdr``), so the array fields may be ndarrays.
    """

    header: Header = field(default_factory=Header)
    step: idl.uint64 = 0
    num_envs: idl.uint32 = 0
    observation_dim: idl.uint32 = 0
    action_dim: idl.uint32 = 0
    control_dt: idl.float64 = 0.0
    observations: idl.sequence[idl.float32] = field(default_factory=list)
    rewards: idl.sequence[idl.float32] = field(default_factory=list)
    terminated: idl.sequence[bool] = field(default_factory=list)
    truncated: idl.sequence[bool] = field(default_factory=list)
    finished_episode_steps: idl.sequence[idl.uint32] = field(default_factory=list)
    diverged: idl.uint32 = 0
    metric_names: idl.sequence[str] = field(default_factory=list)
    metrics: idl.sequence[idl.float32] = field(default_factory=list)
    log_names: idl.sequence[str] = field(default_factory=list)
    log_values: idl.sequence[idl.float32] = field(default_factory=list)


@dataclass
class GetMotion_Request(IdlStruct, typename=dds_type_name(f"{PACKAGE}/srv/GetMotion_Request")):  # noqa: N801
    """Which clip, at which sample rate (0 = the clip's own)."""

    clip_name: str = ""
    sample_rate: idl.float64 = 0.0


@dataclass
class GetMotion_Response(IdlStruct, typename=dds_type_name(f"{PACKAGE}/srv/GetMotion_Response")):  # noqa: N801
    """The whole clip, frames first."""

    success: bool = False
    message: str = ""
    sample_rate: idl.float64 = 0.0
    duration: idl.float64 = 0.0
    loop: bool = False
    joint_names: idl.sequence[str] = field(default_factory=list)
    num_frames: idl.uint32 = 0
    root_poses: idl.sequence[Pose] = field(default_factory=list)
    joint_positions: idl.sequence[idl.float64] = field(default_factory=list)
    joint_velocities: idl.sequence[idl.float64] = field(default_factory=list)


@dataclass
class ComputeAction_Request(IdlStruct, typename=dds_type_name(f"{PACKAGE}/srv/ComputeAction_Request")):  # noqa: N801
    """A batch of observations, row-major."""

    num_envs: idl.uint32 = 0
    observation_dim: idl.uint32 = 0
    observations: idl.sequence[idl.float32] = field(default_factory=list)


@dataclass
class ComputeAction_Response(IdlStruct, typename=dds_type_name(f"{PACKAGE}/srv/ComputeAction_Response")):  # noqa: N801
    """The actions for that batch, row-major."""

    success: bool = False
    message: str = ""
    action_dim: idl.uint32 = 0
    actions: idl.sequence[idl.float32] = field(default_factory=list)


@dataclass
class LoadPolicy_Request(IdlStruct, typename=dds_type_name(f"{PACKAGE}/srv/LoadPolicy_Request")):  # noqa: N801
    """Checkpoint file to load."""

    path: str = ""


@dataclass
class LoadPolicy_Response(IdlStruct, typename=dds_type_name(f"{PACKAGE}/srv/LoadPolicy_Response")):  # noqa: N801
    """Whether it loaded, and what or why not."""

    success: bool = False
    message: str = ""


@dataclass
class Reset_Request(IdlStruct, typename=dds_type_name(f"{PACKAGE}/srv/Reset_Request")):  # noqa: N801
    """Environments to reset (empty = all)."""

    env_ids: idl.sequence[idl.uint32] = field(default_factory=list)


@dataclass
class Reset_Response(IdlStruct, typename=dds_type_name(f"{PACKAGE}/srv/Reset_Response")):  # noqa: N801
    """Whether the reset happened."""

    success: bool = False
    message: str = ""


GetMotion = ServiceType(f"{PACKAGE}/srv/GetMotion", GetMotion_Request, GetMotion_Response)
ComputeAction = ServiceType(f"{PACKAGE}/srv/ComputeAction", ComputeAction_Request, ComputeAction_Response)
LoadPolicy = ServiceType(f"{PACKAGE}/srv/LoadPolicy", LoadPolicy_Request, LoadPolicy_Response)
Reset = ServiceType(f"{PACKAGE}/srv/Reset", Reset_Request, Reset_Response)
