"""Medical text banks for the IFEval conformance cases (English + a few other languages)."""

from __future__ import annotations

EN_SENTENCES: tuple[str, ...] = (
    "Hypertension is a major risk factor for stroke and heart disease.",
    "Dr. Patel recommends checking blood pressure at least twice a year.",
    "Metformin, usually started at 500 mg daily, is first-line therapy for type 2 diabetes.",
    "Common side effects include nausea, diarrhea and abdominal discomfort.",
    "The U.S. Preventive Services Task Force recommends screening adults aged 35 to 70.",
    "Symptoms of influenza, e.g. fever and cough, usually resolve within a week.",
    "Antibiotics do not work against viral infections such as the common cold.",
    "A normal resting heart rate for adults ranges from 60 to 100 beats per minute.",
    "Patients should complete the full course of treatment, i.e. all prescribed doses.",
    "Asthma is a chronic inflammatory disease of the airways.",
    "Vaccination remains the most effective way to prevent measles.",
    "Iron deficiency is the most common cause of anemia worldwide.",
    "The HbA1c test reflects average blood glucose over roughly 3 months.",
    "Regular exercise lowers LDL cholesterol and improves insulin sensitivity.",
    "Seek emergency care if chest pain spreads to the arm or jaw!",
    "Is the rash itchy, painful, or spreading?",
    "Dehydration in infants can develop within hours.",
    "Acetaminophen should not exceed 4 g per day in healthy adults.",
    "Sleep apnea increases the risk of atrial fibrillation.",
    "Early detection of melanoma greatly improves survival.",
    "Folic acid before pregnancy reduces the risk of neural tube defects.",
    "The patient's symptoms improved after 3.5 days of therapy.",
    "Chronic kidney disease is staged by eGFR and albuminuria.",
    'He said, "The pain started yesterday."',
    "Wash your hands for at least 20 seconds.",
    "Type 1 diabetes is an autoimmune condition; it always requires insulin.",
    "Prof. Nguyen's trial enrolled 1,200 participants vs. the planned 1,000.",
    "Blood tests (CBC and CMP) were ordered at 8 a.m. on Monday.",
    "COPD is usually caused by long-term smoking...",
    "What causes migraines? Triggers vary from person to person.",
    "St. John's wort interacts with many drugs, incl. oral contraceptives.",
    "The naïve T cells mature in the thymus.",
)

NO_COMMA_SENTENCES: tuple[str, ...] = tuple(s for s in EN_SENTENCES if "," not in s)

# One or two sentences per language, about the same clinical topics.
FOREIGN: dict[str, str] = {
    "fr": (
        "Le diabète de type 2 est une maladie chronique qui perturbe la régulation du sucre "
        "dans le sang. Une activité physique régulière et une alimentation équilibrée "
        "réduisent le risque de complications."
    ),
    "es": (
        "La hipertensión arterial aumenta el riesgo de infarto y de accidente "
        "cerebrovascular. Es importante medir la presión con regularidad y seguir el "
        "tratamiento indicado por el médico."
    ),
    "de": (
        "Bluthochdruck ist ein wichtiger Risikofaktor für Herzinfarkt und Schlaganfall. "
        "Regelmäßige Bewegung und eine salzarme Ernährung helfen, den Blutdruck zu senken."
    ),
    "it": (
        "L'asma è una malattia infiammatoria cronica delle vie respiratorie. I sintomi "
        "includono tosse, respiro sibilante e difficoltà a respirare."
    ),
    "pt": (
        "A vacinação é a forma mais eficaz de prevenir o sarampo. Os pais devem manter a "
        "caderneta de vacinação das crianças sempre atualizada."
    ),
    "ru": (
        "Гипертония является важным фактором риска инсульта и инфаркта. Регулярные "
        "физические упражнения помогают снизить давление."
    ),
    "hi": (
        "मधुमेह एक दीर्घकालिक बीमारी है जो रक्त में शर्करा के स्तर को प्रभावित करती है। "
        "नियमित व्यायाम और संतुलित आहार से इसे नियंत्रित किया जा सकता है।"
    ),
    "ja": "高血圧は脳卒中や心筋梗塞の主要な危険因子です。"
    "定期的な運動と減塩が血圧の管理に役立ちます。",
    "ar": (
        "ارتفاع ضغط الدم هو عامل خطر رئيسي للسكتة الدماغية وأمراض القلب. ممارسة الرياضة "
        "بانتظام تساعد على خفض ضغط الدم."
    ),
    "ko": (
        "고혈압은 뇌졸중과 심장병의 주요 위험 요인입니다. "
        "규칙적인 운동은 혈압을 낮추는 데 도움이 됩니다."
    ),
}

PROMPTS: tuple[str, ...] = (
    "Explain the main risk factors for type 2 diabetes.",
    "Write a short note for a patient about managing high blood pressure.",
    "Describe the symptoms of influenza and when to see a doctor.",
    "Summarize the benefits of childhood vaccination for parents.",
    "What should a patient know before starting metformin?",
    "Give advice on preventing iron deficiency anemia.",
)

INTROS: tuple[str, ...] = (
    "Sure, here is the information you asked for:",
    "**Answer**",
    "Here's a concise overview.",
    "Certainly!",
)

OUTROS: tuple[str, ...] = (
    "I hope this helps!",
    "Let me know if you have other questions.",
    "*Stay healthy.*",
    "Thanks for asking",
)

KEYWORDS: tuple[str, ...] = (
    "insulin", "blood pressure", "vaccination", "cholesterol", "therapy", "infection",
    "symptoms", "pain", "diabetes", "heart", "treatment", "risk",
)  # fmt: skip

UPPER_WORDS: tuple[str, ...] = (
    "DNA", "HIV", "MRI", "COVID-19", "ICU", "BMI", "LDL", "CT", "ECG", "IMPORTANT",
    "NEVER", "ALWAYS", "DON'T", "U.S.", "NSAIDs", "A", "CANNOT", "WON'T", "HIV/AIDS",
    "(ICU)", "IT'S", "GONNA", "E.G.", "...NOW", "“STOP”", "STAT.",
)  # fmt: skip

# Fragments for fuzzing: abbreviations, quotes, ellipses, contractions, markup.
PIECES = (
    "Dr.", "Smith", "went", "home.", "He", "said", "“Hi.”", '"No."', "U.S.", "e.g.", "etc.",
    "3.5", "mg.", "(see", "above).", "Fig.", "1.", "—", "...", "?", "!", "'ok.'", "«non.»",
    "‘yes.’", "the", "The", "It", "A.", "b.", "\n", "\n\n", "*", "-", "No.", "5", "किताब।",
    "é.", "ÉTÉ.", "DON'T", "can't", "cannot", "HIV/AIDS", "(ICU)", "gonna", "''", "``",
    "--", "vs.", "i.e.", "St.", "Jan.", "a.m.", "[x]", "<<T>>", "naïve", "Ph.D.", ":", ";",
)  # fmt: skip
