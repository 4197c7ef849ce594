from glob import glob

from setuptools import find_packages, setup

package_name = "quadruped_bridge"

setup(
    name=package_name,
    version="0.1.0",
    packages=find_packages(exclude=["test"]),
    data_files=[
        ("share/ament_index/resource_index/packages", ["resource/" + package_name]),
        ("share/" + package_name, ["package.xml"]),
        ("share/" + package_name + "/launch", glob("launch/*.py")),
        ("share/" + package_name + "/config", glob("config/*.yaml")),
    ],
    package_data={package_name: ["assets/*"]},
    include_package_data=True,
    install_requires=["setuptools"],
    zip_safe=False,
    maintainer="FoG stack maintainers",
    maintainer_email="maintainers@fog-stack.dev",
    description="Robot I/O for the FoG stack: Go2 and MuJoCo simulator backends, safety layer, recorder, bag replay.",
    license="Apache-2.0",
    extras_require={"test": ["pytest"]},
    entry_points={
        "console_scripts": [
            "sim_node = quadruped_bridge.sim_node:main",
            "go2_bridge_node = quadruped_bridge.go2_bridge_node:main",
            "fake_go2 = quadruped_bridge.fake_go2:main",
            "camera_node = quadruped_bridge.camera_node:main",
            "recorder_node = quadruped_bridge.recorder_node:main",
            "bag_recovery = quadruped_bridge.bag_recovery:main",
            "replay_node = quadruped_bridge.replay_node:main",
            "exploration_node = quadruped_bridge.exploration_node:main",
            "teleop = quadruped_bridge.teleop:main",
        ]
    },
)
