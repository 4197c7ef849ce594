"""quadruped_bridge.go2_crc: the table-driven Unitree CRC agrees bit for bit with the SDK's (its C core and
its message CRC) on LowCmd_ and LowState_, and the layouts have the SDK's sizes."""

import ctypes
import struct

import numpy as np
import pytest
from fog_contract.go2 import LIE_POSE
from quadruped_bridge.go2_crc import (
    LOWCMD_FORMAT,
    LOWSTATE_FORMAT,
    LOWSTATE_WORDS,
    LinearCrc,
    LowCmdCrc,
    crc32_words,
    crc32_words_step,
    lowstate_crc,
    pack_lowcmd,
    pack_lowstate,
    tables,
)
from quadruped_bridge.go2_lowlevel import compute_crc, fill_lowstate, new_lowcmd, new_lowstate
from unitree_sdk2py.utils.crc import CRC


def sdk_core(words) -> int:
    """The SDK's own C implementation of the CRC over uint32 words."""
    arr = (ctypes.c_uint32 * len(words))(*[int(w) for w in words])
    return int(CRC().crc_lib.crc32_core(arr, len(words)))


def test_vectorized_crc_tables_agree_with_the_sdk_and_the_reference():
    rng = np.random.default_rng(3)
    lin = LinearCrc(7)
    for _ in range(5):
        words = rng.integers(0, 2**32, size=8, dtype=np.uint64).astype(np.uint32)
        assert lin.crc_of_bytes(words.view(np.uint8)) == crc32_words(words[:7])


def test_reference_crc_is_the_sdks_and_steps_compose():
    rng = np.random.default_rng(0)
    words = rng.integers(0, 2**32, size=9, dtype=np.uint64).astype(np.uint32)
    assert crc32_words(words) == sdk_core(words)
    assert crc32_words([]) == 0xFFFFFFFF  # the initial register, no final xor
    crc = 0xFFFFFFFF
    for w in words:
        crc = crc32_words_step(crc, int(w))
    assert crc == crc32_words(words)
    assert tables(9) is tables(9)  # built once per length
    assert LinearCrc(9).zero == crc32_words([0] * 9)


def test_layouts_have_the_sdks_sizes():
    assert struct.calcsize(LOWCMD_FORMAT) == 812 and struct.calcsize(LOWSTATE_FORMAT) == 1180
    assert len(pack_lowcmd(new_lowcmd())) == 812 and len(pack_lowstate(new_lowstate())) == 1180
    assert LowCmdCrc.N_WORDS == 202 and LOWSTATE_WORDS == 294  # every word but the CRC itself


def test_lowcmd_crc_folds_in_the_motor_fields_like_the_sdk():
    rng = np.random.default_rng(1)
    template = new_lowcmd()
    fast = LowCmdCrc(template, slots=range(12))
    assert fast.template_crc == compute_crc(template)
    for _ in range(3):
        fields = rng.uniform(-5, 5, (5, 12)).astype(np.float32)
        cmd = new_lowcmd()
        for slot in range(12):
            m = cmd.motor_cmd[slot]
            m.q, m.dq, m.tau, m.kp, m.kd = (float(v) for v in fields[:, slot])
        assert fast.crc(*fields) == compute_crc(cmd)
    # a change outside the motors' fields is not in the template: the fast CRC no longer applies
    cmd.level_flag = 0xEE
    assert fast.crc(*fields) != compute_crc(cmd)


@pytest.mark.parametrize("seed", [0, 1])
def test_lowstate_crc_is_the_sdks(seed):
    rng = np.random.default_rng(seed)
    st = fill_lowstate(new_lowstate(), LIE_POSE + rng.normal(0, 0.1, 12), rng.normal(0, 1, 12),
                       rng.normal(0, 3, 12), (1.0, 0.0, 0.0, 0.0), rng.normal(0, 0.1, 3), (0.0, 0.0, 9.8),
                       tick=int(rng.integers(0, 2**31)))
    before = lowstate_crc(st)
    assert before == compute_crc(st)
    st.foot_force[2] += 1  # a field outside the motors: the whole message is packed
    assert lowstate_crc(st) == compute_crc(st) != before
