"""Cross-entropy that also charges for how far off a wrong grade is.

Plain cross-entropy treats KL grade 4 called 0 like grade 2 called 1; the clinic (and the
quadratic weighted kappa used to judge graders) does not. Adding the expected squared grade
distance under the predicted distribution pulls probability mass towards neighbouring grades
without changing the network: the head stays softmax + dense, so heat maps stay exact.
"""

from __future__ import annotations

import keras
from keras import ops

__all__ = ["GradeDistanceLoss"]


@keras.saving.register_keras_serializable(package="xraydesk")
class GradeDistanceLoss(keras.losses.Loss):
    """Sparse cross-entropy on probabilities + ``weight`` x E[(predicted grade - true grade)^2]."""

    def __init__(self, n_classes: int, weight: float, name: str = "grade_distance", **kwargs):
        super().__init__(name=name, **kwargs)
        self.n_classes, self.weight = n_classes, weight

    def call(self, y_true, y_pred):
        cross_entropy = keras.losses.sparse_categorical_crossentropy(y_true, y_pred)
        grades = ops.cast(ops.arange(self.n_classes), y_pred.dtype)
        true_grade = ops.cast(ops.reshape(y_true, (-1, 1)), y_pred.dtype)
        expected_squared_distance = ops.sum(y_pred * ops.square(grades[None, :] - true_grade), axis=-1)
        return cross_entropy + self.weight * expected_squared_distance

    def get_config(self):
        return {**super().get_config(), "n_classes": self.n_classes, "weight": self.weight}
