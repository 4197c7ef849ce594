"""`fog security init`: an SROS2 keystore for the robot stack, written with `cryptography`.

    fog security init --out keystore [--domain-id 42] [--days 365]
    ros2 launch fog_policy deploy.launch.py robot:=go2 ... security:=true keystore:=keystore

The layout is the one ROS 2's security (rcl, rmw_fastrtps) expects, as `ros2 security
create_keystore` + `create_enclave` write it:

    keystore/public/{ca,identity_ca,permissions_ca}.cert.pem     the CA (one CA for both roles)
    keystore/private/{ca,identity_ca,permissions_ca}.key.pem     its key (keep this off the robot)
    keystore/enclaves/governance.xml, governance.p7s              domain rules, signed by the CA
    keystore/enclaves/fog/<node>/                                 one enclave per node:
        cert.pem, key.pem                      the node's identity (CN=/fog/<node>), signed by the CA
        identity_ca.cert.pem, permissions_ca.cert.pem
        governance.p7s
        permissions.xml, permissions.p7s       what it may publish / subscribe, signed by the CA

Governance: no unauthenticated participants, join access control, discovery and liveliness
encrypted, RTPS messages signed, every topic with read/write access control and encrypted data.
Permissions follow the topic contract: only the policy (`/fog/fog_policy`) may publish cmd_vel,
only the locomotion node (`/fog/locomotion`) joint_commands; the bridges publish the robot's state
and serve its services; `/fog/monitor` (an operator's tools) may read everything and call
services but publishes no command. Everything not allowed is denied.
"""

from __future__ import annotations

import argparse
import datetime as dt
import fnmatch
import shutil
import sys
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path

from fog_contract import topics

ENCLAVES = {name: f"/fog/{name}" for name in (
    "go2_sim", "go2_bridge", "bag_replay", "camera", "locomotion", "fog_policy", "recorder", "monitor")}
"""Node name -> SROS2 enclave (the launch files pass `--ros-args --enclave` with these)."""

COMMON_PUBLISH = ["rt/rosout", "rt/parameter_events", "rt/diagnostics"]
COMMON_SUBSCRIBE = ["rt/parameter_events", "rt/clock"]
BRIDGE_STATE = ["joint_states", "imu/data", "camera/image_raw", "camera/camera_info", "clock", "episode/event",
                "sim/base_pose", "sim/base_twist", "sim/cube_pose", "sim/goal_pose", "sim/third_person/image_raw"]
SENSORS = ["joint_states", "imu/data", "camera/image_raw", "camera/camera_info", "episode/event", "clock"]


@dataclass(frozen=True)
class Grant:
    publish: tuple[str, ...] = ()
    """ROS names (relative) the node publishes; also allowed under any namespace."""
    subscribe: tuple[str, ...] = ()
    services: tuple[str, ...] = ()
    """ROS service names the node serves (it subscribes their requests, publishes their replies)."""
    calls_services: bool = False
    """May call any service (publish requests, read replies)."""
    read_all: bool = False


BRIDGE_SERVICES = ("quadruped_bridge/estop", "quadruped_bridge/release_estop", "quadruped_bridge/reset")
CONTRACT: dict[str, Grant] = {
    "go2_sim": Grant(publish=tuple(BRIDGE_STATE), subscribe=("joint_commands", "sim/goal_pose"),
                     services=BRIDGE_SERVICES + ("sim/reset", "sim/camera_enable")),
    "go2_bridge": Grant(publish=("joint_states", "imu/data"), subscribe=("joint_commands",),
                        services=BRIDGE_SERVICES + ("go2/release_sport_mode",)),
    "bag_replay": Grant(publish=tuple(BRIDGE_STATE) + ("replay/joint_commands", "replay/cmd_vel")),
    "camera": Grant(publish=("camera/image_raw", "camera/camera_info")),
    "locomotion": Grant(publish=("joint_commands",), subscribe=("joint_states", "imu/data", "cmd_vel")),
    "fog_policy": Grant(publish=("cmd_vel", "fog_policy/dry_run/cmd_vel", "fog_policy/dry_run/joint_commands"),
                        subscribe=tuple(SENSORS), services=("fog_policy/enable",)),
    "recorder": Grant(read_all=True),
    "monitor": Grant(read_all=True, calls_services=True),
}
"""The topic contract per node (enclave): who may publish and subscribe what."""

COMMAND_TOPICS = topics.COMMAND_TOPICS


def dds_topics(ros_names, prefix: str = "rt/") -> list[str]:
    """ROS names -> DDS topic expressions: the name and the name under any namespace."""
    out = []
    for name in ros_names:
        out += [f"{prefix}{name}", f"{prefix}*/{name}"]
    return out


