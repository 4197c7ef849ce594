import os
from glob import glob

from setuptools import find_packages, setup

package_name = "fog_policy"


def artifact_files():
    """Every file under artifacts/, folder by folder (a policy and its world_model/ bundle)."""
    out = []
    for root, _dirs, files in sorted(os.walk("artifacts")):
        files = sorted(os.path.join(root, f) for f in files)
        if files:
            out.append(("share/" + package_name + "/" + root, files))
    return out


setup(
    name=package_name,
    version="0.1.0",
    packages=find_packages(exclude=["test"]),
    data_files=[
        ("share/ament_index/resource_index/packages", ["resource/" + package_name]),
        ("share/" + package_name, ["package.xml"]),
        ("share/" + package_name + "/launch", glob("launch/*.py")),
        ("share/" + package_name + "/config", glob("config/*.yaml")),
        # the bundled small policies (one folder per artifact, with its world_model/ dream bundle if any)
        *artifact_files(),
    ],
    package_data={package_name: ["assets/*"]},
    include_package_data=True,
    install_requires=["setuptools"],
    zip_safe=False,
    maintainer="FoG stack maintainers",
    maintainer_email="maintainers@fog-stack.dev",
    description="Deployment of FoG policies: locomotion controller, policy runtime and nodes, deploy.launch.py.",
    license="Apache-2.0",
    extras_require={"test": ["pytest"]},
    entry_points={
        "console_scripts": [
            "locomotion_node = fog_policy.locomotion_node:main",
            "policy_node = fog_policy.policy_node:main",
            "deploy = fog_policy.deploy:main",
            "dream_node = fog_policy.dream_node:main",
            "collect = fog_policy.collect:main",
        ]
    },
)
