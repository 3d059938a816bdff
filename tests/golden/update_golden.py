"""Record what each shipped image model says about its bundled sample (run after re-exporting).

    python tests/golden/update_golden.py
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from desktop.core.familiarity import UNFAMILIAR_WARNING  # noqa: E402
from desktop.core.imaging import load_image  # noqa: E402
from desktop.inference.predictor import predict_image  # noqa: E402
from desktop.inference.registry import ModelRegistry  # noqa: E402
from desktop.paths import samples_dir  # noqa: E402

GOLDEN = Path(__file__).with_name("shipped_models.json")


def main() -> int:
    registry = ModelRegistry.discover(ROOT / "models")
    golden = {}
    # Diagnosis models and the body-part guard classify a whole image; the joint locator
    # returns boxes and has its own tests.
    for model in (*registry.image_models, *filter(None, [registry.helper("body_part")])):
        sample = model.card.raw.get("sample_image")
        prediction = predict_image(model, load_image(samples_dir() / sample).pixels, with_heatmap=True)
        peak = [float(v) for v in divmod(int(prediction.heatmap.argmax()), prediction.heatmap.shape[1])]
        golden[model.card.id] = {
            "sha256": model.card.sha256,
            "sample_image": sample,
            "label": prediction.label,
            "probabilities": [round(p, 6) for p in prediction.probabilities],
            "derived": {d.id: round(d.probability, 6) for d in prediction.derived},
            "heatmap_shape": list(prediction.heatmap.shape),
            "heatmap_peak_row_col": peak,
            # The familiarity check's verdict on the sample (see desktop/core/familiarity.py).
            "unfamiliar": UNFAMILIAR_WARNING in prediction.warnings,
        }
    GOLDEN.write_text(json.dumps(golden, indent=2) + "\n", encoding="utf-8")
    print(f"wrote {GOLDEN} for {sorted(golden)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
