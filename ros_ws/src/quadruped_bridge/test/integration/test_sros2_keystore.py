"""`fog security init`: the SROS2 keystore's layout, certificates, signatures and topic contract.

The Fast DDS of the PyPI wheels is built without DDS-Security (HAVE_SECURITY 0, no PKI-DH
plugin in libfastdds), so a secured graph cannot run here; these tests check what the keystore
holds: every certificate verifies against the keystore's CA, every governance/permissions file
is S/MIME-signed by it (checked with the openssl command line, independently of the code that
signed it, and a tampered copy fails), and the permissions follow the topic contract.
"""

import shutil
import subprocess
import sys

import pytest

pytest.importorskip("cryptography", reason="cryptography (requirements.txt) is needed for the keystore")
from cryptography import x509  # noqa: E402
from cryptography.hazmat.primitives.asymmetric import ec  # noqa: E402
from quadruped_bridge.sros2_keystore import CONTRACT, ENCLAVES, may  # noqa: E402

OPENSSL = shutil.which("openssl")


@pytest.fixture(scope="module")
def keystore(tmp_path_factory):
    out = tmp_path_factory.mktemp("sros2") / "keystore"
    proc = subprocess.run([sys.executable, "-m", "quadruped_bridge.sros2_keystore", "init", "--out", str(out),
                           "--domain-id", "42"], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return out


def enclave_dirs(keystore):
    return {node: keystore / "enclaves" / enclave.strip("/") for node, enclave in ENCLAVES.items()}


def test_layout_is_the_one_ros2_expects(keystore):
    for role in ("ca", "identity_ca", "permissions_ca"):
        assert (keystore / "public" / f"{role}.cert.pem").is_file()
        assert (keystore / "private" / f"{role}.key.pem").is_file()
    assert (keystore / "enclaves" / "governance.xml").is_file() and (keystore / "enclaves" / "governance.p7s").is_file()
    for node, d in enclave_dirs(keystore).items():
        names = {p.name for p in d.iterdir()}
        assert names == {"cert.pem", "key.pem", "identity_ca.cert.pem", "permissions_ca.cert.pem", "governance.p7s",
                         "permissions.xml", "permissions.p7s"}, node
        assert (d / "key.pem").stat().st_mode & 0o077 == 0, f"{node}: private key readable by others"
    # a second init must not overwrite the keystore (and its CA)
    again = subprocess.run([sys.executable, "-m", "quadruped_bridge.sros2_keystore", "init", "--out", str(keystore)],
                           capture_output=True, text=True, timeout=120)
    assert again.returncode == 2 and "refusing to overwrite" in again.stderr


def test_certificates_verify_against_the_ca(keystore):
    ca = x509.load_pem_x509_certificate((keystore / "public" / "ca.cert.pem").read_bytes())
    assert ca.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    for node, d in enclave_dirs(keystore).items():
        cert = x509.load_pem_x509_certificate((d / "cert.pem").read_bytes())
        assert cert.subject.rfc4514_string() == f"CN={ENCLAVES[node]}"
        assert cert.issuer == ca.subject
        ca.public_key().verify(cert.signature, cert.tbs_certificate_bytes, ec.ECDSA(cert.signature_hash_algorithm))
        assert (d / "identity_ca.cert.pem").read_bytes() == (keystore / "public" / "ca.cert.pem").read_bytes()
        if OPENSSL:
            res = subprocess.run([OPENSSL, "verify", "-CAfile", str(keystore / "public" / "ca.cert.pem"),
                                  str(d / "cert.pem")], capture_output=True, text=True)
            assert res.returncode == 0, res.stdout + res.stderr


def smime_verify(keystore, p7s):
    return subprocess.run([OPENSSL, "smime", "-verify", "-text", "-in", str(p7s), "-CAfile",
                           str(keystore / "public" / "permissions_ca.cert.pem")], capture_output=True)


@pytest.mark.skipif(OPENSSL is None, reason="needs the openssl command line")
def test_governance_and_permissions_are_signed_by_the_ca(keystore, tmp_path):
    res = smime_verify(keystore, keystore / "enclaves" / "governance.p7s")
    assert res.returncode == 0, res.stderr
    assert res.stdout.replace(b"\r\n", b"\n") == (keystore / "enclaves" / "governance.xml").read_bytes()
    for node, d in enclave_dirs(keystore).items():
        res = smime_verify(keystore, d / "permissions.p7s")
        assert res.returncode == 0, (node, res.stderr)
        assert res.stdout.replace(b"\r\n", b"\n") == (d / "permissions.xml").read_bytes(), node
    # a permissions file edited after signing no longer verifies
    forged = tmp_path / "forged.p7s"
    p7s = (enclave_dirs(keystore)["monitor"] / "permissions.p7s").read_bytes()
    forged.write_bytes(p7s.replace(b"<topic>rt/parameter_events</topic>", b"<topic>rt/cmd_vel_____</topic>", 1))
    assert forged.read_bytes() != p7s
    assert smime_verify(keystore, forged).returncode != 0


def test_governance_encrypts_and_controls_access(keystore):
    text = (keystore / "enclaves" / "governance.xml").read_text()
    for rule in ("<allow_unauthenticated_participants>false", "<enable_join_access_control>true",
                 "<discovery_protection_kind>ENCRYPT", "<enable_read_access_control>true",
                 "<enable_write_access_control>true", "<data_protection_kind>ENCRYPT"):
        assert rule in text


def test_permissions_match_the_topic_contract(keystore):
    perms = {node: (d / "permissions.xml").read_text() for node, d in enclave_dirs(keystore).items()}
    for topic, owner in (("cmd_vel", "fog_policy"), ("joint_commands", "locomotion")):
        for dds in (f"rt/{topic}", f"rt/robot1/{topic}"):
            allowed = sorted(n for n, p in perms.items() if may(p, "publish", dds))
            assert allowed == [owner], f"{dds}: publishers allowed {allowed}"
    assert may(perms["locomotion"], "subscribe", "rt/cmd_vel")
    assert not may(perms["locomotion"], "subscribe", "rt/camera/image_raw")
    for bridge in ("go2_sim", "go2_bridge"):
        assert may(perms[bridge], "subscribe", "rt/joint_commands")
        assert may(perms[bridge], "publish", "rt/joint_states")
        assert may(perms[bridge], "subscribe", "rq/quadruped_bridge/resetRequest")
    assert not may(perms["bag_replay"], "publish", "rt/joint_commands")
    assert may(perms["bag_replay"], "publish", "rt/replay/joint_commands")
    assert may(perms["monitor"], "publish", "rq/quadruped_bridge/estopRequest")
    assert not may(perms["fog_policy"], "publish", "rq/quadruped_bridge/resetRequest")
    for node, p in perms.items():
        assert "<default>DENY</default>" in p and "<min>42</min><max>42</max>" in p, node
    assert set(CONTRACT) == set(ENCLAVES)
