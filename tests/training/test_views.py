"""Re-oriented views: numpy and the exported graph's keras.ops agree, and each view undoes."""

from __future__ import annotations

import numpy as np
import pytest

keras = pytest.importorskip("keras", reason="training extras not installed")

from training.views import VIEWS, check_views, undo_view, view, views_of  # noqa: E402

BATCH = np.arange(2 * 4 * 4 * 1, dtype=np.float32).reshape(2, 4, 4, 1)


@pytest.mark.parametrize("name", VIEWS)
def test_graph_and_numpy_views_agree_and_undo(name: str) -> None:
    in_graph = keras.ops.convert_to_numpy(view(keras.ops.convert_to_tensor(BATCH), name, keras.ops))
    np.testing.assert_array_equal(in_graph, view(BATCH, name))
    assert not np.array_equal(view(BATCH, name), BATCH)
    np.testing.assert_array_equal(undo_view(view(BATCH, name), name), BATCH)


def test_views_are_what_their_names_say() -> None:
    image = BATCH[0, :, :, 0]
    mirror, upside_down, quarter_turn = (v[0, :, :, 0] for v in views_of(BATCH, VIEWS)[1:])
    np.testing.assert_array_equal(mirror, image[:, ::-1])
    np.testing.assert_array_equal(upside_down, image[::-1])
    np.testing.assert_array_equal(quarter_turn, np.rot90(image))  # anticlockwise
    assert len(views_of(BATCH, ())) == 1


def test_a_quarter_turn_needs_a_square_input_and_names_are_checked() -> None:
    check_views(VIEWS, (8, 8))
    with pytest.raises(ValueError, match="square"):
        check_views(("quarter_turn",), (8, 6))
    with pytest.raises(ValueError, match="unknown"):
        check_views(("sideways",), (8, 8))
