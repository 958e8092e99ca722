"""Fixed text of instruction items: generic filler sentences, translated responses (for
``language:response_language``) and task templates. Nothing here states an ontology
relation, so none of it can fail the claim check."""

from __future__ import annotations

FILLER = (
    "A careful history and examination guide the assessment.",
    "Care is best coordinated by an experienced specialist team.",
    "Regular follow-up helps to detect complications early.",
    "Families may benefit from genetic counselling and support groups.",
    "Good information helps people make informed choices.",
    "Questions about individual care should be discussed with a clinician.",
    "Management is tailored to the needs of each person.",
    "Reliable sources help people understand the condition.",
)
LANGUAGE_BANK: dict[str, tuple[str, ...]] = {
    "es": (
        "{t} es una condición que requiere una evaluación médica cuidadosa.",
        "El diagnóstico se basa en la historia clínica y en el examen físico.",
        "Los síntomas pueden variar mucho de una persona a otra.",
        "El equipo médico explicará las opciones de tratamiento disponibles.",
        "Es importante acudir a las revisiones periódicas con el especialista.",
        "La familia también puede recibir apoyo y asesoramiento genético.",
        "Ante cualquier duda consulte siempre a su médico.",
    ),
    "fr": (
        "{t} est une affection qui nécessite une évaluation médicale attentive.",
        "Le diagnostic repose sur l'histoire clinique et sur l'examen physique.",
        "Les symptômes peuvent varier beaucoup d'une personne à l'autre.",
        "L'équipe médicale expliquera les options de traitement disponibles.",
        "Il est important de consulter régulièrement le spécialiste.",
        "La famille peut aussi recevoir un soutien et un conseil génétique.",
        "En cas de doute demandez toujours l'avis de votre médecin.",
    ),
    "de": (
        "{t} ist eine Erkrankung, die eine sorgfältige ärztliche Abklärung erfordert.",
        "Die Diagnose beruht auf der Krankengeschichte und der körperlichen Untersuchung.",
        "Die Beschwerden können von Mensch zu Mensch sehr unterschiedlich sein.",
        "Das Behandlungsteam erklärt die verfügbaren Therapiemöglichkeiten.",
        "Regelmäßige Kontrollen bei einer Fachärztin oder einem Facharzt sind wichtig.",
        "Auch die Familie kann Unterstützung und genetische Beratung erhalten.",
        "Bei Fragen wenden Sie sich bitte immer an Ihre Ärztin oder Ihren Arzt.",
    ),
    "it": (
        "{t} è una condizione che richiede un'attenta valutazione medica.",
        "La diagnosi si basa sulla storia clinica e sull'esame obiettivo.",
        "I sintomi possono variare molto da una persona all'altra.",
        "Il team medico spiegherà le possibilità di trattamento disponibili.",
        "È importante sottoporsi a controlli regolari con lo specialista.",
        "Anche la famiglia può ricevere sostegno e consulenza genetica.",
        "In caso di dubbi rivolgersi sempre al proprio medico.",
    ),
    "pt": (
        "{t} é uma condição que exige uma avaliação médica cuidadosa.",
        "O diagnóstico baseia-se na história clínica e no exame físico.",
        "Os sintomas podem variar muito de uma pessoa para outra.",
        "A equipa médica explicará as opções de tratamento disponíveis.",
        "É importante fazer consultas regulares com o especialista.",
        "A família também pode receber apoio e aconselhamento genético.",
        "Em caso de dúvida consulte sempre o seu médico.",
    ),
}
TASKS = (
    "Write a short overview of {t} for a patient information leaflet.",
    "Explain {t} to a first-year medical student.",
    "Summarize the key facts about {t}.",
    "Describe {t} in plain language for a family member.",
)


__all__ = ["FILLER", "LANGUAGE_BANK", "TASKS"]
