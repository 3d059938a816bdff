"""Train the osteoporosis risk model from patient risk factors (no image, no bone density).

    python -m training.train_osteoporosis_risk

Reads ``../shared/data/osteoporosis/tabular/patient_details.csv`` and writes
``runs/osteoporosis_risk/``: ``pipeline.joblib`` (SimpleImputer -> StandardScaler ->
LogisticRegression, refit on every usable row after evaluation), ``report.json`` (cleaning
decisions, cross-validated AUC with confidence intervals, the OST comparison, internal test
figures with counts, and the card prose ``conversion/export_sklearn.py`` copies) and
``parity_rows.npz`` (the internal test rows, for the exporter's sklearn-vs-ONNX check).

Decisions, and why:

* Label: osteoporosis (WHO, ultrasound T <= -2.5) against normal + osteopenia. That is what
  the Osteoporosis Self-assessment Tool screens for, so the comparison is like for like, and it
  is the finding that changes management (refer for densitometry / treat).
* T-score and Z-score are the label's source and never inputs. Free-text medical history is
  not used either: it is 63 spellings of mostly unrelated conditions, and a few entries name a
  previous "osteoporosis"/"osteopenia" (a label leak).
* Rows go through :func:`desktop.core.patient.validate_patient` and
  :func:`~desktop.core.patient.feature_vector`, the app's own code, so a factor is encoded the
  same way in training and in the clinic.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from pathlib import Path
from typing import Any

import joblib
import numpy as np
from sklearn.model_selection import train_test_split

from desktop.core.patient import FEATURE_CATALOGUE, feature_vector, ost_index
from training.evaluation import summarise
from training.osteoporosis_data import choose_features, load_dataset
from training.osteoporosis_evaluation import (
    C_GRID,
    bootstrap,
    cross_validate,
    sens_spec,
    tuned,
)

log = logging.getLogger("training.osteoporosis")
REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_CSV = REPO_ROOT.parent / "shared" / "data" / "osteoporosis" / "tabular" / "patient_details.csv"
LABELS = ("no osteoporosis", "osteoporosis")
# Directions well established in the osteoporosis literature (+1 raises risk); a fitted weight
# pointing the other way is reported in the card, not hidden.
EXPECTED_DIRECTION = {"age": 1, "postmenopausal": 1, "years_since_menopause": 1, "weight_kg": -1, "bmi": -1,
                      "smoker": 1, "history_of_fracture": 1, "family_history": 1, "estrogen_use": -1}


def train(*, csv_path: Path, out_dir: Path, repeats: int, n_boot: int, seed: int, test_fraction: float) -> dict[str, Any]:
    started = time.time()
    data = load_dataset(csv_path)
    records, y = data["records"], data["y"]
    features, dropped = choose_features(records)
    specs = tuple(FEATURE_CATALOGUE[name][0] for name in features)
    # float64 throughout: float32 training would round the imputer and weights the card reproduces.
    x = np.stack([feature_vector(r, specs) for r in records])
    ost = np.array([ost_index(weight_kg=r.weight_kg, age=r.age) for r in records])
    rows = np.arange(y.size)
    dev, test = train_test_split(rows, test_size=test_fraction, stratify=y, random_state=seed)
    log.info("%d patients (%d with osteoporosis); development %d, internal test %d; %d features",
             y.size, int(y.sum()), dev.size, test.size, len(features))

    cv = cross_validate(x[dev], y[dev], ost[dev], repeats=repeats, seed=seed, n_boot=n_boot)
    log.info("CV AUC model %.3f %s vs OST %.3f %s", cv["model_auc"], cv["model_auc_ci95"], cv["ost_auc"], cv["ost_auc_ci95"])
    threshold = cv["threshold_from_oof"]

    dev_model = tuned(seed).fit(x[dev], y[dev])
    p_test = dev_model.predict_proba(x[test])
    test_report = summarise(p_test, y[test], class_names=LABELS, task="binary", threshold=threshold)
    test_report.update(
        comparison_with_ost=bootstrap(y[test], p_test[:, 1], ost[test], n_boot=n_boot, seed=seed + 1),
        ost_below_minus_1=sens_spec(y[test], ost[test] <= -1.0),
        chosen_C=dev_model.best_params_["model__C"],
        patients=[data["ids"][i] for i in test],
    )
    log.info("internal test AUC %.3f (n=%d, %d positive)", test_report["roc_auc"], test.size, int(y[test].sum()))

    final = tuned(seed).fit(x, y)  # evaluation is over: the shipped model learns from every usable row
    out_dir.mkdir(parents=True, exist_ok=True)
    joblib.dump(final.best_estimator_, out_dir / "pipeline.joblib")
    np.savez_compressed(out_dir / "parity_rows.npz", x=x[test].astype(np.float32), ids=np.array([data["ids"][i] for i in test]))

    observed = {name: [round(float(np.nanmin(x[:, j])), 4), round(float(np.nanmax(x[:, j])), 4)] for j, name in enumerate(features)}
    report = {
        "model_id": "osteoporosis_risk",
        "command": "python -m training.train_osteoporosis_risk",
        "data": {"csv": "osteoporosis/tabular/patient_details.csv", "rows": data["n_rows"], "used": int(y.size),
                 "excluded": data["excluded"], "cleaning": data["issues"],
                 "diagnosis_disagrees_with_who_rule_on_t_score": data["label_mismatches"],
                 "class_counts": {LABELS[0]: int((y == 0).sum()), LABELS[1]: int(y.sum())}},
        "label": "osteoporosis = Diagnosis 'osteoporosis' (ultrasound T-score <= -2.5); normal and osteopenia are negative",
        "features": [{**FEATURE_CATALOGUE[n][0].__dict__, "training_range": observed[n]} for n in features],
        "dropped_features": dropped,
        "not_used": {"T-score, Z-score": "they define the label", "Medical History": "free text; some entries name a prior osteoporosis diagnosis (leak)",
                     "Occupation, Daily Eating habits": "not on the app's form; free-text spellings", "Site": "always knee",
                     "Obesity column": "replaced by the BMI >= 30 rule the app applies (they agree on every row)"},
        "split": {"method": f"stratified {int(round(test_fraction * 100))}% patient-level internal test set (one row per patient), seed {seed}",
                  "development": int(dev.size), "internal_test": int(test.size),
                  "development_positive": int(y[dev].sum()), "internal_test_positive": int(y[test].sum())},
        "cross_validation": cv,
        "internal_test": test_report,
        "threshold": threshold,
        "final_model": {"fitted_on": "all usable rows (development + internal test) after evaluation",
                        "n": int(y.size), "C": final.best_params_["model__C"], "C_grid": list(C_GRID),
        "standardised_coefficients": {n: round(float(c), 4) for n, c in zip(features, final.best_estimator_[-1].coef_[0])}},
        "seed": seed,
        "duration_s": round(time.time() - started, 1),
    }
    report["card"] = card_prose(report)
    (out_dir / "report.json").write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    log.info("wrote %s", out_dir)
    return report


def card_prose(report: dict[str, Any]) -> dict[str, Any]:
    """What the model card says in words; every figure is read from this run's report."""
    cv, test, data = report["cross_validation"], report["internal_test"], report["data"]
    n, n_pos = data["used"], data["class_counts"][LABELS[1]]
    ages = next(f["training_range"] for f in report["features"] if f["name"] == "age")
    coefficients = report["final_model"]["standardised_coefficients"]
    against = [FEATURE_CATALOGUE[n][0].label.lower() for n, sign in EXPECTED_DIRECTION.items()
               if n in coefficients and coefficients[n] * sign < -0.1]

    def r2(value: float) -> str:
        return f"{value:.2f}"

    if cv["difference_ci95"][0] > 0:
        verdict = "the model ranks patients better than the two-number OST rule on this data"
    elif cv["difference_ci95"][1] < 0:
        verdict = "the two-number OST rule ranks patients better than the model on this data"
    else:
        verdict = ("the 95% CI of the difference includes zero, so on this data the model is not shown to beat "
                   "the two-number OST rule")
    dropped = ", ".join(f"{FEATURE_CATALOGUE[d['name']][0].label.lower()} ({d['yes']} yes / {d['no']} no)" for d in report["dropped_features"])
    return {
        "name": "Osteoporosis risk from patient data",
        "labels": list(LABELS),
        "positive_label": LABELS[1],
        "threshold_rationale": (
            f"Maximises balanced accuracy on the development set's out-of-fold predictions "
            f"(sensitivity {cv['at_threshold']['sensitivity']}, specificity {cv['at_threshold']['specificity']} there). "
            "The model was fitted with balanced class weights, so its probabilities rank patients but overstate "
            f"the chance of osteoporosis (mean out-of-fold probability {cv['mean_oof_probability']} against a prevalence of {cv['prevalence']})."
        ),
        "data": (f"{data['rows']} patients of one clinic (Gobara knee X-ray osteoporosis database, 'patient details'); "
                 f"{n} used, {n_pos} with osteoporosis. Labels are WHO categories of a quantitative-ultrasound T-score."),
        "split_method": report["split"]["method"] + "; nested repeated stratified 5-fold CV on the development set",
        "intended_use": (
            "Decision support for adults in a clinic: a risk estimate from the patient form to help decide who should be "
            "referred for bone densitometry (DXA). It is not a diagnosis and does not replace a bone density measurement."
        ),
        "comparison_summary": (
            f"Cross-validated ROC AUC {r2(cv['model_auc'])} (95% CI {r2(cv['model_auc_ci95'][0])}-{r2(cv['model_auc_ci95'][1])}) against "
            f"OST {r2(cv['ost_auc'])} ({r2(cv['ost_auc_ci95'][0])}-{r2(cv['ost_auc_ci95'][1])}); difference {cv['difference']:+.2f} "
            f"({cv['difference_ci95'][0]:+.2f} to {cv['difference_ci95'][1]:+.2f}): {verdict}."
        ),
        "what_the_model_cannot_know": [line for line in [
            "Bone density: it never sees a densitometry result or the X-ray. A measured T-score decides the WHO category by rule and outweighs this estimate.",
            "Anything not on the form: glucocorticoids and other medicines besides estrogen, falls, vitamin D, calcium intake, previous DXA results.",
            f"Factors too rare in its data to learn: {dropped}." if dropped else "",
            "Free-text medical history: it is stored with the record but never read by the model.",
            f"Patients unlike its data: ages {ages[0]:g}-{ages[1]:g} years from one clinic; other populations, ethnicities and ages are untested.",
        ] if line],
        "limitations": [
            f"Small single-centre dataset: {n} patients, {n_pos} with osteoporosis; no external validation.",
            "Labels come from quantitative ultrasound T-scores at one site, not from DXA of hip and spine (the reference standard).",
            "Balanced class weights: the probability ranks patients but is not calibrated to a clinic's prevalence.",
            "Men and women are pooled; the OST cut-offs shown for comparison were derived for post-menopausal women.",
            f"Internal test set is small (n={test['n']}, {test['class_counts'][LABELS[1]]} with osteoporosis): its figures are imprecise.",
            "Height, weight, BMI and obesity are tied together (BMI is computed from height and weight), so their separate "
            "shares can point in opposite directions; read them as one body-size effect.",
            *([f"Some fitted directions contradict established knowledge ({', '.join(against)}): with this little data, "
               "single factors are noisy; the overall ranking is what was validated."] if against else []),
            "Unknown answers are imputed with the training mean, which adds nothing to the risk; with many unknowns the estimate rests on the few answers given.",
        ],
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--csv", type=Path, default=DEFAULT_CSV)
    parser.add_argument("--out", type=Path, default=REPO_ROOT / "runs" / "osteoporosis_risk")
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--bootstrap", type=int, default=2000)
    parser.add_argument("--test-fraction", type=float, default=0.2)
    parser.add_argument("--seed", type=int, default=20261124)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s", stream=sys.stdout)
    train(csv_path=args.csv, out_dir=args.out, repeats=args.repeats, n_boot=args.bootstrap, seed=args.seed,
          test_fraction=args.test_fraction)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
