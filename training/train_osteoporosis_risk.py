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
import csv
import json
import logging
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

import joblib
import numpy as np
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV, RepeatedStratifiedKFold, StratifiedKFold, train_test_split
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

from desktop.core import metrics
from desktop.core.patient import FEATURE_CATALOGUE, feature_vector, ost_index, validate_patient, who_category
from training.evaluation import best_balanced_threshold, summarise

log = logging.getLogger("training.osteoporosis")
REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_CSV = REPO_ROOT.parent / "shared" / "data" / "osteoporosis" / "tabular" / "patient_details.csv"
LABELS = ("no osteoporosis", "osteoporosis")
# Risk factors of the original form (T/Z-score excluded: they are the label).
CANDIDATES = (
    "age", "female", "postmenopausal", "years_since_menopause", "height_m", "weight_kg", "bmi", "obese",
    "smoker", "alcoholic", "diabetic", "hypothyroidism", "pregnancies", "seizure_disorder", "estrogen_use",
    "history_of_fracture", "dialysis", "family_history", "walking_distance_km", "joint_pain",
)
# A yes/no factor seen fewer times than this (in either answer) cannot be learned from 190
# patients; the rule counts answers only, never outcomes, so it leaks nothing.
MIN_MINORITY = 5
AGE_PLAUSIBLE = (18.0, 100.0)  # the README's ages 17 and 107 "under osteoporosis" are entry errors
C_GRID = tuple(float(c) for c in np.logspace(-3, 1, 9))
# Directions well established in the osteoporosis literature (+1 raises risk); a fitted weight
# pointing the other way is reported in the card, not hidden.
EXPECTED_DIRECTION = {"age": 1, "postmenopausal": 1, "years_since_menopause": 1, "weight_kg": -1, "bmi": -1,
                      "smoker": 1, "history_of_fracture": 1, "family_history": 1, "estrogen_use": -1}


def make_pipeline(c: float = 1.0) -> Pipeline:
    """Mean imputation: an unknown answer then sits at the scaler's mean and adds exactly 0 to the log-odds."""
    return Pipeline([
        ("impute", SimpleImputer(strategy="mean")),
        ("scale", StandardScaler()),
        ("model", LogisticRegression(C=c, class_weight="balanced", max_iter=5000)),  # L2 is the default penalty
    ])


def tuned(seed: int) -> GridSearchCV:
    """C chosen by an inner stratified 5-fold CV on the training part only (nested CV)."""
    return GridSearchCV(make_pipeline(), {"model__C": list(C_GRID)}, scoring="roc_auc",
                        cv=StratifiedKFold(5, shuffle=True, random_state=seed), n_jobs=1)


def clean_row(row: dict[str, str]) -> tuple[dict[str, Any], list[dict[str, str]]]:
    """One CSV row as the form's values, plus a note for every value changed."""
    issues: list[dict[str, str]] = []
    pid = row["Patient Id"]
    female = row["Gender"].strip().lower() == "female"
    values: dict[str, Any] = {name: row[column] for name, column in (
        ("joint_pain", "Joint Pain"), ("smoker", "Smoker"), ("alcoholic", "Alcoholic"), ("diabetic", "Diabetic"),
        ("hypothyroidism", "Hypothyroidism"), ("seizure_disorder", "Seizer Disorder"), ("dialysis", "Dialysis"),
        ("family_history", "Family History of Osteoporosis"))}
    values.update(
        patient_id=pid, gender=row["Gender"], age=row["Age"], height_m=row["height (meter)"], weight_kg=row["Weight (KG)"],
        walking_distance_km=row["Maximum Walking distance (km)"], medical_history=row["Medical History"],
        t_score=row["T-score Value"], z_score=row["Z-Score Value"],
        # The column holds the fracture site ("R.foot", "vertebral"...) or "no": any site means yes.
        history_of_fracture="no" if row["History of Fracture"].strip().lower() == "no" else "yes",
    )
    if female:
        values["estrogen_use"] = row["Estrogen Use"]
        values["pregnancies"] = row["Number of Pregnancies"]
        # The form left menopause age blank for women not yet menopausal (aged 25-56 here).
        values["postmenopausal"] = "yes" if row["Menopause Age"].strip() else "no"
        values["menopause_age"] = row["Menopause Age"]
        if values["menopause_age"] and float(values["menopause_age"]) > float(row["Age"]):
            issues.append({"patient": pid, "field": "menopause_age", "value": row["Menopause Age"],
                           "action": "menopause age above age: kept post-menopausal, age at menopause unknown (imputed)"})
            values["menopause_age"] = ""
    elif row["Number of Pregnancies"].strip():
        issues.append({"patient": pid, "field": "pregnancies", "value": row["Number of Pregnancies"],
                       "action": "pregnancies recorded for a man: ignored (men carry 0)"})
    # The data's weight class must agree with the BMI rule the app applies, or the app would disagree with training.
    category = row["Obesity"].strip().lower().replace(" ", "")
    if (category == "obesity") != (float(row["BMI"]) >= 30.0):
        issues.append({"patient": pid, "field": "obesity", "value": row["Obesity"], "action": "kept the BMI rule"})
    return values, issues


