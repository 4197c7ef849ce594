"""The Go2's LowCmd_/LowState_ CRC, vectorized: precomputed tables instead of a pack + C call per tick.

Unitree's CRC (unitree_sdk2py.utils.crc) packs the message with `struct` (one Python value per
field, 200-300 of them), turns it into 32-bit little-endian words and runs CRC-32 (polynomial
0x04C11DB7, MSB first, 32 bits a step, init 0xFFFFFFFF, no final xor) over every word but the last
(the CRC itself). That costs more than the rest of a 500 Hz bridge tick.

The CRC is affine over GF(2): crc(x) = crc(0) ^ L(x), with L linear. So for two messages of the
same layout, crc(x) = crc(t) ^ L(x ^ t): from a template whose CRC is known, only the words that
differ matter, and L is a sum of per-(word, byte) tables. `LinearCrc` holds those tables (one
(words, 4, 256) uint32 array, built once in ~0.1 s); `LowCmdCrc` keeps the LowCmd_ template (its
constant header, modes, reserves) and folds in the 12 motors' five float32 fields per tick;
`lowstate_crc` packs a LowState_ once into bytes (struct, like the SDK) and applies the tables.
Both agree bit for bit with the SDK's CRC (tests: test/unit/test_go2_crc.py).
"""

from __future__ import annotations

import struct

import numpy as np

POLY = 0x04C11DB7
LOWCMD_FORMAT = "<4B4IH2x" + "B3x5f3I" * 20 + "4B" + "55Bx2I"
"""The SDK's packing of LowCmd_ (812 bytes, 203 words; the last is the CRC)."""
LOWSTATE_FORMAT = "<4B4IH2x" + "13fb3x" + "B3x7fb3x3I" * 20 + "4BiH4b15H" + "8hI41B3xf2b2x2f4h2I"
"""The SDK's packing of LowState_ (1180 bytes)."""
MOTOR_OFFSET, MOTOR_STRIDE = 24, 36
"""LowCmd_ layout: motor i's record starts at byte 24 + 36 i: mode (B, 3 pad), q, dq, tau, kp, kd (f), 3 reserve (I)."""


def crc32_words(words) -> int:
    """Reference (slow) Unitree CRC over uint32 words, as the SDK's _crc_py."""
    crc = 0xFFFFFFFF
    for current in words:
        current = int(current)
        bit = 1 << 31
        for _ in range(32):
            crc = ((crc << 1) & 0xFFFFFFFF) ^ (POLY if crc & 0x80000000 else 0)
            if current & bit:
                crc ^= POLY
            bit >>= 1
    return crc


def _apply(columns: np.ndarray, x: int) -> int:
    """A GF(2) linear map given by its 32 column images, applied to x."""
    out = 0
    for k in range(32):
        if (x >> k) & 1:
            out ^= int(columns[k])
    return out


