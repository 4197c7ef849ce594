from setuptools import find_packages, setup

package_name = "fog_contract"

setup(
    name=package_name,
    version="0.1.0",
    packages=find_packages(exclude=["test"]),
    data_files=[
        ("share/ament_index/resource_index/packages", ["resource/" + package_name]),
        ("share/" + package_name, ["package.xml"]),
    ],
    install_requires=["setuptools"],
    zip_safe=False,
    maintainer="FoG stack maintainers",
    maintainer_email="maintainers@fog-stack.dev",
    description="The robot contract of the FoG stack (pure Python): joints, topics, proprio features, image resize.",
    license="Apache-2.0",
    extras_require={"test": ["pytest"]},
    entry_points={"console_scripts": []},
)