def load_dataset(csv_path: Path) -> dict[str, Any]:
    """Clean rows -> records -> feature matrix, label, OST; every exclusion is counted."""
    rows = list(csv.DictReader(csv_path.open(encoding="utf-8")))
    if len({r["Patient Id"] for r in rows}) != len(rows):
        raise ValueError("patient ids repeat: the split would not be patient-level")
    records, labels, ids, issues, excluded = [], [], [], [], []
    label_mismatches = 0
    for row in rows:
        values, row_issues = clean_row(row)
        age = float(row["Age"])
        if not AGE_PLAUSIBLE[0] <= age <= AGE_PLAUSIBLE[1]:
            excluded.append({"patient": row["Patient Id"], "age": age, "diagnosis": row["Diagnosis"],
                             "reason": "implausible age (likely entry error); its OST would be wrong too"})
            continue
        record, errors = validate_patient(values)
        if record is None:
            raise ValueError(f"row {row['Patient Id']} fails validation after cleaning: {errors}")
        diagnosis = row["Diagnosis"].strip().lower()
        label_mismatches += who_category(record.t_score) != diagnosis
        records.append(record)
        labels.append(int(diagnosis == "osteoporosis"))
        ids.append(row["Patient Id"])
        issues.extend(row_issues)
    return {"records": records, "y": np.array(labels), "ids": ids, "issues": issues, "excluded": excluded,
            "n_rows": len(rows), "label_mismatches": label_mismatches}


def choose_features(records: list) -> tuple[list[str], list[dict[str, Any]]]:
    specs = tuple(FEATURE_CATALOGUE[name][0] for name in CANDIDATES)
    matrix = np.stack([feature_vector(r, specs) for r in records])
    kept, dropped = [], []
    for j, spec in enumerate(specs):
        column = matrix[:, j][~np.isnan(matrix[:, j])]
        if spec.kind == "binary":
            minority = int(min((column == 1).sum(), (column == 0).sum()))
            if minority < MIN_MINORITY:
                dropped.append({"name": spec.name, "yes": int((column == 1).sum()), "no": int((column == 0).sum()),
                                "reason": f"fewer than {MIN_MINORITY} patients in one answer"})
                continue
        kept.append(spec.name)
    return kept, dropped


