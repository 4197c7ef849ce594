"""Run an exported policy artifact with onnxruntime: one step per call, recurrent state kept here.

    runtime = PolicyRuntime("artifacts/pushcube")      # loads and checks the artifact
    runtime.reset()                                      # at episode start
    out = runtime.step(rgb_uint8_hxwx3, proprio)         # -> StepOutput(action, surprise)

No rclpy and no torch: this is what runs on the robot, and what `fog export` / `fog validate`
use to check an artifact. Inputs are validated (shape, dtype, NaN/inf) with errors that name the
input; camera images of another size (same aspect ratio) are resized to the policy's input.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from fog_contract.artifact import INPUTS, ONNX_FILE, OUTPUTS, ArtifactError, load_meta
from fog_contract.images import resize_rgb


class PolicyInputError(ValueError):
    """An observation the policy cannot take; the message names the input."""


@dataclass
class StepOutput:
    action: np.ndarray
    """Action in the action space's units, clipped to its bounds, float64 (A,)."""
    surprise: float
    """KL(posterior || prior) of this step (nats)."""
    raw_action: np.ndarray
    """The graph's action before clipping."""


class PolicyRuntime:
    def __init__(self, artifact_dir: str | Path, threads: int = 1):
        import onnxruntime as ort

        self.dir = Path(artifact_dir)
        self.meta = load_meta(self.dir)
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = threads
        opts.inter_op_num_threads = 1
        try:
            self.session = ort.InferenceSession(str(self.dir / ONNX_FILE), opts, providers=["CPUExecutionProvider"])
        except Exception as e:  # onnxruntime raises its own exception types
            raise ArtifactError(f"{self.dir / ONNX_FILE}: onnxruntime cannot load it: {e}") from e
        names_in = [i.name for i in self.session.get_inputs()]
        names_out = [o.name for o in self.session.get_outputs()]
        if names_in != list(INPUTS) or names_out != list(OUTPUTS):
            raise ArtifactError(
                f"{self.dir / ONNX_FILE}: graph inputs {names_in} / outputs {names_out}, "
                f"expected {list(INPUTS)} / {list(OUTPUTS)}"
            )
        img = self.meta["observation"]["image"]
        self.height, self.width = img["height"], img["width"]
        self.proprio_dim = len(self.meta["observation"]["proprio"]["names"])
        self.action_dim = len(self.meta["action"]["names"])
        self.low = np.asarray(self.meta["action"]["low"], dtype=np.float64)
        self.high = np.asarray(self.meta["action"]["high"], dtype=np.float64)
        self.deter_dim, self.stoch_dim = self.meta["state"]["deter"], self.meta["state"]["stoch"]
        self.reset()

    def reset(self) -> None:
        """Forget the recurrent state: the next step starts an episode."""
        self.deter = np.zeros((1, self.deter_dim), np.float32)
        self.stoch = np.zeros((1, self.stoch_dim), np.float32)
        self.prev_action = np.zeros((1, self.action_dim), np.float32)
        self.is_first = True

    def prepare_image(self, rgb: np.ndarray) -> np.ndarray:
        if not isinstance(rgb, np.ndarray) or rgb.dtype != np.uint8 or rgb.ndim != 3 or rgb.shape[2] != 3:
            raise PolicyInputError(
                f"image must be a uint8 (H, W, 3) RGB array, got "
                f"{getattr(rgb, 'dtype', type(rgb))} {getattr(rgb, 'shape', '')}"
            )
        h, w = rgb.shape[:2]
        if h * self.width != w * self.height:
            raise PolicyInputError(
                f"image is {w}x{h}, the policy takes {self.width}x{self.height} (another aspect ratio)"
            )
        return resize_rgb(rgb, self.height, self.width)

    def step(self, rgb: np.ndarray, proprio: np.ndarray | None = None) -> StepOutput:
        image = self.prepare_image(rgb)[None]
        if proprio is None:
            proprio = np.zeros(self.proprio_dim, np.float32)
        proprio = np.asarray(proprio, dtype=np.float32).reshape(-1)
        if proprio.shape[0] != self.proprio_dim:
            raise PolicyInputError(
                f"proprio has {proprio.shape[0]} values, the policy takes {self.proprio_dim} "
                f"({self.meta['observation']['proprio']['names']})"
            )
        if not np.all(np.isfinite(proprio)):
            raise PolicyInputError("proprio contains NaN/inf")
        feeds = {
            "image": image,
            "proprio": proprio[None],
            "deter": self.deter,
            "stoch": self.stoch,
            "prev_action": self.prev_action,
            "is_first": np.array([1.0 if self.is_first else 0.0], np.float32),
        }
        action, deter, stoch, surprise = self.session.run(list(OUTPUTS), feeds)
        if not (np.all(np.isfinite(action)) and np.all(np.isfinite(deter)) and np.all(np.isfinite(stoch))):
            self.reset()
            raise PolicyInputError("the policy produced NaN/inf (state reset)")
        self.deter, self.stoch = deter.astype(np.float32), stoch.astype(np.float32)
        raw = action[0].astype(np.float64)
        clipped = np.clip(raw, self.low, self.high)
        self.prev_action = clipped[None].astype(np.float32)
        self.is_first = False
        return StepOutput(clipped, float(surprise.reshape(-1)[0]), raw)