def _compose(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Column images of a o b."""
    return np.array([_apply(a, int(b[k])) for k in range(32)], dtype=np.uint32)


class LinearCrc:
    """Tables for the CRC of messages of `n_words` CRC'd words: crc(words) = const ^ XOR of table entries."""

    def __init__(self, n_words: int):
        self.n_words = n_words
        # one step on the register: shift 32 times with feedback (S); the data word's injection (D)
        step = np.array([crc32_words_step(1 << k, 0) for k in range(32)], dtype=np.uint32)
        inject = np.array([crc32_words_step(0, 1 << k) for k in range(32)], dtype=np.uint32)
        tables = np.zeros((n_words, 4, 256), dtype=np.uint32)
        values = np.arange(256, dtype=np.uint32)
        power = np.array([1 << k for k in range(32)], dtype=np.uint32)  # S^0
        for i in range(n_words - 1, -1, -1):
            m = _compose(power, inject)  # word i's bits, carried through the n-1-i later steps
            for j in range(4):
                for k in range(8):
                    tables[i, j] ^= ((values >> k) & 1) * m[8 * j + k]
            power = _compose(power, step)
        self.tables = tables
        self.zero = crc32_words([0] * n_words)
        """The CRC of n_words zero words."""

    def crc_of_bytes(self, data: np.ndarray) -> int:
        """CRC of the first n_words little-endian words of `data` (uint8)."""
        b = np.asarray(data, dtype=np.uint8)[: 4 * self.n_words].reshape(self.n_words, 4)
        picked = self.tables[np.arange(self.n_words)[:, None], np.arange(4)[None, :], b]
        return self.zero ^ int(np.bitwise_xor.reduce(picked, axis=None))

    def delta(self, word_index: np.ndarray, delta_words: np.ndarray) -> int:
        """L(x ^ t) restricted to the words `word_index` whose XOR difference is `delta_words`."""
        b = np.ascontiguousarray(delta_words, dtype="<u4").view(np.uint8).reshape(-1, 4)
        picked = self.tables[np.asarray(word_index)[:, None], np.arange(4)[None, :], b]
        return int(np.bitwise_xor.reduce(picked, axis=None))


def crc32_words_step(crc: int, current: int) -> int:
    """One word of the Unitree CRC from register `crc` (a linear map of (crc, current))."""
    bit = 1 << 31
    for _ in range(32):
        crc = ((crc << 1) & 0xFFFFFFFF) ^ (POLY if crc & 0x80000000 else 0)
        if current & bit:
            crc ^= POLY
        bit >>= 1
    return crc


_TABLES: dict[int, LinearCrc] = {}


def tables(n_words: int) -> LinearCrc:
    if n_words not in _TABLES:
        _TABLES[n_words] = LinearCrc(n_words)
    return _TABLES[n_words]


# ----------------------------------------------------------------------------- LowCmd_
def pack_lowcmd(cmd) -> bytes:
    """The SDK's packing of a LowCmd_ (as unitree_sdk2py.utils.crc), for the template."""
    data = [*cmd.head, cmd.level_flag, cmd.frame_reserve, *cmd.sn, *cmd.version, cmd.bandwidth]
    for m in cmd.motor_cmd:
        data += [m.mode, m.q, m.dq, m.tau, m.kp, m.kd, *m.reserve]
    data += [cmd.bms_cmd.off, *cmd.bms_cmd.reserve, *cmd.wireless_remote, *cmd.led, *cmd.fan, cmd.gpio,
             cmd.reserve, cmd.crc]
    return struct.pack(LOWCMD_FORMAT, *data)


class LowCmdCrc:
    """CRC of a LowCmd_ whose only changes from `template` are the motors' q, dq, tau, kp, kd.

    crc(q, dq, tau, kp, kd) takes float arrays (20 slots or `slots` entries) in Unitree motor order.
    """

    N_WORDS = struct.calcsize(LOWCMD_FORMAT) // 4 - 1

    def __init__(self, template, slots=range(20)):
        self.lin = tables(self.N_WORDS)
        raw = np.frombuffer(pack_lowcmd(template), dtype=np.uint8)
        self.template_crc = self.lin.crc_of_bytes(raw)
        self.slots = np.asarray(list(slots), dtype=np.int64)
        first = (MOTOR_OFFSET + MOTOR_STRIDE * self.slots) // 4 + 1  # the word of q in each motor record
        self.word_index = (first[:, None] + np.arange(5)[None, :]).ravel()
        words = raw.view("<u4")
        self.template_words = words[self.word_index].copy()

    def crc(self, q, dq, tau, kp, kd) -> int:
        fields = np.stack([q, dq, tau, kp, kd], axis=1).astype("<f4")  # (slots, 5), as struct packs 'f'
        delta = fields.view("<u4").ravel() ^ self.template_words
        return self.template_crc ^ self.lin.delta(self.word_index, delta)


# --------------------------------------------------------------------------- LowState_
LOWSTATE_WORDS = struct.calcsize(LOWSTATE_FORMAT) // 4 - 1


def pack_lowstate(st) -> bytes:
    imu = st.imu_state
    data = [*st.head, st.level_flag, st.frame_reserve, *st.sn, *st.version, st.bandwidth,
            *imu.quaternion, *imu.gyroscope, *imu.accelerometer, *imu.rpy, imu.temperature]
    for m in st.motor_state:
        data += [m.mode, m.q, m.dq, m.ddq, m.tau_est, m.q_raw, m.dq_raw, m.ddq_raw, m.temperature, m.lost,
                 *m.reserve]
    bms = st.bms_state
    data += [bms.version_high, bms.version_low, bms.status, bms.soc, bms.current, bms.cycle, *bms.bq_ntc,
             *bms.mcu_ntc, *bms.cell_vol, *st.foot_force, *st.foot_force_est, st.tick, *st.wireless_remote,
             st.bit_flag, st.adc_reel, st.temperature_ntc1, st.temperature_ntc2, st.power_v, st.power_a,
             *st.fan_frequency, st.reserve, st.crc]
    return struct.pack(LOWSTATE_FORMAT, *data)


def lowstate_crc(st) -> int:
    """The SDK's CRC of a LowState_ (same value), from one struct pack and the tables."""
    return tables(LOWSTATE_WORDS).crc_of_bytes(np.frombuffer(pack_lowstate(st), dtype=np.uint8))