def rules(node: str) -> tuple[list[str], list[str]]:
    """(publish, subscribe) DDS topic expressions of a node's enclave."""
    g = CONTRACT[node]
    pub = COMMON_PUBLISH + dds_topics(g.publish) + dds_topics([f"{s}Reply" for s in g.services], "rr/")
    sub = COMMON_SUBSCRIBE + dds_topics(g.subscribe) + dds_topics([f"{s}Request" for s in g.services], "rq/")
    # every node serves its own parameter services (rclpy): requests in, replies out
    pub += [f"rr/{node}/*", f"rr/*/{node}/*"]
    sub += [f"rq/{node}/*", f"rq/*/{node}/*"]
    if g.read_all:
        sub += ["rt/*"]
    if g.calls_services:
        pub += ["rq/*"]
        sub += ["rr/*"]
    return pub, sub


def may(permissions_xml: str, action: str, topic: str) -> bool:
    """Does a permissions document allow `action` ('publish' or 'subscribe') on DDS `topic`?
    (DDS-Security: the first matching rule decides; then the default.)"""
    root = ET.fromstring(permissions_xml)
    grant = root.find("permissions/grant")
    for rule in grant:
        if rule.tag not in ("allow_rule", "deny_rule"):
            continue
        for block in rule.findall(action):
            if any(fnmatch.fnmatchcase(topic, t.text) for t in block.findall("topics/topic")):
                return rule.tag == "allow_rule"
    return grant.findtext("default") == "ALLOW"


# ------------------------------------------------------------------------------ documents
def governance_xml(domains: tuple[int, int]) -> str:
    lo, hi = domains
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<dds xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"
     xsi:noNamespaceSchemaLocation="http://www.omg.org/spec/DDS-SECURITY/20170901/omg_shared_ca_governance.xsd">
  <domain_access_rules>
    <domain_rule>
      <domains><id_range><min>{lo}</min><max>{hi}</max></id_range></domains>
      <allow_unauthenticated_participants>false</allow_unauthenticated_participants>
      <enable_join_access_control>true</enable_join_access_control>
      <discovery_protection_kind>ENCRYPT</discovery_protection_kind>
      <liveliness_protection_kind>ENCRYPT</liveliness_protection_kind>
      <rtps_protection_kind>SIGN</rtps_protection_kind>
      <topic_access_rules>
        <topic_rule>
          <topic_expression>*</topic_expression>
          <enable_discovery_protection>true</enable_discovery_protection>
          <enable_liveliness_protection>true</enable_liveliness_protection>
          <enable_read_access_control>true</enable_read_access_control>
          <enable_write_access_control>true</enable_write_access_control>
          <metadata_protection_kind>ENCRYPT</metadata_protection_kind>
          <data_protection_kind>ENCRYPT</data_protection_kind>
        </topic_rule>
      </topic_access_rules>
    </domain_rule>
  </domain_access_rules>
</dds>
"""


def permissions_xml(node: str, domains: tuple[int, int], not_before: dt.datetime, not_after: dt.datetime) -> str:
    pub, sub = rules(node)
    fmt = "%Y-%m-%dT%H:%M:%S"
    topics = lambda names: "".join(f"<topic>{t}</topic>" for t in names)  # noqa: E731
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<dds xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"
     xsi:noNamespaceSchemaLocation="http://www.omg.org/spec/DDS-SECURITY/20170901/omg_shared_ca_permissions.xsd">
  <permissions>
    <grant name="{ENCLAVES[node]}">
      <subject_name>CN={ENCLAVES[node]}</subject_name>
      <validity><not_before>{not_before.strftime(fmt)}</not_before><not_after>{not_after.strftime(fmt)}</not_after></validity>
      <allow_rule>
        <domains><id_range><min>{domains[0]}</min><max>{domains[1]}</max></id_range></domains>
        <publish><topics>{topics(pub)}</topics></publish>
        <subscribe><topics>{topics(sub)}</topics></subscribe>
      </allow_rule>
      <default>DENY</default>
    </grant>
  </permissions>
</dds>
"""


# ---------------------------------------------------------------------------- cryptography
def _name(cn: str):
    from cryptography import x509
    from cryptography.x509.oid import NameOID

    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def _cert(subject: str, key, issuer: str, issuer_key, days: int, ca: bool):
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes

    now = dt.datetime.now(dt.UTC)
    builder = (x509.CertificateBuilder().subject_name(_name(subject)).issuer_name(_name(issuer))
               .public_key(key.public_key()).serial_number(x509.random_serial_number())
               .not_valid_before(now - dt.timedelta(minutes=5)).not_valid_after(now + dt.timedelta(days=days))
               .add_extension(x509.BasicConstraints(ca=ca, path_length=1 if ca else None), critical=True))
    return builder.sign(issuer_key, hashes.SHA256())


def _pem_key(key) -> bytes:
    from cryptography.hazmat.primitives import serialization

    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


def _pem_cert(cert) -> bytes:
    from cryptography.hazmat.primitives import serialization

    return cert.public_bytes(serialization.Encoding.PEM)


