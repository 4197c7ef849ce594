#!/bin/bash
# ROS 2 Jazzy, then the FoG workspace, then the command (ros2 launch ... by default).
set -e
source /opt/ros/jazzy/setup.bash
source /ws/install/setup.bash
exec "$@"
