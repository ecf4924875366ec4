"""deepmimic_mocap: motion data, kinematics, retargeting and the batched motion library."""

from .characters import Character, load_character
from .errors import MotionFormatError
from .formats import load_motion
from .kinematics import forward_kinematics, forward_kinematics_dof
from .motion import LoopMode, Motion
from .skeleton import JointType, Skeleton

__all__ = [
    "Character", "JointType", "LoopMode", "Motion", "MotionFormatError", "Skeleton",
    "forward_kinematics", "forward_kinematics_dof", "load_character", "load_motion",
]