def smime_sign(data: bytes, cert, key) -> bytes:
    """S/MIME (PKCS#7, detached, text) signature of `data`, as `openssl smime -sign -text` and sros2 write."""
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.serialization import pkcs7

    return (pkcs7.PKCS7SignatureBuilder().set_data(data).add_signer(cert, key, hashes.SHA256())
            .sign(serialization.Encoding.SMIME, [pkcs7.PKCS7Options.DetachedSignature, pkcs7.PKCS7Options.Text]))


def create_keystore(out: Path, domains: tuple[int, int] = (0, 232), days: int = 365,
                    nodes=tuple(CONTRACT)) -> Path:
    """Write the keystore (see the module docstring); refuses to overwrite an existing one."""
    from cryptography.hazmat.primitives.asymmetric import ec

    out = Path(out)
    if out.exists() and any(out.iterdir()):
        raise FileExistsError(f"{out} exists and is not empty: refusing to overwrite a keystore")
    for sub in ("public", "private", "enclaves"):
        (out / sub).mkdir(parents=True, exist_ok=True)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_cn = "fog sros2 CA"
    ca = _cert(ca_cn, ca_key, ca_cn, ca_key, days, ca=True)
    for role in ("ca", "identity_ca", "permissions_ca"):
        (out / "public" / f"{role}.cert.pem").write_bytes(_pem_cert(ca))
        (out / "private" / f"{role}.key.pem").write_bytes(_pem_key(ca_key))
        (out / "private" / f"{role}.key.pem").chmod(0o600)
    governance = governance_xml(domains).encode()
    (out / "enclaves" / "governance.xml").write_bytes(governance)
    governance_p7s = smime_sign(governance, ca, ca_key)
    (out / "enclaves" / "governance.p7s").write_bytes(governance_p7s)
    now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    for node in nodes:
        enclave = ENCLAVES[node]
        d = out / "enclaves" / enclave.strip("/")
        d.mkdir(parents=True, exist_ok=True)
        key = ec.generate_private_key(ec.SECP256R1())
        cert = _cert(enclave, key, ca_cn, ca_key, days, ca=False)
        (d / "key.pem").write_bytes(_pem_key(key))
        (d / "key.pem").chmod(0o600)
        (d / "cert.pem").write_bytes(_pem_cert(cert))
        shutil.copyfile(out / "public" / "identity_ca.cert.pem", d / "identity_ca.cert.pem")
        shutil.copyfile(out / "public" / "permissions_ca.cert.pem", d / "permissions_ca.cert.pem")
        (d / "governance.p7s").write_bytes(governance_p7s)
        perms = permissions_xml(node, domains, now - dt.timedelta(minutes=5), now + dt.timedelta(days=days)).encode()
        (d / "permissions.xml").write_bytes(perms)
        (d / "permissions.p7s").write_bytes(smime_sign(perms, ca, ca_key))
    return out


def fastdds_security_built() -> tuple[bool, str]:
    """Was this environment's Fast DDS built with DDS-Security? Looks for the builtin plugins'
    class ids (DDS:Auth:PKI-DH, DDS:Access:Permissions) in libfastdds; returns (answer, library)."""
    import glob
    import os

    prefixes = [sys.prefix, *os.environ.get("AMENT_PREFIX_PATH", "").split(os.pathsep), *glob.glob("/opt/ros/*")]
    for prefix in prefixes:
        for lib in sorted(glob.glob(os.path.join(prefix, "lib", "libfastdds.so.*"))):
            if os.path.islink(lib):
                continue
            data = Path(lib).read_bytes()
            return b"DDS:Auth:PKI-DH" in data and b"DDS:Access:Permissions" in data, lib
    return False, "libfastdds not found"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="fog security", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)
    init = sub.add_parser("init", help="create the SROS2 keystore (CA, governance, one enclave per node)")
    init.add_argument("--out", required=True, help="keystore folder (must not exist or be empty)")
    init.add_argument("--domain-id", type=int, default=None,
                      help="the only ROS domain the permissions allow (default: every domain 0-232)")
    init.add_argument("--days", type=int, default=365, help="validity of the certificates and permissions")
    sub.add_parser("check", help="say whether this environment's Fast DDS was built with DDS-Security")
    a = p.parse_args(sys.argv[1:] if argv is None else argv)
    if a.cmd == "check":
        ok, where = fastdds_security_built()
        print(f"Fast DDS security plugins {'present' if ok else 'ABSENT'} ({where})")
        return 0 if ok else 1
    domains = (a.domain_id, a.domain_id) if a.domain_id is not None else (0, 232)
    try:
        out = create_keystore(Path(a.out), domains, a.days)
    except FileExistsError as exc:
        print(f"fog security init: {exc}", file=sys.stderr)
        return 2
    print(f"keystore {out}: enclaves {', '.join(ENCLAVES[n] for n in CONTRACT)}; private CA key in {out / 'private'} "
          "(keep it off the robot)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
