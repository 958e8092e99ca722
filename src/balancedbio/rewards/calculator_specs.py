"""Data for :mod:`balancedbio.rewards.calculators`: MedCalc-Bench ids, input generators, checks.

For each driven ``medcalc`` module: the function to call and how to draw a valid random
input dict ((value, unit) tuples, booleans, option strings) from a ``random.Random``.
Units are the ones the modules' own examples use; ranges are clinically plausible.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Mapping
from datetime import date, timedelta
from typing import Any

from balancedbio.rewards.answers import OutputKind

Gen = Callable[[random.Random], Any]

# module -> (MedCalc-Bench calculator id, name, output kind)
BENCH: dict[str, tuple[int, str, OutputKind]] = {
    "creatinine_clearance": (2, "Creatinine Clearance (Cockcroft-Gault Equation)", "decimal"),
    "ckd_epi_2021_creatinine": (3, "CKD-EPI Equations for Glomerular Filtration Rate", "decimal"),
    "cha2ds2_vasc_score": (4, "CHA2DS2-VASc Score for Atrial Fibrillation Stroke Risk", "integer"),
    "mean_arterial_pressure": (5, "Mean Arterial Pressure (MAP)", "decimal"),
    "bmi_calculator": (6, "Body Mass Index (BMI)", "decimal"),
    "calcium_correction": (7, "Calcium Correction for Hypoalbuminemia", "decimal"),
    "wells_criteria_pe": (8, "Wells' Criteria for Pulmonary Embolism", "decimal"),
    "mdrd_gfr": (9, "MDRD GFR Equation", "decimal"),
    "ideal_body_weight": (10, "Ideal Body Weight", "decimal"),
    "qt_calculator_bazett": (11, "QTc Bazett Calculator", "decimal"),
    "estimated_due_date": (13, "Estimated Due Date", "date"),
    "child_pugh_score": (15, "Child-Pugh Score for Cirrhosis Mortality", "integer"),
    "wells_criteria_dvt": (16, "Wells' Criteria for DVT", "integer"),
    "cardiac_risk_index": (17, "Revised Cardiac Risk Index for Pre-Operative Risk", "integer"),
    "heart_score": (18, "HEART Score for Major Cardiac Events", "integer"),
    "fibrosis_4": (19, "Fibrosis-4 (FIB-4) Index for Liver Fibrosis", "decimal"),
    "centor_score": (20, "Centor Score (Modified/McIsaac) for Strep Pharyngitis", "integer"),
    "glasgow_coma_score": (21, "Glasgow Coma Score (GCS)", "integer"),
    "maintenance_fluid_calc": (22, "Maintenance Fluids Calculations", "decimal"),
    "meldna": (23, "MELD Na (UNOS/OPTN)", "decimal"),
    "steroid_conversion": (24, "Steroid Conversion Calculator", "decimal"),
    "has_bled_score": (25, "HAS-BLED Score for Major Bleeding Risk", "integer"),
    "sch": (26, "Sodium Correction for Hyperglycemia", "decimal"),
    "glasgow_bleeding_score": (27, "Glasgow-Blatchford Bleeding Score (GBS)", "integer"),
    "apache_ii": (28, "APACHE II Score", "integer"),
    "psi_score": (29, "PSI Score: Pneumonia Severity Index for CAP", "integer"),
    "sOsm": (30, "Serum Osmolality", "decimal"),
    "homa_ir": (31, "HOMA-IR (Homeostatic Model Assessment for Insulin Resistance)", "decimal"),
    "cci": (32, "Charlson Comorbidity Index (CCI)", "integer"),
    "feverpain": (33, "FeverPAIN Score for Strep Pharyngitis", "integer"),
    "caprini_score": (36, "Caprini Score for Venous Thromboembolism (2005)", "integer"),
    "free_water_deficit": (38, "Free Water Deficit", "decimal"),
    "anion_gap": (39, "Anion Gap", "decimal"),
    "compute_fena": (40, "Fractional Excretion of Sodium (FENa)", "decimal"),
    "sofa": (43, "Sequential Organ Failure Assessment (SOFA) Score", "integer"),
    "ldl_calculated": (44, "LDL Calculated", "decimal"),
    "curb_65": (45, "CURB-65 Score for Pneumonia Severity", "integer"),
    "framingham_risk_score": (
        46,
        "Framingham Risk Score for Hard Coronary Heart Disease",
        "decimal",
    ),
    "perc_rule": (48, "PERC Rule for Pulmonary Embolism", "integer"),
    "mme": (49, "Morphine Milligram Equivalents (MME) Calculator", "decimal"),
    "sirs_criteria": (51, "SIRS Criteria", "integer"),
    "qt_calculator_fredericia": (56, "QTc Fridericia Calculator", "decimal"),
    "qt_calculator_framingham": (57, "QTc Framingham Calculator", "decimal"),
    "qt_calculator_hodges": (58, "QTc Hodges Calculator", "decimal"),
    "qt_calculator_rautaharju": (59, "QTc Rautaharju Calculator", "decimal"),
    "bsa_calculator": (60, "Body Surface Area Calculator", "decimal"),
    "target_weight": (61, "Target weight", "decimal"),
    "adjusted_body_weight": (62, "Adjusted Body Weight", "decimal"),
    "delta_gap": (63, "Delta Gap", "decimal"),
    "albumin_corrected_anion": (65, "Albumin Corrected Anion Gap", "decimal"),
    "albumin_corrected_delta_gap": (66, "Albumin Corrected Delta Gap", "decimal"),
    "albumin_delta_ratio": (67, "Albumin Corrected Delta Ratio", "decimal"),
    "conception_date": (68, "Estimated Date of Conception", "date"),
    "gestational_age": (69, "Estimated Gestational Age", "weeks_days"),
}


# --------------------------------------------------------------------------- input generators


def _q(lo: float, hi: float, unit: str, nd: int = 1) -> Gen:
    """A (value, unit) quantity drawn uniformly, rounded to ``nd`` decimals."""
    return lambda r: (round(r.uniform(lo, hi), nd), unit)


def _n(lo: int, hi: int, unit: str) -> Gen:
    """An integer (value, unit) quantity."""
    return lambda r: (r.randint(lo, hi), unit)


def _b(p: float = 0.35) -> Gen:
    return lambda r: r.random() < p


def _c(*options: Any) -> Gen:
    return lambda r: r.choice(options)


def _date(r: random.Random) -> date:
    return date(2000, 1, 1) + timedelta(days=r.randint(0, 30 * 365))


def _lmp(r: random.Random) -> str:
    return _date(r).strftime("%m/%d/%Y")


def _gestation(r: random.Random) -> dict[str, Any]:
    lmp = _date(r)
    return {
        "current_date": (lmp + timedelta(days=r.randint(7, 300))).strftime("%m/%d/%Y"),
        "menstrual_date": lmp.strftime("%m/%d/%Y"),
    }


def _mme(r: random.Random) -> dict[str, Any]:
    drugs = ["Codeine", "HYDROcodone", "HYDROmorphone", "Methadone", "Morphine"]
    drugs += ["OxyCODONE", "OxyMORphone", "Tapentadol", "TraMADol"]
    out: dict[str, Any] = {}
    for drug in r.sample(drugs, r.randint(1, 3)):
        out[f"{drug} Dose"] = (r.choice([2, 5, 10, 15, 20, 30, 50]), "mg")
        out[f"{drug} Dose Per Day"] = (r.randint(1, 4), "per day")
    return out


def _steroid(r: random.Random) -> dict[str, Any]:
    names = ["Betamethasone IV", "Cortisone PO", "Dexamethasone IV", "Dexamethasone PO"]
    names += ["Hydrocortisone IV", "Hydrocortisone PO", "MethylPrednisoLONE IV"]
    names += ["MethylPrednisoLONE PO", "PrednisoLONE PO", "PredniSONE PO", "Triamcinolone IV"]
    src, dst = r.sample(names, 2)
    return {"input steroid": [src, round(r.uniform(1, 200), 1), "mg"], "target steroid": dst}


AGE, SEX, HR = _n(18, 90, "years"), _c("Male", "Female"), _n(45, 140, "beats per minute")
QT = {"heart_rate": HR, "qt_interval": _n(300, 500, "msec")}
WEIGHT, HEIGHT = _q(45, 140, "kg"), _q(145, 200, "cm")


def _lytes(*, albumin: bool = False, max_hco3: float = 32.0) -> Gen:
    """Na/Cl/HCO3 (mEq/L) with a physiological anion gap of 3-30 (rejection sampling)."""

    def gen(r: random.Random) -> dict[str, Any]:
        while True:
            na, cl, gap = r.uniform(128, 150), r.uniform(92, 112), r.uniform(3, 30)
            hco3 = round(na - cl - gap, 1)
            if 6 <= hco3 <= max_hco3:
                break
        out = {
            "sodium": (round(na, 1), "mEq/L"),
            "chloride": (round(cl, 1), "mEq/L"),
            "bicarbonate": (hco3, "mEq/L"),
        }
        if albumin:
            out["albumin"] = (round(r.uniform(1.5, 5.0), 1), "g/dL")
        return out

    return gen


GCS = {
    "best_eye_response": _c(
        "eyes open spontaneously", "eye opening to verbal command", "eye opening to pain",
        "no eye opening",
    ),
    "best_verbal_response": _c(
        "oriented", "confused", "inappropriate words", "incomprehensible sounds",
        "no verbal response",
    ),
    "best_motor_response": _c(
        "obeys commands", "localizes pain", "withdrawal from pain", "flexion to pain",
        "extension to pain", "no motor response",
    ),
}  # fmt: skip


def _flags(*names: str) -> dict[str, Gen]:
    return {name: _b() for name in names}


# module -> (function name, parameter generators or a whole-dict generator)
INPUTS: dict[str, tuple[str, Mapping[str, Gen] | Gen]] = {
    "bmi_calculator": ("bmi_calculator_explanation", {"weight": WEIGHT, "height": HEIGHT}),
    "bsa_calculator": ("bsa_calculator_explaination", {"weight": WEIGHT, "height": HEIGHT}),
    "ideal_body_weight": ("ibw_explanation", {"height": HEIGHT, "sex": SEX}),
    "adjusted_body_weight": ("abw_explanation", {"weight": WEIGHT, "height": HEIGHT, "sex": SEX}),
    "maintenance_fluid_calc": ("maintenance_fluid_explanation", {"weight": _q(3, 120, "kg")}),
    "mean_arterial_pressure": (
        "mean_arterial_pressure_explanation",
        {"sys_bp": _n(90, 190, "mm hg"), "dia_bp": _n(50, 110, "mm hg")},
    ),
    "anion_gap": ("compute_anion_gap_explanation", _lytes()),
    "delta_gap": ("compute_delta_gap_explanation", _lytes()),
    "albumin_corrected_anion": (
        "compute_albumin_corrected_anion_explanation",
        _lytes(albumin=True),
    ),
    "albumin_corrected_delta_gap": (
        "compute_albumin_corrected_delta_gap_explanation",
        _lytes(albumin=True),
    ),
    # the delta ratio divides by (24 - HCO3): keep HCO3 below 24
    "albumin_delta_ratio": (
        "compute_albumin_delta_ratio_explanation",
        _lytes(albumin=True, max_hco3=22.0),
    ),
    "calcium_correction": (
        "calculate_corrected_calcium_explanation",
        {"albumin": _q(1.5, 5.0, "g/dL"), "calcium": _q(6.5, 11.5, "mg/dL")},
    ),
    "sch": (
        "compute_sodium_correction_hyperglycemia_explanation",
        {"glucose": _q(80, 900, "mg/dL", 0), "sodium": _q(120, 150, "mEq/L")},
    ),
    "sOsm": (
        "compute_serum_osmolality_explanation",
        {
            "bun": _q(5, 80, "mg/dL"),
            "glucose": _q(60, 600, "mg/dL", 0),
            "sodium": _q(128, 150, "mEq/L"),
        },
    ),
    "free_water_deficit": (
        "free_water_deficit_explanation",
        {"sex": SEX, "age": AGE, "weight": WEIGHT, "sodium": _q(141, 170, "mmol/L")},
    ),
    "ldl_calculated": (
        "compute_ldl_explanation",
        {
            "total_cholestrol": _q(140, 300, "mg/dL", 0),
            "hdl_cholestrol": _q(25, 90, "mg/dL", 0),
            "triglycerides": _q(50, 390, "mg/dL", 0),
        },
    ),
    "homa_ir": (
        "compute_homa_ir_explanation",
        {"insulin": _q(2, 60, "µIU/mL"), "glucose": _q(60, 300, "mg/dL", 0)},
    ),
    "compute_fena": (
        "compute_fena_explanation",
        {
            "sodium": _q(128, 150, "mEq/L"),
            "creatinine": _q(0.5, 8.0, "mg/dL", 2),
            "urine_sodium": _q(5, 150, "mmol/L", 0),
            "urine_creatinine": _q(10, 250, "mg/dL", 0),
        },
    ),
    "fibrosis_4": (
        "compute_fib4_explanation",
        {
            "age": AGE,
            "alt": _q(8, 300, "U/L", 0),
            "ast": _q(8, 300, "U/L", 0),
            "platelet_count": _q(40000, 450000, "µL", -3),
        },
    ),
    "ckd_epi_2021_creatinine": (
        "ckd_epi_2021_explanation",
        {"sex": SEX, "age": AGE, "creatinine": _q(0.4, 8.0, "mg/dL", 2)},
    ),
    "mdrd_gfr": (
        "mrdr_gfr_explanation",
        {"sex": SEX, "age": AGE, "creatinine": _q(0.4, 8.0, "mg/dL", 2)},
    ),
    "creatinine_clearance": (
        "generate_cockcroft_gault_explanation",
        {
            "sex": SEX,
            "age": AGE,
            "weight": WEIGHT,
            "height": HEIGHT,
            "creatinine": _q(0.4, 6.0, "mg/dL", 2),
        },
    ),
    "meldna": (
        "compute_meldna_explanation",
        {
            "creatinine": _q(0.6, 4.0, "mg/dL", 2),
            "bilirubin": _q(0.3, 8.0, "mg/dL"),
            "inr": lambda r: round(r.uniform(0.9, 2.5), 1),
            "sodium": _q(120, 145, "mEq/L", 0),
            "dialysis_twice": _b(0.1),
            "cvvhd": _b(0.1),
        },
    ),
    "framingham_risk_score": (
        "framingham_risk_score_explanation",
        {
            "sex": SEX,
            "age": _n(40, 79, "years"),
            "sys_bp": _n(100, 190, "mm hg"),
            "smoker": _b(),
            "bp_medicine": _b(),
            "total_cholestrol": _q(140, 300, "mg/dL", 0),
            "hdl_cholestrol": _q(25, 90, "mg/dL", 0),
        },
    ),
    "qt_calculator_bazett": ("bazett_calculator_explanation", QT),
    "qt_calculator_fredericia": ("fredericia_calculator_explanation", QT),
    "qt_calculator_framingham": ("framingham_calculator_explanation", QT),
    "qt_calculator_hodges": ("hodges_calculator_explanation", QT),
    "qt_calculator_rautaharju": ("rautaharju_calculator_explanation", QT),
    "mme": ("mme_explanation", _mme),
    "steroid_conversion": ("compute_steroid_conversion_explanation", _steroid),
    # medcalc 1.7.0 ADDS (28 - cycle) days for cycles shorter than 28 (its text says
    # "subtract"); only cycles >= 28 days, where its rule is right, are generated.
    "estimated_due_date": (
        "add_40_weeks_explanation",
        {"cycle_length": lambda r: r.randint(28, 35), "menstrual_date": _lmp},
    ),
    "conception_date": (
        "add_2_weeks_explanation",
        {"cycle_length": lambda r: r.randint(21, 35), "menstrual_date": _lmp},
    ),
    "gestational_age": ("compute_gestational_age_explanation", _gestation),
    # rule-based scores
    "cha2ds2_vasc_score": (
        "generate_cha2ds2_vasc_explanation",
        {"age": AGE, "sex": SEX}
        | _flags("chf", "hypertension", "stroke", "tia", "thromboembolism")
        | _flags("vascular_disease", "diabetes"),
    ),
    "curb_65": (
        "curb_65_explanation",
        {
            "age": AGE,
            "sys_bp": _n(70, 180, "mm hg"),
            "dia_bp": _n(40, 110, "mm hg"),
            "respiratory_rate": _n(10, 40, "breaths per minute"),
            "bun": _q(5, 60, "mg/dL", 0),
            "confusion": _b(),
        },
    ),
    "centor_score": (
        "compute_centor_score_explanation",
        {"age": _n(3, 80, "years"), "temperature": _q(36.0, 40.5, "degrees celsius")}
        | _flags("exudate_swelling_tonsils", "tender_lymph_nodes", "cough_absent"),
    ),
    "feverpain": (
        "compute_fever_pain_explanation",
        _flags("symptom_onset", "purulent_tonsils", "fever_24_hours")
        | _flags("severe_tonsil_inflammation", "cough_coryza_absent"),
    ),
    "has_bled_score": (
        "compute_has_bled_score_explanation",
        {"age": AGE, "alcoholic_drinks": lambda r: r.randint(0, 15)}
        | _flags("hypertension", "liver_disease_has_bled", "renal_disease_has_bled", "stroke")
        | _flags("prior_bleeding", "labile_inr", "medications_for_bleeding"),
    ),
    "glasgow_coma_score": ("compute_glasgow_coma_score_explanation", GCS),
    "wells_criteria_pe": (
        "calculate_pe_wells_explanation",
        {"heart_rate": HR}
        | _flags("clinical_dvt", "previous_pe", "previous_dvt", "immobilization_for_3days")
        | _flags("hemoptysis", "surgery_in_past4weeks", "malignancy_with_treatment")
        | _flags("pe_number_one"),
    ),
    "wells_criteria_dvt": (
        "compute_wells_criteria_dvt_explanation",
        _flags("active_cancer", "bedridden_for_atleast_3_days", "major_surgery_in_last_12_weeks")
        | _flags("calf_swelling_3cm", "collateral_superficial_veins", "leg_swollen")
        | _flags("localized_tenderness_on_deep_venuous_system", "pitting_edema_on_symptomatic_leg")
        | _flags("paralysis_paresis_immobilization_in_lower_extreme", "previous_dvt")
        | _flags("alternative_to_dvt_diagnosis"),
    ),
    "perc_rule": (
        "compute_perc_rule_explanation",
        {"age": AGE, "heart_rate": HR, "oxygen_sat": _q(85, 100, "%", 0)}
        | _flags("unilateral_leg_swelling", "hemoptysis", "recent_surgery_or_trauma")
        | _flags("previous_pe", "previous_dvt", "hormonal_use"),
    ),
    "cardiac_risk_index": (
        "compute_cardiac_index_explanation",
        {"pre_operative_creatinine": _q(0.5, 4.0, "mg/dL", 2)}
        | _flags("elevated_risk_surgery", "ischemetic_heart_disease", "congestive_heart_failure")
        | _flags("cerebrovascular_disease", "pre_operative_insulin_treatment"),
    ),
    "child_pugh_score": (
        "compute_child_pugh_score_explanation",
        {
            "bilirubin": _q(0.4, 6.0, "mg/dL"),
            "albumin": _q(1.8, 4.5, "g/dL"),
            "inr": lambda r: round(r.uniform(0.9, 3.5), 1),
            "ascites": _c("Absent", "Slight", "Moderate"),
            "encephalopathy": _c("No Encephalopathy", "Grade 1-2", "Grade 3-4"),
        },
    ),
    "sirs_criteria": (
        "sirs_criteria_explanation",
        {
            "temperature": _q(34.5, 40.5, "degrees celsius"),
            "heart_rate": HR,
            "respiratory_rate": _n(10, 36, "breaths per minute"),
            "wbc": _q(2000, 25000, "µL", -2),
        },
    ),
}

# Known-working but not driven here (many interdependent inputs / option strings).
NOT_DRIVEN = "calculator imports, but no random-input generator is implemented for it yet"

# Textbook cases checked once per process: a calculator that gets one wrong is unsupported,
# since its gold answers would teach the wrong rule. (inputs, is_right, what is expected)
SELF_CHECKS: dict[str, tuple[dict[str, Any], Callable[[Any], bool], str]] = {
    "sirs_criteria": (
        {
            "temperature": (37.0, "degrees celsius"),
            "heart_rate": (70, "beats per minute"),
            "respiratory_rate": (14, "breaths per minute"),
            "wbc": (8000.0, "µL"),
        },
        lambda answer: answer == 0,
        "normal vitals and WBC meet 0 SIRS criteria",
    ),
    "framingham_risk_score": (
        {
            "sex": "Male",
            "age": (55, "years"),
            "sys_bp": (120, "mm hg"),
            "smoker": False,
            "bp_medicine": False,
            "total_cholestrol": (213.0, "mg/dL"),
            "hdl_cholestrol": (50.0, "mg/dL"),
        },
        lambda answer: 0 < answer < 10,
        "a 55-year-old non-smoking man, TC 213, HDL 50, SBP 120 has a 10-year risk of 1-10 %",
    ),
}