def bootstrap(y: np.ndarray, model_scores: np.ndarray, ost_scores: np.ndarray, *, n_boot: int, seed: int) -> dict[str, Any]:
    """Patient-level bootstrap of out-of-fold scores: AUC(model, mean over repeats), AUC(-OST), difference."""
    model_scores = np.atleast_2d(model_scores)
    rng = np.random.default_rng(seed)
    point_model = float(np.mean([metrics.roc_auc(y, s) for s in model_scores]))
    point_ost = metrics.roc_auc(y, -ost_scores)
    draws = []
    while len(draws) < n_boot:
        idx = rng.integers(0, y.size, y.size)
        if y[idx].min() == y[idx].max():
            continue  # a resample without both classes has no AUC
        auc_m = float(np.mean([metrics.roc_auc(y[idx], s[idx]) for s in model_scores]))
        auc_o = metrics.roc_auc(y[idx], -ost_scores[idx])
        draws.append((auc_m, auc_o, auc_m - auc_o))
    d = np.array(draws)

    def ci(col: int) -> list[float]:
        return [round(float(v), 4) for v in np.percentile(d[:, col], [2.5, 97.5])]

    return {
        "model_auc": round(point_model, 4), "model_auc_ci95": ci(0),
        "ost_auc": round(point_ost, 4), "ost_auc_ci95": ci(1),
        "difference": round(point_model - point_ost, 4), "difference_ci95": ci(2),
        "share_of_resamples_model_better": round(float(np.mean(d[:, 2] > 0)), 4),
        "n_bootstrap": n_boot,
    }


def sens_spec(y: np.ndarray, positive: np.ndarray) -> dict[str, Any]:
    tp, fn = int((positive & (y == 1)).sum()), int((~positive & (y == 1)).sum())
    tn, fp = int((~positive & (y == 0)).sum()), int((positive & (y == 0)).sum())
    return {"sensitivity": round(tp / (tp + fn), 4) if tp + fn else None, "specificity": round(tn / (tn + fp), 4) if tn + fp else None,
            "counts": {"true_positive": tp, "false_negative": fn, "true_negative": tn, "false_positive": fp}}


def cross_validate(x: np.ndarray, y: np.ndarray, ost: np.ndarray, *, repeats: int, seed: int, n_boot: int) -> dict[str, Any]:
    """Nested, repeated stratified 5-fold CV on the development rows; OST scored on the same folds."""
    folds = RepeatedStratifiedKFold(n_splits=5, n_repeats=repeats, random_state=seed)
    oof = np.full((repeats, y.size), np.nan)
    fold_model, fold_ost, chosen_c = [], [], []
    for k, (train, held) in enumerate(folds.split(x, y)):
        search = tuned(seed + k).fit(x[train], y[train])
        oof[k // 5, held] = search.predict_proba(x[held])[:, 1]
        chosen_c.append(search.best_params_["model__C"])
        fold_model.append(metrics.roc_auc(y[held], oof[k // 5, held]))
        fold_ost.append(metrics.roc_auc(y[held], -ost[held]))
    per_repeat = [metrics.roc_auc(y, row) for row in oof]
    mean_oof = oof.mean(axis=0)
    threshold = best_balanced_threshold(mean_oof, y)
    return {
        "scheme": f"stratified 5-fold x {repeats} repeats on the development set; C tuned inside each training fold",
        "ci_method": "patient-level bootstrap (percentile) of the pooled out-of-fold scores; model AUC = mean over repeats",
        **bootstrap(y, oof, ost, n_boot=n_boot, seed=seed),
        "model_auc_per_repeat_range": [round(min(per_repeat), 4), round(max(per_repeat), 4)],
        "mean_fold_auc": {"model": round(float(np.mean(fold_model)), 4), "ost": round(float(np.mean(fold_ost)), 4),
                          "folds_model_better": int(np.sum(np.array(fold_model) > np.array(fold_ost))), "folds": len(fold_model)},
        "chosen_C": dict(sorted(Counter(round(c, 4) for c in chosen_c).items())),
        "threshold_from_oof": threshold,
        "at_threshold": sens_spec(y, mean_oof >= threshold),
        "ost_below_minus_1": sens_spec(y, ost <= -1.0),
        "mean_oof_probability": round(float(mean_oof.mean()), 4),
        "prevalence": round(float(y.mean()), 4),
    }


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
