#!/usr/bin/env bash
# Build src/deepmimic_interfaces for rclpy with ROS 2's own rosidl generators (ament_cmake, from the
# ros-kilted-* wheels of the `ros` extra) and install it into the virtual environment, which is the
# wheels' ament prefix: afterwards `from deepmimic_interfaces.msg import ReferenceFrame` works
# there, as after `colcon build` in a ROS 2 workspace. Needs cmake and a C/C++ compiler.
# Usage: scripts/build_ros_interfaces.sh VENV [BUILD_DIR]
set -euo pipefail
venv="$(cd "$1" && pwd)"
build="${2:-build/deepmimic_interfaces}"
here="$(cd "$(dirname "$0")/.." && pwd)"
for tool in cmake cc c++; do
  command -v "$tool" >/dev/null || { echo "build_ros_interfaces: $tool is missing (apt-get install cmake g++)" >&2; exit 2; }
done
mkdir -p "$build"
start=$(date +%s)
cmake -S "$here/src/deepmimic_interfaces" -B "$build" -DCMAKE_PREFIX_PATH="$venv" -DCMAKE_INSTALL_PREFIX="$venv" \
  -DPython3_EXECUTABLE="$venv/bin/python" -DBUILD_TESTING=OFF -DCMAKE_BUILD_TYPE=Release >"$build.log" 2>&1 \
  && cmake --build "$build" -j "$(nproc)" >>"$build.log" 2>&1 \
  && cmake --install "$build" >>"$build.log" 2>&1 \
  || { tail -40 "$build.log" >&2; echo "build_ros_interfaces: failed, see $build.log" >&2; exit 1; }
echo "deepmimic_interfaces built for rclpy in $(( $(date +%s) - start )) s"
