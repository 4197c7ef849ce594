#!/bin/bash
# ROS 2 Jazzy, then the FoG workspace, then the command (ros2 launch ... by default).
# The project's network policy (quadruped_bridge/network_policy.py), as in every entry point: the ROS
# graph on the project's domain (FOG_ROS_DOMAIN_ID, default 42) with localhost discovery, unless
# ROS_DOMAIN_ID / ROS_AUTOMATIC_DISCOVERY_RANGE are set or FOG_NETWORK=lan opens it to the subnet.
set -e
source /opt/ros/jazzy/setup.bash
source /ws/install/setup.bash
export ROS_DOMAIN_ID="${ROS_DOMAIN_ID:-${FOG_ROS_DOMAIN_ID:-42}}"
case "${FOG_NETWORK:-localhost}" in
    localhost) export ROS_AUTOMATIC_DISCOVERY_RANGE="${ROS_AUTOMATIC_DISCOVERY_RANGE:-LOCALHOST}" ;;
    lan) export ROS_AUTOMATIC_DISCOVERY_RANGE=SUBNET ;;
    *) echo "FOG_NETWORK=${FOG_NETWORK}: expected localhost or lan" >&2; exit 2 ;;
esac
unset ROS_LOCALHOST_ONLY
echo "[fog] ROS domain ${ROS_DOMAIN_ID}, discovery ${ROS_AUTOMATIC_DISCOVERY_RANGE}" >&2
exec "$@"
