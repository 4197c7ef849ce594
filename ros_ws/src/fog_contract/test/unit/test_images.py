"""fog_contract.images: the one image resize (area averaging) and its input check."""

import numpy as np
import pytest
from fog_contract.images import resize_rgb


def test_resize_is_area_averaging_and_checks_its_input():
    img = np.zeros((4, 4, 3), np.uint8)
    img[:2, :2] = 200  # one bright quadrant
    small = resize_rgb(img, 2)
    assert small.shape == (2, 2, 3) and small[0, 0, 0] == 200 and small[1, 1, 0] == 0
    assert resize_rgb(img, 4) is img
    assert resize_rgb(np.zeros((4, 8, 3), np.uint8), 2, 4).shape == (2, 4, 3)
    with pytest.raises(ValueError, match="HxWx3"):
        resize_rgb(np.zeros((4, 4), np.uint8), 2)


def test_resize_averages_each_block_per_channel():
    img = np.zeros((2, 4, 3), np.uint8)
    img[:, :2, 0] = [[10, 30], [50, 70]]  # left block, red: mean 40
    img[:, 2:, 2] = [[0, 100], [100, 200]]  # right block, blue: mean 100
    out = resize_rgb(img, 1, 2)
    assert out.dtype == np.uint8 and out.shape == (1, 2, 3)
    np.testing.assert_array_equal(out[0], [[40, 0, 0], [0, 0, 100]])


def test_resize_keeps_the_image_when_the_size_matches_and_refuses_other_channel_counts():
    img = np.full((3, 5, 3), 7, np.uint8)
    assert resize_rgb(img, 3, 5) is img
    assert resize_rgb(img, 6, 10).shape == (6, 10, 3)  # upscaling works too
    with pytest.raises(ValueError, match=r"got shape \(4, 4, 4\)"):
        resize_rgb(np.zeros((4, 4, 4), np.uint8), 2)
    with pytest.raises(ValueError, match="HxWx3"):
        resize_rgb(np.zeros((1, 4, 4, 3), np.uint8), 2)
